"""Drawings from a GAN run's stored generator (`qd gan sample`, the TUI's sample sheet, a classifier's synthetic mix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qdcore.errors import ConfigError
from qdcore.options import MAX_SEED
from qdcore.train import gan_files as files
from qdcore.train.gan_config import MAX_SAMPLES

SAMPLE_BATCH = 4096


def sample_run(run_dir: str | Path, category: str | None = None, n: int = 64, epoch: int | str | None = None,
               seed: int = 0, device: str = "cpu", limit: int | None = MAX_SAMPLES) -> tuple[np.ndarray, str]:
    """(uint8 (n, 784) white on black, what they are) drawn from a run's generator: 'best' (default where the run
    kept one, else 'last'), 'last' or an epoch number.

    `limit` bounds n for a user's request (None: the caller sized n itself, as a synthetic mix does)."""
    if n < 1 or (limit is not None and n > limit):
        raise ConfigError(f"--n {n} must be 1 to {limit or MAX_SAMPLES:,} drawings (write several files for more)")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed {seed} must be 0 to {MAX_SEED:,}")
    which = files.default_generator(run_dir) if epoch is None else str(epoch).strip().lower()
    if which not in ("best", "last") and (not which.isdigit() or not 1 <= int(which) <= MAX_SEED):
        raise ConfigError(f"--epoch {epoch} must be last, best or an epoch number of this run (from 1)")
    import torch  # here: `qd gan --help` reads this module's bounds without loading torch

    gens, _, meta, got_epoch = files.load_gan(run_dir, which, device)
    classes, pairs, conditional = meta["classes"], meta["pairs"], bool(meta["conditional"])
    if category is None:
        if len(classes) > 1 and (conditional or len(pairs) > 1):
            raise ConfigError(f"this GAN draws {len(classes)} categories ({', '.join(classes)}); "
                              "choose one with --category")
        label = 0
    else:
        key = category.strip().lower()
        names = [c.lower() for c in classes]
        if key not in names:
            raise ConfigError(f"--category {category!r} is not among the GAN's categories ({', '.join(classes)})")
        label = names.index(key)
        if not conditional and len(pairs) == 1 and len(classes) > 1:
            raise ConfigError(f"this DCGAN learnt {', '.join(classes)} together and cannot draw one on demand; "
                              "leave out --category (or train --model acgan or --per-class-gans)")
    k = next(i for i, p in enumerate(pairs) if label in p)
    g = gens[k]
    gen = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, int(meta["arch"]["latent_dim"]), generator=gen)
    imgs = np.empty((n, 784), np.uint8)
    with torch.no_grad():
        for a in range(0, n, SAMPLE_BATCH):  # in batches: the generator's activations stay small for any n
            zb = z[a:a + SAMPLE_BATCH].to(device)
            y = torch.full((len(zb),), label, dtype=torch.long, device=device) if conditional else None
            x = g(zb, y) if conditional else g(zb)
            imgs[a:a + len(zb)] = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(
                len(zb), 784).cpu().numpy()
    what = classes[label] if (conditional or len(pairs) > 1 or len(classes) == 1) else " + ".join(classes)
    return imgs, f"{n} generated {what} ({epoch_label(which, got_epoch, meta)})"


def epoch_label(which: str, epoch: int, meta: dict) -> str:
    """'epoch 7, the best by Frechet distance' / 'epoch 12, the last' / 'epoch 5'."""
    if which == "best":
        by = {"fid": "Frechet distance", "judged": "judged share"}.get(meta.get("config", {}).get("best_by", "fid"),
                                                                      "its criterion")
        return f"epoch {epoch}, the best by {by}"
    return f"epoch {epoch}, the last" if which == "last" else f"epoch {epoch}"
