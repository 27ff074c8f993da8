"""Images/s of the engine per model shape: a few widths timed on random drawings, the rest interpolated."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from qdcore.events import EpochEnd
from qdcore.models import build_model
from qdcore.studies.work import Work

MAX_TIMED = 4  # widths timed per model shape; the others are interpolated between them
REPEATS = 3  # timed epochs of `steps` training steps each, after one of warm-up


def flops_per_image(cfg: Any, classes: int) -> int:
    """Multiply-adds of one forward pass (convolutions and linear layers) on a real 1-image pass; FLOPs are
    twice these, and the interpolation needs only their proportions."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    model = build_model(cfg.model, classes, **cfg.model_options()).eval()
    total = [0]

    def hook(mod: Any, inp: Any, out: Any) -> None:
        if isinstance(mod, torch.nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total[0] += out.numel() * k
        elif isinstance(mod, torch.nn.Linear):
            total[0] += out.numel() * mod.in_features

    layers = (torch.nn.Conv2d, torch.nn.Linear)
    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, layers)]
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total[0]


@dataclass
class Rate:
    """Images/s of one (shape, width, classes): timed here, interpolated between timings, or given."""

    train: float
    eval: float
    how: str  # "timed" | "interpolated" | "given"
    flops: int = 0


def time_engine(cfg: Any, classes: int, device: str, steps: int = 4) -> tuple[float, float]:
    """(training, evaluation) images/s of the engine on random uint8 drawings; a first pass of each is warm-up."""
    import numpy as np  # lazy: numpy (~0.1 s) is not needed to list runs or studies
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    from qdcore.data.drawingset import DrawingSet, Splits  # lazy: numpy (~0.1 s) is not needed to list runs or studies
    from qdcore.train.device import resolve  # lazy: loads torch (~1.2 s)
    from qdcore.train.engine import fast_view, train  # lazy: loads torch (~1.2 s)
    from qdcore.train.evaluate import evaluate  # lazy: loads torch (~1.2 s)
    from qdcore.train.gpudata import DeviceData  # lazy: loads torch (~1.2 s)

    n = steps * cfg.batch_size
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, classes, size=n).astype(np.int64)
    names = [f"c{i}" for i in range(classes)]

    def part(k: int) -> DrawingSet:
        return DrawingSet(images[:k], labels[:k], names, ["random"], np.zeros(k, np.int32), np.arange(k))

    run = cfg.replace(origin="estimate", epochs=1 + REPEATS, val=0.0, test=0.0, patience=0, plateau_patience=0,
                      device=device, log_every=10**6, synthetic=None, balanced_test=None, name="estimate")
    seen: list[float] = []
    # Epoch 1 is warm-up (allocation, cudnn autotuning); each later epoch's throughput is the engine's own
    # timing, and the best counts, as a busy machine only ever slows a timing down.
    result = train(run, lambda e: seen.append(e.metrics["train/throughput"]) if isinstance(e, EpochEnd) else None,
                   splits=Splits(part(n), part(0), part(0)))
    rt = resolve(device, run.amp)
    channels_last = rt.device.type in ("cpu", "cuda")  # as the engine places its data and model
    model = result.model.to(rt.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # Module.to's stubs omit memory_format, which it takes
    reps = -(-4 * cfg.eval_batch_size // n)  # evaluation is fast: time at least four of its batches
    data = DeviceData(np.concatenate([images] * reps), np.concatenate([labels] * reps), rt.device, channels_last)
    net = fast_view(model)
    best = math.inf
    for i in range(1 + REPEATS):  # the first pass is warm-up; then the best, as a busy machine only ever slows one down
        rt.sync()
        t = time.perf_counter()
        evaluate(net, data, rt, cfg.eval_batch_size)
        rt.sync()
        if i:
            best = min(best, time.perf_counter() - t)
    return max(seen[1:]), len(data) / best


def _pick(members: list[tuple[int, Any]]) -> list[int]:
    """Indices (into members sorted by FLOPs) to time: both ends and evenly spaced ones between."""
    m = len(members)
    if m <= MAX_TIMED:
        return list(range(m))
    return sorted({round(i * (m - 1) / (MAX_TIMED - 1)) for i in range(MAX_TIMED)})


def measure(work: list[Work], device: str = "auto", steps: int = 4, given: float | None = None,
            on_timing: Any = None) -> dict[tuple, Rate]:
    """Images/s per (shape, width, classes) of the engine's trials: `given` for all, or a few timed per shape
    and the rest interpolated linearly in FLOPs per image (seconds per image) between their timed neighbours."""
    rates: dict[tuple, Rate] = {}
    groups: dict[tuple, dict[tuple, Work]] = {}
    for w in work:
        groups.setdefault(w.shape, {}).setdefault((w.width, w.classes), w)
    for shape, members in groups.items():
        keyed = [((shape, *k), w) for k, w in members.items()]
        if not keyed[0][1].engine:
            continue  # not the engine's (a classical baseline): an engine rate says nothing of it
        if given is not None:
            rates.update({k: Rate(given, given, "given") for k, _ in keyed})
            continue
        flops = sorted(((flops_per_image(w.cfg, w.classes), k, w) for k, w in keyed), key=lambda t: t[0])
        timed = []
        for i in _pick([(f, w) for f, _, w in flops]):
            f, k, w = flops[i]
            tr, ev = time_engine(w.cfg, w.classes, device, steps)
            rates[k] = Rate(tr, ev, "timed", f)
            timed.append((f, tr, ev))
            if on_timing:
                on_timing(k, rates[k])
        for f, k, _ in flops:
            if k not in rates:
                rates[k] = Rate(*_interpolate(timed, f), "interpolated", f)
    return rates


def _interpolate(timed: list[tuple[int, float, float]], f: int) -> tuple[float, float]:
    """Images/s at FLOPs f: seconds per image linear in FLOPs between the nearest timed shapes around f."""
    lo = max((t for t in timed if t[0] <= f), key=lambda t: t[0])
    hi = min((t for t in timed if t[0] >= f), key=lambda t: t[0])
    a = 0.0 if hi[0] == lo[0] else (f - lo[0]) / (hi[0] - lo[0])
    return tuple(1.0 / ((1 - a) / lo[j] + a / hi[j]) for j in (1, 2))  # type: ignore[return-value]
