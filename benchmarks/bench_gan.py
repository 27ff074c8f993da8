"""GAN engine throughput vs the textbook PyTorch DCGAN loop (TensorDataset + DataLoader), same run.

Same generator and discriminator (the zoo's dcgan), batch, Adam (lr 2e-4, betas 0.5, 0.999), the
same drawings and epochs; both timed on training only. Runs alternate and the best of --repeats is
kept for each, so a busy machine hurts both alike. The textbook loop is the PyTorch DCGAN example:
D on the real batch, then on the fakes (two calls, two backward passes), then G through D with
D's weight gradients computed and thrown away, and `.item()` on the losses every step.

Where the engine wins: uint8 drawings in one resident tensor scaled in place (no per-sample
__getitem__ or collate), real and fake through D in one call (D has no batch norm, so this is the
same computation), no weight gradients for D during G's update, and no host sync between log steps;
AMP (bf16/fp16 autocast) on CUDA.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_gan.py [--per-class 640] [--epochs 2] [--device auto]
Uses `apple` from ../shared/quickdraw when present, else the built-in demo set's circles.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.data.drawingset import select, split
from qdcore.data.opener import open_source
from qdcore.models import build_gan
from qdcore.paths import shared_quickdraw
from qdcore.train.device import resolve
from qdcore.train.gan import train_gan
from qdcore.train.gan_config import GanConfig


def textbook(images: np.ndarray, cfg: GanConfig, device: torch.device) -> float:
    """The PyTorch DCGAN example's loop; returns real training drawings per second."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    x = torch.tensor(images, dtype=torch.float32).div(127.5).sub(1.0).reshape(-1, 1, 28, 28)
    loader = DataLoader(TensorDataset(x), batch_size=cfg.batch_size, shuffle=True, drop_last=True)
    g, d = build_gan("dcgan", 1, cfg.latent_dim, **cfg.model_options())
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    seen = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
        for (real,) in loader:
            real = real.to(device)
            b = real.shape[0]
            ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
            d.zero_grad()
            out = d(real).view(-1)
            err_real = F.binary_cross_entropy_with_logits(out, ones)
            err_real.backward()
            d_x = torch.sigmoid(out).mean().item()
            fake = g(torch.randn(b, cfg.latent_dim, device=device))
            out = d(fake.detach()).view(-1)
            err_fake = F.binary_cross_entropy_with_logits(out, zeros)
            err_fake.backward()
            opt_d.step()
            g.zero_grad()
            out = d(fake).view(-1)
            err_g = F.binary_cross_entropy_with_logits(out, ones)
            err_g.backward()
            opt_g.step()
            _ = (err_real + err_fake).item(), err_g.item(), d_x
            seen += b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - t0)


def engine(splits, cfg: GanConfig, amp: bool | None = None) -> float:
    """qd's GAN loop (no judge, no store); real training drawings per second of training time."""
    result = train_gan(cfg.replace(amp=amp), splits=splits)
    return float(result.summary["images_per_second"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=640)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--g-width", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    root = shared_quickdraw()
    data, cat = (str(root / "numpy_bitmap"), "apple") if root is not None else ("demo", "circle")
    cfg = GanConfig(data=data, categories=cat, per_class=args.per_class, epochs=args.epochs,
                    batch_size=args.batch_size, g_width=args.g_width, test=0.0, no_judge=True,
                    keep_generators=False, device=args.device, log_every=50)
    splits = split(select(open_source(data), cat, args.per_class, 0), 0.0, 0.0, 0)
    rt = resolve(args.device, None)
    print(f"{cat} x {len(splits.train):,} drawings, {args.epochs} epochs, batch {args.batch_size}, dcgan "
          f"g_width {args.g_width}, on {rt.describe()}, torch threads {torch.get_num_threads()}")
    ours, plain, theirs = [], [], []
    for r in range(args.repeats):
        theirs.append(textbook(np.asarray(splits.train.images), cfg, rt.device))
        ours.append(engine(splits, cfg))
        plain.append(engine(splits, cfg, amp=False))
        print(f"  round {r + 1}: textbook {theirs[-1]:,.0f} img/s · engine {ours[-1]:,.0f} img/s "
              f"(amp off {plain[-1]:,.0f})")
    best_t, best_o, best_p = max(theirs), max(ours), max(plain)
    print(f"textbook DataLoader DCGAN loop: {best_t:,.0f} real drawings/s")
    print(f"qd GAN engine ({rt.describe()}): {best_o:,.0f} real drawings/s")
    print(f"qd GAN engine, amp off:         {best_p:,.0f} real drawings/s")
    print(f"ratio engine / textbook: {best_o / best_t:.2f}x (amp off {best_p / best_t:.2f}x; target >= 1.5x on CPU)")


if __name__ == "__main__":
    main()
