"""The random streams a resume checkpoint carries: the CPU's, CUDA's and one generator's (augmentation, noise)."""

from __future__ import annotations

import torch

from qdcore.train.device import Runtime


def rng_state(rt: Runtime, gen: torch.Generator, name: str) -> dict[str, torch.Tensor]:
    """The streams as tensors (safetensors-ready); `name` is the generator's key."""
    out = {"cpu": torch.get_rng_state(), name: gen.get_state()}
    if rt.device.type == "cuda":
        out["cuda"] = torch.cuda.get_rng_state(rt.device)
    return out


def set_rng_state(rt: Runtime, gen: torch.Generator, rng: dict[str, torch.Tensor], name: str) -> None:
    """Restore what rng_state saved."""
    torch.set_rng_state(rng["cpu"])
    gen.set_state(rng[name])
    if rt.device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], rt.device)
