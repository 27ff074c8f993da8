"""`--batch-size auto`: on CUDA the largest power-of-two batch whose training step fits, with the lr scaled.

The config's lr is the lr at REFERENCE_BATCH (256, the default batch size). A batch B (times the ranks:
the global batch) scales it by B / 256 for SGD (the linear rule, Goyal et al. 2017) and by its square root
for the adaptive optimizers (Adam, AdamW, RMSprop: the square-root rule, Malladi et al. 2022), and a run
that scales the lr up without a warmup gets one (a tenth of the run, at most one epoch). The probe
trains one real step of a throwaway copy of the model at each candidate and reads the peak memory
(torch.cuda.max_memory_allocated); an out-of-memory error or a peak over the budget ends the search.
Elsewhere (CPU, MPS) there is no such probe: auto is the reference batch (fewer where a streaming budget's
chunks hold fewer) and the lr as given.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from qdcore.train import distributed as dist
from qdcore.train.config import TrainConfig
from qdcore.train.device import Runtime

REFERENCE_BATCH = 256  # the batch the config's lr is given for (TrainConfig's default batch size)
MAX_BATCH = 8192
MIN_BATCH = 32
HEADROOM = 0.9  # share of the free memory a step may peak at: the allocator fragments, cuDNN wants workspace


def scaled_lr(lr: float, batch: int, optimizer: str, reference: int = REFERENCE_BATCH) -> float:
    """lr for `batch` given `lr` at `reference`: linear for SGD, square root for Adam, AdamW and RMSprop."""
    ratio = batch / reference
    return lr * (ratio if optimizer.lower() == "sgd" else math.sqrt(ratio))


def candidates(n_train: int, world_size: int = 1, cap: int = MAX_BATCH) -> list[int]:
    """Powers of two from MIN_BATCH up to the cap and to an eighth of each rank's training drawings."""
    top = min(cap, n_train // 8 // max(1, world_size))
    out = [b for b in (2 ** k for k in range(1, 17)) if MIN_BATCH <= b <= top]
    return out or [max(2, 2 ** int(math.log2(max(2, top))))]


def largest_fitting(peak_of: Callable[[int], int | None], sizes: list[int], budget_bytes: float) -> tuple[int, int]:
    """(largest size whose peak_of(size) is within the budget, that peak); sizes ascending, None = out of memory.

    The search stops at the first size that does not fit: a bigger one would not either."""
    best, best_peak = sizes[0], 0
    for b in sizes:
        peak = peak_of(b)
        if peak is None or peak > budget_bytes:
            break
        best, best_peak = b, peak
    return best, best_peak


def cuda_peak(step: Callable[[int], None], device: torch.device) -> Callable[[int], int | None]:
    """b -> the bytes step(b) allocated at its peak on a CUDA device (None when it ran out of memory)."""

    def peak_of(b: int) -> int | None:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        try:
            step(b)
            torch.cuda.synchronize(device)
        except torch.OutOfMemoryError:
            return None
        finally:
            torch.cuda.empty_cache()
        return torch.cuda.max_memory_allocated(device) - before

    return peak_of


def training_step(net: torch.nn.Module, make_opt: Callable[[Any], torch.optim.Optimizer], rt: Runtime,
                  n_classes: int, channels_last: bool) -> Callable[[int], None]:
    """One forward/backward/optimizer step of a copy of `net` at a given batch (`net` itself is not touched)."""

    def step(b: int) -> None:
        copy_ = copy.deepcopy(net)
        opt = make_opt(copy_.parameters())
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        x = torch.zeros(b, 1, 28, 28, device=rt.device).contiguous(memory_format=fmt)
        y = torch.randint(0, n_classes, (b,), device=rt.device)
        with rt.autocast():
            loss = F.cross_entropy(copy_(x).float(), y)
        loss.backward()
        opt.step()
        del copy_, opt, x, y, loss

    return step


def settle(cfg: TrainConfig, step: Callable[[int], None], rt: Runtime, n_train: int, data_bytes: float,
           cap: int = MAX_BATCH) -> tuple[TrainConfig, str]:
    """The config with batch_size and lr (and warmup) as used, and the header note saying how they were chosen.

    step(b) trains one step at batch b (training_step); data_bytes are what the drawings take on the device."""
    if rt.device.type != "cuda":
        b = min(REFERENCE_BATCH, cap)  # a streaming budget may hold fewer
        return cfg.replace(origin="batch auto", batch_size=b), (
            f"batch auto: {b} on {rt.device.type} (the memory probe needs CUDA); lr {cfg.lr:g} as given")

    free, _total = torch.cuda.mem_get_info(rt.device)
    budget = free * HEADROOM - data_bytes
    sizes = candidates(n_train, rt.world_size, cap)
    b, peak = largest_fitting(cuda_peak(step, rt.device), sizes, budget)
    b = dist.all_min(b, rt.device)  # every rank must step the same batch
    lr = scaled_lr(cfg.lr, b * rt.world_size, cfg.optimizer)
    changes: dict[str, float] = {"batch_size": b, "lr": lr}
    warm = ""
    if lr > cfg.lr and cfg.warmup_epochs == 0:
        changes["warmup_epochs"] = min(1.0, cfg.epochs / 10)
        warm = f", warmup {changes['warmup_epochs']:g} epochs"
    rule = "linear" if cfg.optimizer.lower() == "sgd" else "square-root"
    how = (f"the largest power of two up to {sizes[-1]} whose training step fits {budget / 2**30:.1f} GiB "
           f"(it peaked at {peak / 2**30:.2f} GiB)" if peak else
           f"the smallest candidate: no step fitted {budget / 2**30:.1f} GiB")
    note = (f"batch auto: {b} per rank, {how}; lr {cfg.lr:g} -> {lr:.4g} ({rule} rule from batch "
            f"{REFERENCE_BATCH}{warm})")
    return cfg.replace(origin="batch auto", **changes), note
