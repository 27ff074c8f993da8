"""`--batch-size auto`: on CUDA the largest power-of-two batch whose training step fits, with the lr scaled.

The config's lr is the lr at REFERENCE_BATCH (256, the default batch size). A batch B (times the ranks:
the global batch) scales it by B / 256 for SGD (the linear rule, Goyal et al. 2017) and by its square root
for the adaptive optimizers (Adam, AdamW, RMSprop: Hoffer et al. 2017; Malladi et al. 2022), and a run
that scales the lr up without a warmup gets one (a tenth of the run, at most one epoch). The probe
trains one real step of a throwaway copy of the model at each candidate and reads the peak memory
(torch.cuda.max_memory_allocated); an out-of-memory error or a peak over the budget ends the search.
Elsewhere (CPU, MPS) there is no such probe: auto is the reference batch and the lr as given.
"""

from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn.functional as F

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


def largest_fitting(step: Callable[[int], None], sizes: list[int], budget_bytes: float,
                    device: torch.device) -> tuple[int, int]:
    """(largest size whose step(size) peaks within the budget, that peak in bytes); sizes ascending."""
    best, best_peak = sizes[0], 0
    for b in sizes:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        try:
            step(b)
            torch.cuda.synchronize(device)
        except torch.OutOfMemoryError:
            break
        peak = torch.cuda.max_memory_allocated(device) - before
        if peak > budget_bytes:
            break
        best, best_peak = b, peak
    torch.cuda.empty_cache()
    return best, best_peak


def training_step(cfg: TrainConfig, model: torch.nn.Module, rt: Runtime, n_classes: int,
                  channels_last: bool) -> Callable[[int], None]:
    """One forward/backward/optimizer step of a copy of `model` at a given batch (the model is not touched)."""
    from qdcore.train.engine import fast_view, make_optimizer

    def step(b: int) -> None:
        net = copy.deepcopy(model)
        opt = make_optimizer(cfg, net.parameters(), rt.device)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        x = torch.zeros(b, 1, 28, 28, device=rt.device).contiguous(memory_format=fmt)
        y = torch.randint(0, n_classes, (b,), device=rt.device)
        with rt.autocast():
            loss = F.cross_entropy(fast_view(net)(x).float(), y)
        loss.backward()
        opt.step()
        del net, opt, x, y, loss

    return step


def settle(cfg: TrainConfig, model: torch.nn.Module, rt: Runtime, n_train: int, n_classes: int,
           channels_last: bool, data_bytes: float, cap: int = MAX_BATCH) -> tuple[TrainConfig, str]:
    """The config with batch_size and lr (and warmup) as used, and the header note saying how they were chosen."""
    if rt.device.type != "cuda":
        b = REFERENCE_BATCH
        return cfg.replace(origin="batch auto", batch_size=b), (
            f"batch auto: {b} on {rt.device.type} (the memory probe needs CUDA); lr {cfg.lr:g} as given")
    from qdcore.train import distributed as dist

    free, _total = torch.cuda.mem_get_info(rt.device)
    budget = free * HEADROOM - data_bytes
    sizes = candidates(n_train, rt.world_size, cap)
    b, peak = largest_fitting(training_step(cfg, model, rt, n_classes, channels_last), sizes, budget, rt.device)
    b = dist.all_min(b, rt.device)  # every rank must step the same batch
    lr = scaled_lr(cfg.lr, b * rt.world_size, cfg.optimizer)
    changes: dict[str, float] = {"batch_size": b, "lr": lr}
    warm = ""
    if lr > cfg.lr and cfg.warmup_epochs == 0:
        changes["warmup_epochs"] = min(1.0, cfg.epochs / 10)
        warm = f", warmup {changes['warmup_epochs']:g} epochs"
    rule = "linear" if cfg.optimizer.lower() == "sgd" else "square-root"
    note = (f"batch auto: {b} per rank, the largest power of two up to {sizes[-1]} whose training step fits "
            f"{budget / 2**30:.1f} GiB (it peaked at {peak / 2**30:.2f} GiB); lr {cfg.lr:g} -> {lr:.4g} "
            f"({rule} rule from batch {REFERENCE_BATCH}{warm})")
    return cfg.replace(origin="batch auto", **changes), note
