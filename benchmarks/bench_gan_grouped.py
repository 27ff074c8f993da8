"""Per-class GANs: K pairs looped one after another (qd's old way) vs trained together as grouped models, same run.

Both paths run the same steps on the same resident drawings: each pair's real batch (a smaller class wraps),
d_steps D updates and one G update, Adam (lr 2e-4, betas 0.5, 0.999), AMP as the engine picks it. The
looped path calls the engine's one-pair `_step` for each pair in turn, which is what `qd gan train
--per-class-gans` did before the pairs were grouped (K times the kernel launches, K small GEMMs); the
grouped path is the engine's PairGroup.step (grouped convs, batched dense layers, one update for all K).
Each timing follows a warm-up step and ends with a device sync; runs alternate, the best of --repeats is kept.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_gan_grouped.py [--pairs 4] [--steps 10] [--device auto]
Uses the first --pairs categories of ../shared/quickdraw when present, else of the built-in demo set.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from qdcore.data.drawingset import select, split
from qdcore.data.opener import open_source
from qdcore.paths import shared_quickdraw
from qdcore.train.device import Runtime, resolve
from qdcore.train.gan import Pair, _step
from qdcore.train.gan_config import GanConfig
from qdcore.train.gan_group import PairGroup


def _orders(labels: torch.Tensor, k: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = []
    for c in range(k):
        idx = (labels == c).nonzero().flatten()
        out.append(idx[torch.randperm(idx.numel(), generator=g).to(idx.device)])
    return out


def _timed(rt: Runtime, step, steps: int) -> float:
    step(0)  # warm-up: allocations, cuDNN's algorithm choice
    rt.sync()
    t0 = time.perf_counter()
    for bi in range(1, steps + 1):
        step(bi)
    rt.sync()
    return time.perf_counter() - t0


def looped(cfg: GanConfig, rt: Runtime, images: torch.Tensor, labels: torch.Tensor, k: int, steps: int) -> float:
    """The old way: K ordinary pairs, each stepped in turn; real drawings per second."""
    torch.manual_seed(0)
    pairs = [Pair(cfg, [c], k, rt) for c in range(k)]
    orders = _orders(labels, k)
    noise = torch.Generator(device=rt.device).manual_seed(0)

    def step(bi: int) -> None:
        for p, order in zip(pairs, orders):
            _step(cfg, rt, p, images, labels, order, bi, cfg.batch_size, noise, 1.0)

    return k * cfg.batch_size * cfg.d_steps * steps / _timed(rt, step, steps)


def grouped(cfg: GanConfig, rt: Runtime, images: torch.Tensor, labels: torch.Tensor, k: int, steps: int) -> float:
    """The engine now: the K pairs as one grouped G and D; real drawings per second."""
    torch.manual_seed(0)
    group = PairGroup(cfg, [Pair(cfg, [c], k, rt, train=False) for c in range(k)], list(range(k)), rt)
    group.set_orders(_orders(labels, k))
    noise = torch.Generator(device=rt.device).manual_seed(0)

    def step(bi: int) -> None:
        z = torch.randn(cfg.d_steps, cfg.batch_size, k, cfg.latent_dim, device=rt.device, generator=noise)
        group.step(cfg, rt, images, bi, cfg.batch_size, z, 1.0)

    return k * cfg.batch_size * cfg.d_steps * steps / _timed(rt, step, steps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--per-class", type=int, default=400)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--g-width", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None)
    args = ap.parse_args()
    root = shared_quickdraw()
    data = str(root / "numpy_bitmap") if root is not None else "demo"
    cats = ",".join(sorted(open_source(data).categories())[:args.pairs])
    cfg = GanConfig(data=data, categories=cats, per_class=args.per_class, batch_size=args.batch_size,
                    g_width=args.g_width, per_class_gans=True, device=args.device, amp=args.amp)
    rt = resolve(args.device, args.amp)
    splits = split(select(open_source(data), cats, args.per_class, 0), 0.0, 0.0, 0)
    images = torch.as_tensor(np.ascontiguousarray(splits.train.images).reshape(-1, 28, 28)).to(rt.device)
    labels = torch.as_tensor(np.asarray(splits.train.labels, np.int64)).to(rt.device)
    print(f"{args.pairs} per-class pairs ({cats}), batch {args.batch_size}, dcgan g_width {args.g_width}, "
          f"{args.steps} steps, on {rt.describe()}, torch threads {torch.get_num_threads()}")
    loop, group = [], []
    for r in range(args.repeats):
        loop.append(looped(cfg, rt, images, labels, args.pairs, args.steps))
        group.append(grouped(cfg, rt, images, labels, args.pairs, args.steps))
        print(f"  round {r + 1}: looped {loop[-1]:,.0f} img/s · grouped {group[-1]:,.0f} img/s")
    print(f"looped pairs (old):  {max(loop):,.0f} real drawings/s")
    print(f"grouped pairs (qd):  {max(group):,.0f} real drawings/s")
    print(f"ratio grouped / looped: {max(group) / max(loop):.2f}x")


if __name__ == "__main__":
    main()
