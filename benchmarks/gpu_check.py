"""GPU check: engine vs a textbook DataLoader loop on millions of real drawings, resident and streamed.

Prints images/s of the engine (width-k k=12, Adam) at batch 256/1024/4096 without torch.compile, with it
and with CUDA graphs (resident only), resident on the device and streamed from host memory (and at batch
8192 resident on CUDA), the textbook loop at the same
batch sizes, the batch `--batch-size auto` settles on (its memory probe runs on CUDA only) and its
images/s, the peak device memory, the projected seconds for one epoch of all 50,426,266
drawings, and a 2-rank DDP smoke run when two GPUs are present. Each engine figure is the second
epoch's throughput (CUDA-event timed), so compilation is not counted. A time guard skips what would
not finish inside --budget seconds and says so.

GPU:  python benchmarks/gpu_check.py --data DIR            (under 6 minutes on one H100/H200)
here: python benchmarks/gpu_check.py --small               (CPU, a minute or two)
DIR holds Google's numpy bitmaps (default ../shared/quickdraw/numpy_bitmap); its drawings are
repeated up to --n.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_engine import textbook

from qdcore.data.drawingset import DrawingSet, Splits
from qdcore.events import EpochEnd, RunStarted
from qdcore.paths import shared_quickdraw
from qdcore.train import TrainConfig
from qdcore.train.device import resolve
from qdcore.train.engine import train

ALL_DRAWINGS = 50_426_266
COMPILE = (("no", {}), ("yes", {"compile": True}), ("graphs", {"cuda_graphs": True}))  # CUDA graphs: reduce-overhead


def load(folder: Path, n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The folder's real drawings repeated up to n (uint8 (n, 28, 28)) with their labels."""
    files = sorted(folder.glob("*.npy"))
    if not files:
        raise SystemExit(f"gpu_check: no .npy files in {folder}")
    imgs = [np.load(f, mmap_mode="r") for f in files]
    x = np.concatenate([np.asarray(a) for a in imgs]).reshape(-1, 28, 28)
    y = np.concatenate([np.full(len(a), i, np.int64) for i, a in enumerate(imgs)])
    reps = -(-n // len(x))
    idx = np.random.default_rng(0).permutation(len(x) * reps)[:n] % len(x)
    return x[idx], y[idx], [f.stem for f in files]


def as_splits(x: np.ndarray, y: np.ndarray, classes: list[str]) -> Splits:
    """All drawings for training; a token val/test split (the check times training)."""
    def part(a, b):
        n = len(b)
        return DrawingSet(a, b, classes, ["bench"], np.zeros(n, np.int32), np.arange(n), False, "bench")
    return Splits(part(x, y), part(x[:2048], y[:2048]), part(x[:2048], y[:2048]))


def engine_rate(cfg: TrainConfig, splits: Splits, started: list | None = None) -> float:
    """Images/s of the last epoch (the RunStarted event appended to `started` when given)."""
    rates = []

    def sink(ev):
        if isinstance(ev, EpochEnd):
            m = getattr(ev, "metrics", None) or getattr(ev, "extra", {})
            rates.append(m["train/throughput"])
        elif isinstance(ev, RunStarted) and started is not None:
            started.append(ev)
    train(cfg, sink, splits=splits)
    return rates[-1]


def auto_line(base: dict, splits: Splits) -> str:
    """The batch --batch-size auto settles on (probed on CUDA), its lr and images/s."""
    started: list = []
    rate = engine_rate(TrainConfig(**base, batch_size=None, lr=1e-3), splits, started)
    c = started[0].config
    note = next((n for n in started[0].notes if n.startswith("batch auto")), "")
    return f"batch auto: {c['batch_size']} (lr {c['lr']:.4g}), {rate:,.0f} images/s\n  {note}"


def ddp_smoke(data: Path) -> str:
    """A 2-rank run through `torchrun` (NCCL); its last lines."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m",
           "qdcore.cli.main", "--home", "/tmp/qd-gpu-check", "train", "--data", str(data), "--per-class", "500",
           "--epochs", "1", "--width", "12", "--batch-size", "512", "--device", "cuda"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    return f"rc={p.returncode}\n" + "\n".join((p.stdout + p.stderr).strip().splitlines()[-6:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--n", type=int, default=4_000_000, help="drawings in the big run")
    ap.add_argument("--per-config", type=int, default=1_000_000, help="drawings per epoch of each variant")
    ap.add_argument("--small", action="store_true", help="CPU smoke mode: tiny sizes")
    ap.add_argument("--budget", type=float, default=330.0, help="seconds before the remaining variants are skipped")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    t_start = time.perf_counter()
    if args.small:
        args.n, args.per_config, args.device = 40_000, 8_000, "cpu"
    folder = args.data or ((shared_quickdraw() or Path("../shared/quickdraw")) / "numpy_bitmap")
    rt = resolve(args.device, None)
    cuda = rt.device.type == "cuda"
    name = torch.cuda.get_device_name(rt.device) if cuda else "cpu"
    print(f"gpu_check · {rt.describe()} · torch {torch.__version__} · {name}")
    x, y, classes = load(folder, args.n)
    print(f"data: {len(x):,} drawings ({len(classes)} real categories from {folder}, repeated) "
          f"= {x.nbytes / 2**30:.2f} GiB uint8")
    small = as_splits(x[:args.per_config], y[:args.per_config], classes)
    base = dict(data="(in memory)", model="widthk", width=12, optimizer="adam", val=0.0, test=0.0,
                device=args.device, log_every=100, epochs=2)
    batches = (256, 1024, 4096) if not args.small else (256, 1024)

    print("\n| loop | batch | compile | data | images/s |\n|---|---|---|---|---|")
    textbook_rates = {}
    for bs in batches:
        r = textbook(small.train.images, small.train.labels, len(classes), 1, rt.device, batch_size=bs,
                     max_images=min(args.per_config, 300_000 if cuda else 4_000))
        textbook_rates[bs] = r
        print(f"| textbook DataLoader | {bs} | no | host | {r:,.0f} |", flush=True)
    results = {}
    stream_gb = 0.25 if cuda else 0.002  # forces streaming: chunks of a fraction of the data
    # Most telling first, as the time guard cuts the tail: plain, then CUDA graphs and compile (resident), then
    # compile streamed; batch 8192 on CUDA only.
    order = [("no", "resident"), ("no", "streamed"), ("graphs", "resident"), ("yes", "resident"), ("yes", "streamed")]
    variants = [(c, dict(COMPILE)[c], mode, bs) for c, mode in order for bs in batches]
    if cuda:
        variants.insert(len(batches), ("no", {}, "resident", 8192))
    for compile_, opts, mode, bs in variants:
        if time.perf_counter() - t_start > args.budget:
            print(f"| engine | {bs} | {compile_} | {mode} | skipped (time guard) |")
            continue
        lr = 1e-3 * (bs / 256) ** 0.5  # square-root lr scaling for the larger batches
        cfg = TrainConfig(**base, **opts, batch_size=bs, lr=lr, device_memory=stream_gb if mode == "streamed" else None)
        try:
            r = engine_rate(cfg, small)
        except Exception as e:  # noqa: BLE001 - report and go on (e.g. compile unavailable)
            print(f"| engine | {bs} | {compile_} | {mode} | failed: {type(e).__name__}: "
                  f"{str(e).splitlines()[0][:80]} |")
            continue
        results[(bs, compile_, mode)] = r
        print(f"| engine | {bs} | {compile_} | {mode} | {r:,.0f} |", flush=True)
    if not results:
        return
    best_key = max(results, key=results.get)
    best = results[best_key]
    print(f"\nbest engine: {best:,.0f} images/s (batch {best_key[0]}, compile {best_key[1]}, {best_key[2]})")
    for bs in batches:
        if (bs, "no", "resident") in results:
            print(f"ratio engine/textbook at batch {bs}: {results[(bs, 'no', 'resident')] / textbook_rates[bs]:.1f}x "
                  f"(best engine / textbook: {best / textbook_rates[bs]:.1f}x)")
    for bs in batches:
        a, b = results.get((bs, "no", "resident")), results.get((bs, "no", "streamed"))
        if a and b:
            print(f"streamed / resident at batch {bs}: {b / a:.2f}")
    if time.perf_counter() - t_start < args.budget:
        print(auto_line(base, small), flush=True)
    else:
        print("batch auto: skipped (time guard)")
    if time.perf_counter() - t_start < args.budget + 60:
        if cuda:
            torch.cuda.reset_peak_memory_stats(rt.device)
        bs, comp, mode = best_key
        cfg = TrainConfig(**{**base, "epochs": 1}, **dict(COMPILE)[comp], batch_size=bs, lr=1e-3 * (bs / 256) ** 0.5,
                          device_memory=stream_gb if mode == "streamed" else None)
        t0 = time.perf_counter()
        big = train(cfg, splits=as_splits(x, y, classes))
        rate = big.summary["images_per_second"]
        print(f"\nbig run: {len(x):,} drawings, 1 epoch, {rate:,.0f} images/s (compile time included), "
              f"{time.perf_counter() - t0:.1f} s wall")
        if cuda:
            print(f"peak device memory: {torch.cuda.max_memory_allocated(rt.device) / 2**30:.2f} GiB")
    print(f"projected epoch of all {ALL_DRAWINGS:,} drawings at {best:,.0f} images/s: {ALL_DRAWINGS / best:,.0f} s "
          f"(target 60 s = {ALL_DRAWINGS / 60:,.0f} images/s)")
    if cuda and torch.cuda.device_count() >= 2:
        print("\nDDP smoke (2 ranks, NCCL):\n" + ddp_smoke(folder))
    elif cuda:
        print("DDP smoke: skipped (one GPU)")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "4")
    main()
