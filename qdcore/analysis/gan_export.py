"""A GAN run's drawings for everything else: samples in Google's npy layout, and study 003's progress GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from qdcore.analysis.gan_options import MAX_MS, MAX_SCALE
from qdcore.analysis.gan_quality import load_judge
from qdcore.errors import ConfigError, StoreError
from qdcore.paths import atomic_path
from qdcore.train import gan_files as files
from qdcore.train.gan_sample import sample_run


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
            tile = Image.fromarray(grid[i, j]).resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
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
                                                                                       Image.Resampling.NEAREST)
        img.paste(tile.convert("RGB"), (x, y))
        name = judge_classes[int(top_class[i])]
        colour = (90, 220, 90) if name in intended else (235, 80, 80)
        draw.text((x, y + 28 * scale + 2), f"{name[:9]} {100 * float(probs[i].max()):.0f}%", fill=colour)
    return img


def write_sheet(store, run_id: int, run_dir: str | Path, out: str | Path, category: str | None = None, n: int = 32,
                epoch: int | str | None = None, seed: int = 0, cols: int = 8) -> tuple[Path, str]:
    """A PNG sample sheet judged by the run's judge; (path, a line saying what it shows and how many were recognised)."""
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
