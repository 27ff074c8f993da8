"""Report files: CSV tables and drawing images (galleries with captions, CAM grids); charts are in figures.py."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from qdcore.analysis.cam import overlay
from qdcore.csvfile import csv_bytes
from qdcore.fmt import literal
from qdcore.paths import atomic_write_bytes


def write_csv(path: Path, rows: Sequence[dict[str, Any]], fields: Sequence[str] | None = None) -> Path:
    """Write dict rows as CSV atomically (header from `fields` or the first row), formula-like text neutralised."""
    fields = list(fields or (rows[0].keys() if rows else []))
    atomic_write_bytes(Path(path), csv_bytes(rows, fields))
    return Path(path)


def _save_png(img, path: Path) -> Path:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _font():
    return ImageFont.load_default()


def drawing_rgb(image: np.ndarray) -> np.ndarray:
    """A drawing as dark ink on white paper, RGB uint8 (28, 28, 3)."""
    g = 255 - np.asarray(image, dtype=np.uint8).reshape(28, 28)
    return np.repeat(g[..., None], 3, axis=-1)


def _fit(draw, text: str, width: int, font) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def grid_png(tiles: Sequence[np.ndarray], captions: Sequence[str] | None, path: Path, cols: int = 8,
             scale: int = 3, title: str | None = None) -> Path:
    """Write RGB or grey 28x28 tiles in a grid, each with up to two caption lines (split on newlines)."""
    font = _font()
    n = len(tiles)
    cols = max(1, min(cols, n or 1))
    rows = max(1, -(-n // cols))
    side = 28 * scale
    lines = max((len(c.split("\n")) for c in captions), default=0) if captions else 0
    cap_h = 12 * lines + (4 if lines else 0)
    gap = 6
    top = 18 if title else 0
    cell_w = max(side, 90)
    img = Image.new("RGB", (cols * (cell_w + gap) + gap, top + rows * (side + cap_h + gap) + gap), "white")
    draw = ImageDraw.Draw(img)
    if title:
        draw.text((gap, 3), _fit(draw, _label(title, 500), img.width - 2 * gap, font), fill="black", font=font)
    for i, t in enumerate(tiles):
        t = np.asarray(t)
        rgb = drawing_rgb(t) if t.ndim == 2 else t.astype(np.uint8)
        r, c = divmod(i, cols)
        x = gap + c * (cell_w + gap) + (cell_w - side) // 2
        y = top + gap + r * (side + cap_h + gap)
        img.paste(Image.fromarray(rgb, "RGB").resize((side, side), Image.Resampling.NEAREST), (x, y))
        draw.rectangle([x - 1, y - 1, x + side, y + side], outline=(200, 200, 200))
        if captions:
            for li, line in enumerate(captions[i].split("\n")):
                draw.text((gap + c * (cell_w + gap), y + side + 2 + 12 * li),
                          _fit(draw, line, cell_w, font), fill="black", font=font)
    return _save_png(img, path)


def gallery_png(images: np.ndarray, captions: Sequence[str] | None, path: Path, cols: int = 8, scale: int = 3,
                title: str | None = None) -> Path:
    """A grid of drawings (uint8 (N, 28, 28), white ink on black as stored) with captions."""
    return grid_png([np.asarray(im) for im in images], captions, path, cols, scale, title)


def cam_grid_png(images: np.ndarray, cams: np.ndarray, captions: Sequence[str] | None, path: Path, cols: int = 8,
                 scale: int = 3, title: str | None = None) -> Path:
    """A grid of drawings with their Grad-CAM maps overlaid."""
    return grid_png([overlay(im, c) for im, c in zip(images, cams)], captions, path, cols, scale, title)


def _label(name: Any, limit: int = 32) -> str:
    """A class name for an image: one line, escapes visible, at most `limit` characters."""
    text = literal(name)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def captions_for(pred, idx: Iterable[int], with_prob: bool = True) -> list[str]:
    """'truth -> prediction' and 'p=0.12' caption lines for drawings of a Predictions."""
    labels = np.asarray(pred.labels)
    guess = np.asarray(pred.predicted)
    probs = np.asarray(pred.probs)
    out = []
    for i in idx:
        i = int(i)
        t, g = _label(pred.classes[labels[i]]), _label(pred.classes[guess[i]])
        line = t if t == g else f"{t}>{g}"
        out.append(f"{line}\np={probs[i, labels[i]]:.2f}" if with_prob else line)
    return out
