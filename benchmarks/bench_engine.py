"""Engine throughput vs a textbook PyTorch loop (TensorDataset + DataLoader(shuffle=True)), same run.

Same model (widthk k=12), batch 256, Adam 1e-3, same drawings and epochs. Both are timed on
training only (no evaluation); the engine's figure is its own train_seconds. Runs alternate and
the best of --repeats is kept for each, so a busy machine hurts both alike.

Where the engine wins: drawings stay uint8 in one tensor (index, scale in place; no per-sample
__getitem__ or collate), channels_last convolutions, ReLU moved after max-pooling (they commute,
so the ReLU runs on a quarter of the activations), bf16 autocast on CPUs with native bf16
(amp auto; the "amp off" line shows the engine without it), and no host sync between log steps.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_engine.py [--epochs 2] [--per-class 1000] [--device auto]
Uses the `shared24` set of ../shared/quickdraw when present, else the built-in demo set.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.data.drawingset import select, split
from qdcore.data.opener import open_source
from qdcore.models import build_model
from qdcore.paths import shared_quickdraw
from qdcore.train import TrainConfig
from qdcore.train.device import resolve
from qdcore.train.engine import train


def textbook(images: np.ndarray, labels: np.ndarray, n_classes: int, epochs: int, device: torch.device,
             batch_size: int = 256, max_images: int | None = None) -> float:
    """The loop most tutorials write; returns training images per second (stops after max_images)."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.tensor(images, dtype=torch.float32).div(255.0).unsqueeze(1)
    y = torch.tensor(labels, dtype=torch.long)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)
    model = build_model("widthk", n_classes, width=12).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    seen = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(epochs):
        running, correct = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item() * xb.shape[0]
            correct += (out.argmax(1) == yb).sum().item()
            seen += xb.shape[0]
            if max_images is not None and seen >= max_images:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()

    root = shared_quickdraw()
    if root is not None:
        source, cats, what = open_source(root / "numpy_bitmap"), "shared24", "shared24 (real Quick, Draw!)"
    else:
        source, cats, what = open_source("demo"), None, "demo (synthetic)"
    ds = select(source, cats, args.per_class, 0)
    splits = split(ds, 0.0, 0.0, 0)
    n_classes = len(ds.classes)
    rt = resolve(args.device, None)
    print(f"{what}: {len(splits.train):,} drawings x {args.epochs} epochs, {n_classes} classes, widthk k=12, "
          f"batch 256, Adam 1e-3 · {rt.describe()} · {torch.get_num_threads()} threads")

    base = dict(data="(in memory)", model="widthk", width=12, optimizer="adam", lr=1e-3, batch_size=256,
                epochs=args.epochs, val=0.0, test=0.0, device=args.device, log_every=50)
    variants = {"engine": TrainConfig(**base)}
    if rt.amp_dtype is not None:
        variants["engine, amp off"] = TrainConfig(**base, amp=False)
    results: dict[str, list[float]] = {"textbook": [], **{k: [] for k in variants}}
    for _ in range(args.repeats):
        results["textbook"].append(textbook(splits.train.images, splits.train.labels, n_classes, args.epochs,
                                            rt.device))
        for name, cfg in variants.items():
            results[name].append(train(cfg, splits=splits).summary["images_per_second"])
    best = {k: max(v) for k, v in results.items()}
    for name, v in best.items():
        print(f"{name:<16}: {v:10,.0f} images/s   (runs: {', '.join(f'{x:,.0f}' for x in results[name])})")
    for name in variants:
        print(f"ratio {name} / textbook: {best[name] / best['textbook']:.2f}x")


if __name__ == "__main__":
    main()
