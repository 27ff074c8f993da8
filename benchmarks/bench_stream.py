"""Training images/s streamed from the memory-mapped .npy files vs resident, same run, same drawings.

Width-k k=12, Adam 1e-3, batch 256 on every drawing of ../shared/quickdraw/numpy_bitmap (43,500). The
selection stays in its files (MappedImages); resident mode copies it once before training, streamed mode
gathers each shuffled chunk of --chunk drawings from the maps (sorted rows, order restored) while the
previous one trains. Runs alternate and the best of --repeats is kept for each. Both compute the same
weights (tests/test_stream_mapped.py); the target is streamed >= 0.8 x resident.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_stream.py [--epochs 2] [--chunk 4096] [--device auto]
"""

from __future__ import annotations

import argparse
import sys

import torch

from qdcore.data.mapped import MappedImages
from qdcore.data.selection import load_splits
from qdcore.paths import shared_quickdraw
from qdcore.train import TrainConfig
from qdcore.train.device import resolve
from qdcore.train.engine import train
from qdcore.train.stream import BYTES_PER_DRAWING


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=4096, help="drawings per streamed chunk")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    root = shared_quickdraw()
    if root is None:
        sys.exit("bench_stream: ../shared/quickdraw is absent; nothing to measure")
    cfg = TrainConfig(data=str(root / "numpy_bitmap"), model="widthk", width=12, optimizer="adam", lr=1e-3,
                      batch_size=256, epochs=args.epochs, val=0.0, test=0.0, device=args.device, log_every=50)
    splits = load_splits(cfg, mapped=True)
    assert isinstance(splits.train.images, MappedImages), "the selection must stay in its files"
    budget_gb = 2 * args.chunk * BYTES_PER_DRAWING / 2**30  # two chunks in flight
    rt = resolve(args.device, None)
    print(f"{len(splits.train):,} drawings x {args.epochs} epochs, {len(splits.train.classes)} classes, widthk k=12, "
          f"batch 256 · {rt.describe()} · {torch.get_num_threads()} threads · chunks of {args.chunk:,}")
    variants = {"resident": cfg, "streamed from mmap": cfg.replace(device_memory=budget_gb)}
    runs: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, c in variants.items():
            runs[name].append(train(c, splits=splits).summary["images_per_second"])
    best = {k: max(v) for k, v in runs.items()}
    for name, v in best.items():
        print(f"{name:<19}: {v:9,.0f} images/s   (runs: {', '.join(f'{x:,.0f}' for x in runs[name])})")
    print(f"ratio streamed / resident: {best['streamed from mmap'] / best['resident']:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
