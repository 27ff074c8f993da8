"""The GAN training loop (DCGAN, AC-GAN, one pair per class), in the airbench style of the classifier engine.

Per-class pairs train together as grouped models (qdcore.train.gan_group): one D and one G update per
group and step, in as few groups as the device's memory allows.

Drawings stay on the device as uint8 and are scaled to [-1, 1] there; real batches are index tensors;
the host syncs only every `log_every` steps. One step is `d_steps` discriminator updates and one
generator update. A fixed noise batch (and for conditional/per-class runs a fixed grid of classes)
is rendered at each epoch end and every `sample_every` steps (a callback). The loop driver
(qdcore.train.loop) owns epochs, logging, stops, the NaN policy (the run fails; the last good epoch's
files and samples stay) and exact resume; this module is the GAN's step.

Under torchrun each rank trains its slice of every global batch (`batch_size` per rank, as for
classifiers) with G and D in DistributedDataParallel; noise is drawn for the whole global batch on every
rank and sliced, so without batch norm in G and without D dropout two ranks take the same steps as one
process with the global batch. Rank 0 alone judges, renders and writes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.data.selection import select_splits
from qdcore.errors import TrainingError
from qdcore.events import Checkpoint, EpochEnd, RunFinished, RunStarted, Samples, Sink, null_sink
from qdcore.train import gan_files as files
from qdcore.train import gan_loss as losses
from qdcore.train.device import Runtime
from qdcore.train.gan_best import BestGenerator
from qdcore.train.gan_config import GanConfig
from qdcore.train.gan_group import PairGroup, pair_bytes, plan_groups
from qdcore.train.gan_pair import Pair, build_pairs, class_head_scores, ema_update, frozen
from qdcore.train.gpudata import seed_for
from qdcore.train.loop import Callback, Loop, Out, Step, means, ranked, update
from qdcore.train.stream import default_budget

_NOISE_STREAM, _ORDER_STREAM, _DROPOUT_STREAM = 11, 12, 13
_FIXED_NOISE, _QUALITY_NOISE = 101, 102


class Diverged(TrainingError):
    """The losses became NaN or infinite (the loop driver's NaN policy; `qd gan train` exits 1)."""

    exit_code = 1


@dataclass
class GanResult:
    """What a GAN run returns: status, summary, per-epoch history and the trained generators."""

    status: str  # done | interrupted
    summary: dict[str, Any]
    history: dict[str, list[float]]
    pairs: list[Pair]
    classes: list[str]
    run_dir: Path | None = None
    run_id: int | None = None


def scale_real(images: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """uint8 rows of the resident set -> float (B, 1, 28, 28) in [-1, 1], on the device."""
    return images.index_select(0, idx).unsqueeze(1).to(torch.float32).div_(127.5).sub_(1.0)


def fixed_noise(cfg: GanConfig, n: int, what: int, device: torch.device) -> torch.Tensor:
    """A noise batch that is the same for every epoch of a run (and for any rerun with the seed)."""
    g = torch.Generator().manual_seed(seed_for(cfg.seed, 0, what))
    return torch.randn(n, cfg.latent_dim, generator=g).to(device)


def render(pairs: list[Pair], z: torch.Tensor, classes_per_row: list[int], cols: int) -> np.ndarray:
    """The sample grid uint8 (rows, cols, 28, 28): one row per class (conditional / per-class) or rows of noise."""
    rows = []
    for r, label in enumerate(classes_per_row):
        pair = next((p for p in pairs if label in p.labels), pairs[0]) if label >= 0 else pairs[0]
        rows.append(pair.sample(z[r * cols:(r + 1) * cols], label))
    return np.stack(rows)


def generate_class(pairs: list[Pair], label: int, z: torch.Tensor) -> np.ndarray:
    """uint8 drawings (n, 28, 28) of one class (any class for a single unconditional pair)."""
    pair = next((p for p in pairs if label in p.labels), pairs[0])
    return np.concatenate([pair.sample(z[i:i + 512], label) for i in range(0, z.shape[0], 512)])


def grid_rows(cfg: GanConfig, classes: list[str]) -> tuple[list[int], list[str]]:
    """Row labels of the sample grid: one row per class where the model knows classes, else four noise rows."""
    if cfg.model == "acgan" or cfg.per_class_gans:
        return list(range(len(classes))), list(classes)
    name = " + ".join(classes) if len(classes) <= 3 else f"{len(classes)} classes"
    return [-1] * 4, [name] * 4


def _modules(pairs: list[Pair]) -> dict[str, dict[str, torch.Tensor]]:
    out = {}
    for k, p in enumerate(pairs):
        out[f"g{k}"] = p.g.state_dict()
        out[f"d{k}"] = p.d.state_dict()
        if p.ema is not None:
            out[f"e{k}"] = p.ema.state_dict()
    return out


def _optimizers(pairs: list[Pair], groups: list[PairGroup]) -> dict[str, dict[str, Any]]:
    # Saved per pair in both cases, so a per-class checkpoint reads the same however its pairs were grouped.
    out = {}
    for k, p in enumerate(pairs):
        if p.opt_g is not None and p.opt_d is not None:  # both or neither (a pair a group trains has none)
            out[f"g{k}"], out[f"d{k}"] = p.opt_g.state_dict(), p.opt_d.state_dict()
    for grp in groups:
        for k, (og, od) in zip(grp.members, grp.optimizer_states()):
            out[f"g{k}"], out[f"d{k}"] = og, od
    return out


def _scalers(pairs: list[Pair], groups: list[PairGroup]) -> list[list[dict] | None]:
    """Per pair [G's, D's] grad-scaler state (None without AMP), however the pairs are grouped."""
    scalers: list[list[dict] | None] = []
    for p in pairs:
        sg, sd = p.scaler_g, p.scaler_d  # both or neither (fp16 AMP)
        scalers.append([sg.state_dict(), sd.state_dict()] if sg is not None and sd is not None else None)
    for grp in groups:
        for k, sc in zip(grp.members, grp.scaler_states()):
            scalers[k] = sc
    return scalers


def _load_pairs(pairs: list[Pair], groups: list[PairGroup], saved: dict[str, Any]) -> None:
    """Weights, optimizer and scaler states of every pair (and group) from a resume checkpoint."""
    opts, scalers = saved.get("optimizers"), saved["state"].get("scalers") or []
    for k, p in enumerate(pairs):
        p.g.load_state_dict(saved["modules"][f"g{k}"])
        p.d.load_state_dict(saved["modules"][f"d{k}"])
        if p.ema is not None:  # a checkpoint from before --g-ema was on starts the average at G
            p.ema.load_state_dict(saved["modules"].get(f"e{k}", saved["modules"][f"g{k}"]))
        if opts and p.opt_g is not None and p.opt_d is not None:
            p.opt_g.load_state_dict(opts[f"g{k}"])
            p.opt_d.load_state_dict(opts[f"d{k}"])
    for grp in groups:
        grp.load_pairs()
        if opts:
            grp.load_optimizer_states([(opts[f"g{k}"], opts[f"d{k}"]) for k in grp.members])
    for p, sc in zip(pairs, scalers):
        if p.scaler_g is not None and p.scaler_d is not None and sc:
            p.scaler_g.load_state_dict(sc[0])
            p.scaler_d.load_state_dict(sc[1])
    for grp in groups:
        grp.load_scaler_states([scalers[k] for k in grp.members if k < len(scalers)])


def _group_pairs(cfg: GanConfig, pairs: list[Pair], rt: Runtime, budget: float | None) -> list[PairGroup]:
    """Per-class pairs in as few grouped models as fit the device (none for a run of one pair)."""
    if not cfg.per_class_gans:
        return []

    # Read after the drawings went to the device, so the free memory left is what the models may use.
    budget = default_budget(rt.device) if budget is None else budget
    return [PairGroup(cfg, [pairs[k] for k in ids], ids, rt)
            for ids in plan_groups(len(pairs), pair_bytes(cfg), budget)]


def train_gan(cfg: GanConfig, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
              run_dir: str | Path | None = None, resume: str | Path | None = None, *, splits=None,
              run_id: int | None = None, judge=None, memory_budget: float | None = None,
              notes: tuple[str, ...] = ()) -> GanResult:
    """Train a GAN as `cfg` says, emitting events to `sink`; `resume` is a run folder to continue.

    notes: lines the run starts with (where its judge came from).
    memory_budget: device bytes per-class pairs may take together (default: half the free memory on CUDA).
    """
    cfg.validate()

    def body(rt: Runtime, emit: Sink) -> GanResult:
        out_dir = Path(run_dir) if run_dir is not None and rt.rank == 0 else None
        result = _train(cfg, rt, emit, should_stop, out_dir, Path(resume) if resume else None, splits, run_id,
                        judge if rt.rank == 0 else None, memory_budget, notes)  # only rank 0 judges, renders, writes
        for p in result.pairs:  # the DDP views go before the group does (see dist.leave)
            p.g_step = p.d_step = None
        return result

    return ranked(cfg.device, cfg.amp, sink, body)


class GanStep(Step):
    """One GAN step: `d_steps` discriminator updates and one generator update on every pair (grouped or not)."""

    curve = "g_loss"
    subject = "the GAN"
    advice = "lower --lr-d/--lr-g or add --label-smoothing"
    failure = Diverged
    fits = "GAN"
    stream, shared_stream = "noise", True  # every rank draws the whole global batch's noise, then takes its slice

    def __init__(self, cfg: GanConfig, rt: Runtime, splits, judge, memory_budget: float | None) -> None:
        self.cfg, self.rt, self.judge = cfg, rt, judge
        self.classes = list(splits.train.classes)
        self.images = torch.as_tensor(np.ascontiguousarray(splits.train.images).reshape(-1, 28, 28)).to(rt.device)
        self.labels = torch.as_tensor(np.asarray(splits.train.labels, np.int64)).to(rt.device)
        self.pairs = build_pairs(cfg, self.classes, self.labels, rt)
        self.n_params = sum(sum(q.numel() for q in m.parameters()) for p in self.pairs for m in (p.g, p.d))
        self.groups = _group_pairs(cfg, self.pairs, rt, memory_budget)
        longest = max(int(p.rows.numel()) for p in self.pairs)
        self.epochs, self.log_every = cfg.epochs, cfg.log_every
        self.steps_per_epoch = max(1, math.ceil(longest / (cfg.batch_size * rt.world_size * cfg.d_steps)))
        self.lr_scale = 1.0
        self.generator: torch.Generator = torch.Generator(device=rt.device)
        self.row_labels, self.row_names = grid_rows(cfg, self.classes)
        self.z_grid = fixed_noise(cfg, len(self.row_labels) * cfg.grid_cols, _FIXED_NOISE, rt.device)
        self.z_quality = fixed_noise(cfg, cfg.quality_n, _QUALITY_NOISE, rt.device)
        self.reference = judge.reference(splits, self.classes) if judge is not None else None

    def lr(self) -> float:
        return self.cfg.lr_g * self.lr_scale

    def _decay(self, step: int) -> None:
        """Both learning rates at `step` (1-based) of the declared schedule: constant, then --lr-decay's fall to 0."""
        total = self.epochs * self.steps_per_epoch
        start = total * (1.0 - self.cfg.lr_decay)
        scale = 1.0 if step <= start else max(0.0, (total - step) / max(total - start, 1.0))
        if scale == self.lr_scale:
            return
        self.lr_scale = scale
        for owner in self.groups or self.pairs:
            for opt, base in ((owner.opt_g, self.cfg.lr_g), (owner.opt_d, self.cfg.lr_d)):
                assert opt is not None  # a trained pair or group has both optimizers
                for group in opt.param_groups:
                    group["lr"] = base * scale

    def export(self) -> None:
        """The grouped models' weights into the per-pair modules that sampling and the run's files read."""
        for grp in self.groups:
            grp.export()

    def begin_epoch(self, epoch: int, restored: bool) -> None:
        cfg, rt = self.cfg, self.rt
        # Restored, rank 0's saved streams are every rank's (dropout masks of ranks > 0 then follow rank 0's
        # stream for the rest of that epoch).
        if not restored:
            torch.manual_seed(seed_for(cfg.seed, epoch, _DROPOUT_STREAM, rt.rank))  # each rank its own masks
            self.generator.manual_seed(seed_for(cfg.seed, epoch, _NOISE_STREAM))
        self.orders = []
        for k, p in enumerate(self.pairs):
            g = torch.Generator().manual_seed(seed_for(cfg.seed, epoch, _ORDER_STREAM * 1000 + k))
            self.orders.append(p.rows[torch.randperm(p.rows.numel(), generator=g).to(rt.device)])
        for grp in self.groups:
            grp.set_orders([self.orders[k] for k in grp.members])

    def step(self, bi: int, step: int) -> Out:
        cfg, rt, batch = self.cfg, self.rt, self.cfg.batch_size
        sums: dict[str, torch.Tensor] = {}

        def add(stats: dict[str, torch.Tensor]) -> None:
            for key, v in stats.items():
                sums[key] = sums[key] + v if key in sums else v

        if cfg.lr_decay:
            self._decay(step)
        smooth_real = 1.0 - cfg.label_smoothing
        if self.groups:
            # One noise draw for every pair (and the whole global batch: each rank keeps its slice), so a
            # pair's noise depends neither on how the pairs are grouped nor on the number of ranks.
            z = torch.randn(cfg.d_steps, batch * rt.world_size, len(self.pairs), cfg.latent_dim, device=rt.device,
                            generator=self.generator)[:, rt.rank * batch:(rt.rank + 1) * batch]
            for grp in self.groups:
                add(grp.step(cfg, rt, self.images, bi, batch, z[:, :, grp.members[0]:grp.members[-1] + 1],
                             smooth_real))
        else:
            for p, order in zip(self.pairs, self.orders):
                add(_step(cfg, rt, p, self.images, self.labels, order, bi, batch, self.generator, smooth_real))
        # Statistics are summed over pairs and counted per pair, however the pairs are grouped.
        return Out(sums, len(self.pairs), batch * cfg.d_steps * len(self.pairs))

    def epoch_end(self, loop: Loop, epoch: int, train: dict[str, Any]) -> dict[str, float]:
        cfg, classes = self.cfg, self.classes
        self.export()
        metrics = {f"train/{k}": v for k, v in means(train).items()}
        metrics["train/throughput"] = train["seen"] / max(loop.st["epoch_seconds"], 1e-9)
        if self.judge is not None:  # rank 0 only (the other ranks get no judge)
            conditional = cfg.per_class_gans or cfg.model == "acgan"
            generated = {c: generate_class(self.pairs, c, self.z_quality) for c in range(len(classes))
                         if conditional or c == 0}
            metrics.update(self.judge.score(self.reference, generated, classes, cfg.collapse_threshold,
                                           conditional=conditional))
        metrics["train/cpu_seconds"] = loop.cpu_seconds()  # judging included: the whole command's cost so far
        return metrics

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        self.export()
        return _modules(self.pairs)

    def optimizers(self) -> dict[str, dict[str, Any]]:
        return _optimizers(self.pairs, self.groups)

    def state(self) -> dict[str, Any]:
        return {"scalers": _scalers(self.pairs, self.groups)}

    def load(self, saved: dict[str, Any], where: Path) -> None:
        _load_pairs(self.pairs, self.groups, saved)


class SampleGrids(Callback):
    """The fixed-noise sample grid every `sample_every` steps and at each epoch end (rank 0; the store keeps them)."""

    key = "samples"

    def __init__(self, step: GanStep) -> None:
        self.step = step

    def _emit(self, loop: Loop, epoch: int, step: int, name: str) -> None:
        if loop.rt.rank == 0:
            # The store's sink keeps each grid as runs/<id>/<name>/epoch_NNNN_sSTEP.npy plus an artifacts row.
            s = self.step
            s.export()
            grid = render(s.pairs, s.z_grid, s.row_labels, s.cfg.grid_cols)  # the fixed noise's drawings
            loop.emit(Samples(epoch, step, grid, list(s.row_names), name=name))

    def on_step(self, loop: Loop, step: int, epoch: int) -> None:
        every = self.step.cfg.sample_every
        if every and step % every == 0:
            self._emit(loop, epoch, step, files.STEP_SAMPLES)

    def on_epoch_end(self, loop: Loop, epoch: int, metrics: dict[str, float]) -> None:
        self._emit(loop, epoch, loop.st["step"], files.SAMPLES_DIR)


class GanFiles(Callback):
    """The run's generators and discriminators after each epoch (model.safetensors; with --keep-generators, all)."""

    key = "files"

    def __init__(self, step: GanStep) -> None:
        self.step = step

    def on_epoch_end(self, loop: Loop, epoch: int, metrics: dict[str, float]) -> None:
        if loop.out_dir is None:
            return
        if self.step.cfg.keep_generators:
            files.write_generators(loop.out_dir, epoch, self.step.pairs)
        path = files.write_model(loop.out_dir, self.step.pairs, epoch)
        loop.emit(Checkpoint(epoch, str(path), True))


class KeepBest(Callback):
    """The best generator so far (qdcore.train.gan_best): a new best's generators go to generators/best.safetensors."""

    key = "best_generator"

    def __init__(self, step: GanStep) -> None:
        self.step, self.keeper = step, BestGenerator(step.cfg.best_by)

    def on_epoch_end(self, loop: Loop, epoch: int, metrics: dict[str, float]) -> None:
        if self.keeper.offer(epoch, metrics) and loop.out_dir is not None:
            files.write_generators(loop.out_dir, epoch, self.step.pairs, best=self.keeper.state())

    def state(self) -> dict[str, Any]:
        return self.keeper.state()

    def load(self, state: dict[str, Any], modules: dict) -> None:
        self.keeper = BestGenerator.from_state(self.keeper.criterion, state)


def _train(cfg: GanConfig, rt: Runtime, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
           resume: Path | None, splits, run_id: int | None, judge, memory_budget: float | None,
           notes: tuple[str, ...] = ()) -> GanResult:
    torch.manual_seed(cfg.seed)
    splits = splits if splits is not None else load_gan_splits(cfg)
    classes, fingerprint = list(splits.train.classes), splits.fingerprint()
    step = GanStep(cfg, rt, splits, judge, memory_budget)
    best = KeepBest(step)
    loop = Loop(step, rt, emit, should_stop, out_dir, [SampleGrids(step), GanFiles(step), best])
    loop.resume(resume, classes, fingerprint, run_id or resume)
    pairs = step.pairs
    if out_dir is not None:
        files.write_meta(out_dir, cfg.to_dict(), classes, pairs[0].g.arch, [p.labels for p in pairs],
                         pairs[0].conditional, step.row_names, run_id, fingerprint)
    info = {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic),
            "classes": len(classes), "judge": getattr(judge, "run_id", None), "world_size": rt.world_size}
    if step.groups:
        info["pairs_per_group"] = [grp.k for grp in step.groups]  # trained one group after another in each step
    status = loop.run(RunStarted(run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.epochs, step.steps_per_epoch,
                                 len(splits.train), fingerprint, info, tuple(notes)))
    step.export()
    history = loop.st["history"]
    summary: dict[str, Any] = {
        **loop.summary(), "model": cfg.model + (" per class" if cfg.per_class_gans else ""), "params": step.n_params,
        "classes": len(classes), "pairs": len(pairs), "num_train": len(splits.train), "num_test": len(splits.test),
        "judge": getattr(judge, "run_id", None), "cpu_seconds": loop.cpu_seconds(), **best.keeper.summary(),
    }
    if step.groups:
        summary["pairs_per_group"] = info["pairs_per_group"]
    if pairs[0].conditional and len(splits.test):  # (a diverged run raised before this)
        # Study 001's discriminator as a classifier: its class head on the test split, as a classifier is scored.
        pairs[0].d.eval()
        summary.update(class_head_scores(pairs[0].d, splits.test, rt.device))
    for key in ("train/g_loss", "train/d_loss", "quality/recognised", "quality/fid", "quality/diversity",
                "quality/nearest", "quality/collapse", "quality/speckle", "quality/speckle_ratio"):
        if history.get(key):
            summary[key.split("/", 1)[1]] = history[key][-1]
    loop.write_history(files.HISTORY_FILE)
    if status == "interrupted":
        loop.interrupted(summary)
    else:
        emit(RunFinished(status, summary))
    return GanResult(status, summary, history, pairs, classes, out_dir, run_id)


def _step(cfg: GanConfig, rt: Runtime, p: Pair, images: torch.Tensor, labels: torch.Tensor, order: torch.Tensor,
          bi: int, batch: int, noise_gen: torch.Generator, smooth_real: float) -> dict[str, torch.Tensor]:
    """d_steps discriminator updates and one generator update on one pair; statistics stay on the device."""
    d_step, opt_d, opt_g = p.d_step, p.opt_d, p.opt_g
    assert d_step is not None and opt_d is not None and opt_g is not None  # a pair trained alone has them (train=True)
    n = order.numel()
    dev = images.device
    stats: dict[str, torch.Tensor] = {}
    world, mine = rt.world_size, slice(rt.rank * batch, (rt.rank + 1) * batch)
    ar = torch.arange(batch, device=dev) + rt.rank * batch
    fake = z = y_fake = None
    for j in range(cfg.d_steps):
        # This rank's slice of the global batch; wrap: smaller classes cycle while the largest finishes.
        pos = ((bi * cfg.d_steps + j) * batch * world + ar) % n
        idx = order.index_select(0, pos)
        x_real = scale_real(images, idx)
        y_real = labels.index_select(0, idx)
        # Noise for the whole global batch on every rank (same stream), then this rank's slice.
        z = torch.randn(batch * world, cfg.latent_dim, device=dev, generator=noise_gen)[mine]
        y_fake = torch.randint(0, p.g.num_classes, (batch * world,), device=dev, generator=noise_gen)[mine] \
            if p.conditional else None
        last = j == cfg.d_steps - 1
        with rt.autocast():
            # Only the last D step's fakes train G: earlier ones skip DDP (a forward without a backward).
            if last:
                fake = p.generate(z, y_fake, p.g_step)
            else:
                with torch.no_grad():
                    fake = p.generate(z, y_fake)
            # D has no batch norm, so real and fake go through it in one call.
            out = d_step(torch.cat([x_real, fake.detach()]))
            src, cls = (out if p.conditional else (out, None))
            src = src.float()
            d_loss = losses.d_loss(cfg.gan_loss, src, batch, smooth_real, cfg.patch_share)
            if cls is not None and y_fake is not None:  # both set exactly when the pair is conditional
                d_loss = d_loss + F.cross_entropy(cls.float(), torch.cat([y_real, y_fake]))
        update(opt_d, p.scaler_d, d_loss)
        with torch.no_grad():
            prob = torch.sigmoid(losses.whole(src))
            stats["d_loss"] = stats.get("d_loss", 0) + d_loss.detach() / cfg.d_steps
            stats["d_real"] = stats.get("d_real", 0) + prob[:batch].mean() / cfg.d_steps
            stats["d_fake"] = stats.get("d_fake", 0) + prob[batch:].mean() / cfg.d_steps
            if cls is not None and y_fake is not None:
                hits = cls.argmax(1) == torch.cat([y_real, y_fake])
                stats["cls_real"] = stats.get("cls_real", 0) + hits[:batch].float().mean() / cfg.d_steps
                stats["cls_fake"] = stats.get("cls_fake", 0) + hits[batch:].float().mean() / cfg.d_steps
    # Generator update on the last D step's fakes (as the PyTorch DCGAN recipe); D's weights need no grads here,
    # so this pass goes through D itself, not its DDP view, and only G's gradients are all-reduced.
    with frozen(p.d):
        with rt.autocast():
            out = p.d(fake)
            src, cls = (out if p.conditional else (out, None))
            g_loss = losses.g_loss(cfg.gan_loss, src.float(), cfg.patch_share)
            if cls is not None and y_fake is not None:
                g_loss = g_loss + F.cross_entropy(cls.float(), y_fake)
        update(opt_g, p.scaler_g, g_loss)
    if p.ema is not None:
        ema_update(p.ema, p.g, cfg.g_ema)
    stats["g_loss"] = g_loss.detach()
    return stats


def epoch_event(epoch: int, step: int, seconds: float, metrics: dict[str, float]) -> EpochEnd:
    """An EpochEnd with metrics keyed 'split/name'."""
    return EpochEnd(epoch, step, seconds, dict(metrics))


def load_gan_splits(cfg: GanConfig):
    """The drawings of a GAN config: select, then split off the real test drawings the quality metrics use."""
    return select_splits(cfg)
