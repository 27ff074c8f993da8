"""K independent DCGAN pairs as one module each for G and D (per-class GANs trained together).

Pair k owns channels [k*C, (k+1)*C) of every layer: convs use groups=K, batch norm runs over K*C channels
(per-channel statistics, so exactly per-pair BN), dense layers are batched matmuls. Every grouped tensor
is the per-pair tensors of `Generator`/`Discriminator` (qdcore.models.gan) concatenated along dim 0 under
the same state-dict keys, so conversion both ways is `cat`/`chunk` (scalars such as BN's
num_batches_tracked are shared). Grouped G: z (B, K, latent) -> (B, K, 28, 28); grouped D: (B, K, 28, 28)
with pair k's drawing in channel k -> source logits (B, K, 1 [+ 49 patches]).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from qdcore.models.gan import LEAK, Generator, Ink, up_layers

State = dict[str, torch.Tensor]


class GroupedLinear(nn.Module):
    """K dense layers: x (B, K, in) -> (B, K, out); weight (K*out, in) is the K nn.Linear weights stacked."""

    def __init__(self, k: int, n_in: int, n_out: int, bias: bool) -> None:
        super().__init__()
        self.k, self.n_in, self.n_out = k, n_in, n_out
        self.weight = nn.Parameter(torch.empty(k * n_out, n_in))
        self.bias = nn.Parameter(torch.empty(k * n_out)) if bias else None
        for i in range(k):  # each pair initialised as nn.Linear would be
            ref = nn.Linear(n_in, n_out, bias=bias)
            with torch.no_grad():
                self.weight[i * n_out:(i + 1) * n_out] = ref.weight
                if self.bias is not None:  # with bias
                    self.bias[i * n_out:(i + 1) * n_out] = ref.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.view(self.k, self.n_out, self.n_in)
        y = torch.einsum("bki,koi->bko", x, w)  # one batched matmul over the K pairs
        return y if self.bias is None else y + self.bias.view(self.k, self.n_out)


class GroupedGenerator(nn.Module):
    """K study-003 generators: z (B, K, latent) -> images (B, K, 28, 28) in [-1, 1]."""

    def __init__(self, k: int, latent_dim: int, width: int, kernel: int, batch_norm: bool,
                 upsample: str = "transposed", out_shift: float = 0.0, out_scale: float = 1.0) -> None:
        super().__init__()
        self.k, self.latent_dim = k, latent_dim
        w, bias = width, not batch_norm
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["dense"] = GroupedLinear(k, latent_dim, 4 * w * 7 * 7, bias)
        layers["flat"] = nn.Flatten(1)  # (B, K, n) -> (B, K*n): BN1d channels pair-major, as the weights
        if batch_norm:
            layers["bn0"] = nn.BatchNorm1d(k * 4 * w * 7 * 7)
        layers["lrelu0"] = nn.LeakyReLU(LEAK)
        layers["reshape"] = nn.Unflatten(1, (k * 4 * w, 7, 7))
        for i, (cin, cout, stride) in enumerate([(4 * w, 2 * w, 1), (2 * w, w, 2), (w, 1, 2)], 1):
            last = i == 3
            layers.update(up_layers(k * cin, k * cout, kernel, stride, bias or last, upsample, groups=k, prefix=str(i)))
            if not last:
                if batch_norm:
                    layers[f"bn{i}"] = nn.BatchNorm2d(k * cout)
                layers[f"lrelu{i}"] = nn.LeakyReLU(LEAK)
        layers["tanh"] = Ink(out_shift, out_scale)
        self.net = nn.Sequential(layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class GroupedDiscriminator(nn.Module):
    """K study-003 discriminators: drawings (B, K, 28, 28) -> source logits (B, K, 1 [+ 49 patches])."""

    def __init__(self, k: int, width: int, kernel: int, dropout: float, patch: bool = False) -> None:
        super().__init__()
        self.k = k
        w, pad = width, kernel // 2
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, (cin, cout) in enumerate([(1, w), (w, 2 * w)], 1):
            layers[f"conv{i}"] = nn.Conv2d(k * cin, k * cout, kernel, 2, pad, groups=k)
            layers[f"lrelu{i}"] = nn.LeakyReLU(LEAK)
            if dropout > 0:
                layers[f"dropout{i}"] = nn.Dropout(dropout)
        layers["flatten"] = nn.Unflatten(1, (k, 2 * w))  # (B, K*2w, 7, 7) -> (B, K, 2w*49) below
        self.body = nn.Sequential(layers)
        self.source = GroupedLinear(k, 2 * w * 7 * 7, 1, True)
        self.patch = nn.Conv2d(k * 2 * w, k, 1, groups=k) if patch else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.body[:-1](x)
        src = self.source(self.body[-1](maps).flatten(2))
        if self.patch is None:
            return src
        return torch.cat([src, self.patch(maps).flatten(2)], 2)


def build_grouped(arch: dict[str, Any], k: int) -> tuple[GroupedGenerator, GroupedDiscriminator]:
    """A grouped (G, D) of k pairs with the architecture `arch` of an unconditional dcgan (Generator.arch)."""
    if arch.get("name") != "dcgan" or int(arch.get("num_classes", 1)) != 1:
        raise ValueError(f"only unconditional dcgan pairs can be grouped, not {arch.get('name')!r}")
    if arch.get("spectral_norm"):
        # torch's spectral norm would take the K pairs' stacked weight as one matrix, not K of them.
        raise ValueError("pairs with a spectrally normalised discriminator cannot be grouped")
    g = GroupedGenerator(k, int(arch["latent_dim"]), int(arch["g_width"]), int(arch["kernel"]),
                         bool(arch["batch_norm"]), str(arch.get("upsample", "transposed")),
                         float(arch.get("out_shift", 0.0)), float(arch.get("out_scale", 1.0)))
    d = GroupedDiscriminator(k, int(arch["d_width"]), int(arch["kernel"]), float(arch["dropout"]),
                             bool(arch.get("patch", False)))
    return g, d


def join_states(states: Sequence[State]) -> State:
    """K per-pair state dicts (or per-parameter optimizer tensors) -> the grouped one: cat along dim 0."""
    first = states[0]
    # 0-d tensors (num_batches_tracked, Adam's step) are the same for pairs trained together: keep pair 0's.
    return {key: (v.clone() if v.ndim == 0 else torch.cat([s[key] for s in states]))
            for key, v in first.items()}


def split_state(state: State, k: int) -> list[State]:
    """The grouped state dict -> K per-pair state dicts (copies, contiguous)."""
    return [{key: (v.clone() if v.ndim == 0 else v.chunk(k)[i].clone()) for key, v in state.items()}
            for i in range(k)]


def from_pairs(gens: Sequence[Generator], discs: Sequence[nn.Module]) -> tuple[GroupedGenerator, GroupedDiscriminator]:
    """A grouped (G, D) holding exactly the weights of the given ordinary pairs."""
    g, d = build_grouped(gens[0].arch, len(gens))
    g.load_state_dict(join_states([m.state_dict() for m in gens]))
    d.load_state_dict(join_states([m.state_dict() for m in discs]))
    return g.to(next(gens[0].parameters()).device), d.to(next(discs[0].parameters()).device)


def to_pairs(g: GroupedGenerator, d: GroupedDiscriminator | None, gens: Sequence[nn.Module],
             discs: Sequence[nn.Module]) -> None:
    """Copy the grouped weights into K ordinary Generator/Discriminator modules (in place; d None: G only)."""
    for m, s in zip(gens, split_state(g.state_dict(), g.k)):
        m.load_state_dict(s)
    for m, s in zip(discs, split_state(d.state_dict(), d.k) if d is not None else []):
        m.load_state_dict(s)


def join_optimizer_states(states: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """K per-pair Adam state dicts -> one for the grouped module (same parameter order, tensors concatenated)."""
    first = states[0]
    joined = {i: join_states([s["state"][i] for s in states]) for i in first["state"]}
    return {"state": joined, "param_groups": first["param_groups"]}


def split_optimizer_state(state: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """The grouped module's Adam state dict -> K per-pair ones, as K separate optimizers would hold."""
    per = {i: split_state(s, k) for i, s in state["state"].items()}
    return [{"state": {i: per[i][j] for i in per}, "param_groups": state["param_groups"]} for j in range(k)]
