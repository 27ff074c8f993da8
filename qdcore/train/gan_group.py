"""Per-class GANs trained together: groups of pairs as one grouped G and D, one D and one G update per group.

Each pair's loss is its own mean loss and the group's loss is their sum, so every pair gets exactly the
gradients it would get alone; Adam is elementwise, so the optimisation is that of K separate pairs. One grad
scaler serves a group under fp16 AMP (a skipped step skips the whole group). Pairs whose parameters, Adam
state and activations would not fit the device together are split into groups trained one after another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from qdcore.models import gan_grouped as gg
from qdcore.train import distributed as dist
from qdcore.train import gan_loss as losses
from qdcore.train.device import Runtime
from qdcore.train.gan_config import GanConfig
from qdcore.train.gan_pair import Pair, ema_copy, ema_update, frozen
from qdcore.train.loop import update

_FLOAT = 4
_PARAM_COPIES = 5  # weight, grad, Adam's two moments, the per-pair copy the run's files are written from


def pair_bytes(cfg: GanConfig) -> int:
    """A rough upper bound of the device bytes one pair needs while it trains at cfg's batch size."""
    w, dw, b = cfg.g_width, cfg.d_width, cfg.batch_size
    lat, kk = cfg.latent_dim, (5 if cfg.kernel is None else cfg.kernel) ** 2
    params = lat * 4 * w * 49 + 4 * w * 2 * w * kk + 2 * w * w * kk + w * kk + 2 * (4 * w * 49 + 3 * w)
    params += dw * kk + dw * 2 * dw * kk + 2 * dw * 49 + 3 * dw
    # Activations kept for backward, G on B and D on 2B real+fake (pre/post norm and activation, dropout masks).
    g_act = b * (3 * 4 * w * 49 + 3 * 2 * w * 49 + 3 * w * 196 + 2 * 784)
    d_act = 2 * b * (784 + 3 * dw * 196 + 3 * 2 * dw * 49)
    return _FLOAT * (_PARAM_COPIES * params + 2 * (g_act + d_act))  # x2: their gradients in backward


def plan_groups(k: int, per_pair: int, budget: float) -> list[list[int]]:
    """Pairs 0..k-1 in as few groups as fit `budget` bytes each, sizes as even as possible (at least one a group)."""
    fit = k if math.isinf(budget) else max(1, min(k, int(budget // max(per_pair, 1))))
    n = math.ceil(k / fit)
    sizes = [k // n + (i < k % n) for i in range(n)]
    starts = [sum(sizes[:i]) for i in range(n)]
    return [list(range(s, s + size)) for s, size in zip(starts, sizes)]


class PairGroup:
    """Some per-class pairs as one grouped G and D with their optimizers; `pairs` hold per-pair copies for files."""

    def __init__(self, cfg: GanConfig, pairs: list[Pair], members: list[int], rt: Runtime) -> None:
        self.pairs, self.members, self.k = pairs, members, len(pairs)  # members: the pairs' places in the run
        self.g, self.d = gg.from_pairs([p.g for p in pairs], [p.d for p in pairs])
        self.ema = ema_copy(self.g) if cfg.g_ema > 0 else None  # the pairs' moving averages, grouped
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr_g, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr_d, betas=cfg.betas)
        self.scaler_g = torch.amp.GradScaler(rt.device.type) if rt.scaler else None
        self.scaler_d = torch.amp.GradScaler(rt.device.type) if rt.scaler else None
        # The training steps go through these (DDP under torchrun, the modules themselves otherwise).
        self.g_step, self.d_step = dist.wrap(self.g, rt.device), dist.wrap(self.d, rt.device)
        self.orders: torch.Tensor | None = None  # (k, longest) shuffled rows, each pair's padded at its end
        self.lengths: torch.Tensor | None = None  # (k,) drawings of each pair

    def set_orders(self, orders: list[torch.Tensor]) -> None:
        """This epoch's shuffled rows of each pair (different lengths)."""
        longest = max(int(o.numel()) for o in orders)
        self.orders = torch.stack([F.pad(o, (0, longest - o.numel())) for o in orders])
        self.lengths = torch.tensor([o.numel() for o in orders], device=orders[0].device)

    def export(self) -> None:
        """Copy the grouped weights into the pairs' ordinary modules (before sampling or writing files)."""
        gg.to_pairs(self.g, self.d, [p.g for p in self.pairs], [p.d for p in self.pairs])
        if self.ema is not None:
            gg.to_pairs(self.ema, None, self.pair_emas(), [])

    def load_pairs(self) -> None:
        """Take the weights of the pairs' ordinary modules (after a checkpoint was loaded into them)."""
        self.g.load_state_dict(gg.join_states([p.g.state_dict() for p in self.pairs]))
        self.d.load_state_dict(gg.join_states([p.d.state_dict() for p in self.pairs]))
        if self.ema is not None:
            self.ema.load_state_dict(gg.join_states([e.state_dict() for e in self.pair_emas()]))

    def pair_emas(self) -> Sequence[torch.nn.Module]:
        """The pairs' moving averages (each pair has one when the group has: --g-ema is the run's)."""
        emas = [p.ema for p in self.pairs if p.ema is not None]
        assert len(emas) == self.k  # the group and its pairs are built from one config
        return emas

    def optimizer_states(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Per pair (G's, D's) Adam state, exactly as a pair's own optimizers would hold it."""
        return list(zip(gg.split_optimizer_state(self.opt_g.state_dict(), self.k),
                        gg.split_optimizer_state(self.opt_d.state_dict(), self.k)))

    def load_optimizer_states(self, states: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """Per pair (G's, D's) Adam state dicts, as saved by optimizer_states or by per-pair optimizers."""
        self.opt_g.load_state_dict(gg.join_optimizer_states([s[0] for s in states]))
        self.opt_d.load_state_dict(gg.join_optimizer_states([s[1] for s in states]))

    def scaler_states(self) -> list[list[dict] | None]:
        """Per pair [G's, D's] grad-scaler state (the group's one, repeated) or None without a scaler."""
        sg, sd = self.scaler_g, self.scaler_d  # both or neither (fp16 AMP)
        one = [sg.state_dict(), sd.state_dict()] if sg is not None and sd is not None else None
        return [one] * self.k

    def load_scaler_states(self, states: list) -> None:
        """The group's scalers from its first pair's saved [G's, D's] state."""
        if self.scaler_g is not None and self.scaler_d is not None and states and states[0]:
            self.scaler_g.load_state_dict(states[0][0])
            self.scaler_d.load_state_dict(states[0][1])

    def step(self, cfg: GanConfig, rt: Runtime, images: torch.Tensor, bi: int, batch: int, z: torch.Tensor,
             smooth_real: float) -> dict[str, torch.Tensor]:
        """d_steps D updates and one G update of every pair; z is (d_steps, batch, k, latent); stats summed over pairs.

        Under torchrun `batch` is this rank's slice of the global batch (rank r takes rows r*batch.. of it).
        """
        dev = images.device
        world = rt.world_size
        ar = torch.arange(batch, device=dev) + rt.rank * batch
        stats: dict[str, torch.Tensor] = {}
        fake = None
        orders, lengths = self.orders, self.lengths
        assert orders is not None and lengths is not None  # set_orders runs at the start of every epoch
        for j in range(cfg.d_steps):
            # The same wrap as one pair alone: a smaller class cycles through its order while the largest finishes.
            pos = ((bi * cfg.d_steps + j) * batch * world + ar).unsqueeze(0) % lengths.unsqueeze(1)
            idx = orders.gather(1, pos).t()  # (batch, k)
            x_real = images[idx].to(torch.float32).div_(127.5).sub_(1.0)
            with rt.autocast():
                # Only the last D step's fakes train G: earlier ones skip DDP (a forward without a backward).
                if j == cfg.d_steps - 1:
                    fake = self.g_step(z[j])
                else:
                    with torch.no_grad():
                        fake = self.g(z[j])
                src = self.d_step(torch.cat([x_real, fake.detach()])).float()
                d_loss = losses.d_loss(cfg.gan_loss, src, batch, smooth_real, cfg.patch_share)
            update(self.opt_d, self.scaler_d, d_loss)
            with torch.no_grad():
                prob = torch.sigmoid(losses.whole(src))
                stats["d_loss"] = stats.get("d_loss", 0) + d_loss.detach() / cfg.d_steps
                stats["d_real"] = stats.get("d_real", 0) + prob[:batch].mean(0).sum() / cfg.d_steps
                stats["d_fake"] = stats.get("d_fake", 0) + prob[batch:].mean(0).sum() / cfg.d_steps
        with frozen(self.d):
            with rt.autocast():
                src = self.d(fake).float()
                g_loss = losses.g_loss(cfg.gan_loss, src, cfg.patch_share)
            update(self.opt_g, self.scaler_g, g_loss)
        if self.ema is not None:
            ema_update(self.ema, self.g, cfg.g_ema)
        stats["g_loss"] = g_loss.detach()
        return stats
