"""A GAN run's drawings for everything else: samples in Google's npy layout, and study 003's progress GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qdcore.errors import ConfigError, StoreError
from qdcore.paths import atomic_path
from qdcore.train import gan_files as files

from qdcore.analysis.gan_options import MAX_MS, MAX_SAMPLES, MAX_SCALE, MAX_SEED

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
    import torch

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


def write_npy(images: np.ndarray, out: str | Path) -> Path:
    """Write uint8 (N, 784) drawings atomically in Google's numpy_bitmap layout."""
    out = Path(out).expanduser()
    if out.suffix.lower() != ".npy":
        raise ConfigError(f"--out {str(out)!r} must end in .npy (Google's numpy bitmap format)")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(images, np.uint8), allow_pickle=False)
    return out


def grid_image(grid: np.ndarray, rows: list[str], title: str, scale: int = 2, label_width: int = 90):
    """A PIL image of a sample grid (rows x cols x 28 x 28) with row labels and a title line."""
    from PIL import Image, ImageDraw

    r, c = grid.shape[:2]
    cell = 28 * scale + 2
    top = 16
    img = Image.new("L", (label_width + c * cell, top + r * cell), 0)
    draw = ImageDraw.Draw(img)
    draw.text((4, 2), title, fill=255)
    for i in range(r):
        name = rows[i] if i < len(rows) else ""
        draw.text((4, top + i * cell + cell // 2 - 6), name[:14], fill=200)
        for j in range(c):
            tile = Image.fromarray(grid[i, j]).resize((28 * scale, 28 * scale), Image.NEAREST)
            img.paste(tile, (label_width + j * cell + 1, top + i * cell + 1))
    return img


def progress_gif(run_dir: str | Path, out: str | Path, scale: int = 2, ms: int = 400) -> tuple[Path, int, int | None]:
    """Study 003's progress GIF: one frame per epoch's sample grid, class rows labelled, the best epoch's frame
    titled so. Returns (path, frames, best epoch or None)."""
    run_dir = Path(run_dir)
    out = Path(out).expanduser()
    if out.suffix.lower() != ".gif":
        raise ConfigError(f"--out {str(out)!r} must end in .gif")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")
    if not 1 <= scale <= MAX_SCALE:
        raise ConfigError(f"--scale {scale} must be 1 to {MAX_SCALE} pixels per drawing pixel")
    if not 1 <= ms <= MAX_MS:
        raise ConfigError(f"--ms {ms} must be 1 to {MAX_MS:,} milliseconds per frame")
    meta = files.read_meta(run_dir)
    epochs = files.grid_epochs(run_dir)
    if not epochs:
        raise StoreError(f"run folder {run_dir} has no sample grids yet (no finished epoch)")
    best = (files.best_state(run_dir) or {}).get("epoch")
    frames = [grid_image(files.read_grid(run_dir, e), meta["rows"], f"epoch {e}" + (" (best)" if e == best else ""),
                         scale) for e in epochs]
    with atomic_path(out) as tmp:
        # A GIF with one frame per epoch; disposal 1 keeps each frame whole.
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0,
                       disposal=1, optimize=False)
    return out, len(frames), best


def judged_sheet(images: np.ndarray, probs: np.ndarray, judge_classes: list[str], intended: list[str], title: str,
                 cols: int = 8, scale: int = 3):
    """A PIL sheet of drawings with the judge's class and confidence under each (green: as intended, red: not)."""
    from PIL import Image, ImageDraw

    n = len(images)
    rows = max(1, -(-n // cols))
    cell_w, cell_h, top = 28 * scale + 8, 28 * scale + 16, 18
    img = Image.new("RGB", (cols * cell_w, top + rows * cell_h), (0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.text((4, 3), title, fill=(255, 255, 255))
    top_class = probs.argmax(1)
    for i in range(n):
        x, y = (i % cols) * cell_w + 4, top + (i // cols) * cell_h
        tile = Image.fromarray(np.asarray(images[i], np.uint8).reshape(28, 28)).resize((28 * scale, 28 * scale),
                                                                                       Image.NEAREST)
        img.paste(tile.convert("RGB"), (x, y))
        name = judge_classes[int(top_class[i])]
        colour = (90, 220, 90) if name in intended else (235, 80, 80)
        draw.text((x, y + 28 * scale + 2), f"{name[:9]} {100 * float(probs[i].max()):.0f}%", fill=colour)
    return img


def write_sheet(store, run_id: int, run_dir: str | Path, out: str | Path, category: str | None = None, n: int = 32,
                epoch: int | str | None = None, seed: int = 0, cols: int = 8) -> tuple[Path, str]:
    """A PNG sample sheet judged by the run's judge; (path, a line saying what it shows and how many were recognised)."""
    from qdcore.analysis.gan_quality import load_judge

    out = Path(out).expanduser()
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {str(out)!r} must end in .png")
    if not out.parent.is_dir():
        raise ConfigError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")
    rec = store.get_run(int(run_id))
    judge_id = rec.summary.get("judge") or rec.config.get("judge")
    if judge_id is None:
        raise ConfigError(f"run {rec.id} has no judge (trained with --no-judge); a sheet shows what a judge saw")
    meta = files.read_meta(run_dir)
    images, what = sample_run(run_dir, category, n, epoch, seed)
    judge = load_judge(store, int(judge_id), list(meta["classes"]))
    probs, _ = judge(images)
    names = [c.lower() for c in meta["classes"]]
    intended = [meta["classes"][names.index(category.strip().lower())]] if category else list(meta["classes"])
    hits = sum(judge.classes[int(k)] in intended for k in probs.argmax(1))
    line = f"{what} from run {rec.id}: {hits} of {len(images)} judged as {' or '.join(intended)} by run {judge_id}"
    sheet = judged_sheet(images, probs, judge.classes, intended, line, cols)
    with atomic_path(out) as tmp:
        sheet.save(tmp, format="PNG")
    return out, line
