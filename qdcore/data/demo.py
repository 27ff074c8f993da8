"""The built-in demo set: procedural doodles of real Quick, Draw! categories, made offline.

Stroke programs (demo_programs.py) draw each class with human-like variation; here the
drawings get a whole-drawing rotation, stretch and shear, the occasional stray stroke, are
normalised as Google's simplified data is (top-left aligned, longer side spanning 0..255,
integer coordinates) and rendered by the same rasteriser as real strokes.

Drawings are made in blocks of BLOCK rows, each block seeded by (seed, class, block), so
drawing `row` of a class is the same whatever per_class asks for, and one drawing can be
remade alone (`generate_strokes(cat, [row])`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

from qdcore.data.categories import check_category
from qdcore.data.demo_programs import CONFUSABLE_PAIRS, PROGRAMS
from qdcore.data.raster import rasterize_many
from qdcore.data.sources import Source
from qdcore.data.strokes import Drawing
from qdcore.errors import DataError

DEMO_CLASSES: list[str] = sorted(PROGRAMS)
BLOCK = 250
EXTRA_STROKE_P = 0.06  # a stray mark: shifts and shrinks the shape inside the frame

Strokes = list[tuple[np.ndarray, np.ndarray]]

__all__ = ["DEMO_CLASSES", "CONFUSABLE_PAIRS", "DemoSource", "generate", "generate_strokes"]


def _block_rng(seed: int, category: str, block: int) -> np.random.Generator:
    # crc32 (not hash()) keeps streams stable across processes and Python versions.
    return np.random.default_rng([int(seed), zlib.crc32(category.encode()), int(block)])


def _finish(rng: np.random.Generator, drawings: list[list[np.ndarray]], rot_sd: float) -> list[Strokes]:
    """Rotate, stretch, shear, add stray strokes and normalise to the simplified 0..255 space."""
    n = len(drawings)
    extra = np.flatnonzero(rng.random(n) < EXTRA_STROKE_P)
    for d in extra:
        start = rng.uniform(-1.4, 1.4, 2)
        ang, length = rng.uniform(0, 2 * np.pi), rng.uniform(0.08, 0.5)
        t = np.linspace(0, 1, int(rng.integers(2, 5)))[:, None]
        bend = rng.normal(0, 0.08) * np.sin(np.pi * t)
        pts = start + t * length * np.array([np.cos(ang), np.sin(ang)]) + bend * np.array([-np.sin(ang), np.cos(ang)])
        drawings[d] = drawings[d] + [pts]
    theta = rng.normal(0, rot_sd, n)
    stretch = np.exp(rng.normal(0, 0.12, n))
    shear = rng.normal(0, 0.06, n)
    c, s = np.cos(theta), np.sin(theta)
    # Rotation, then shear, then x/y stretch, as one 2x2 per drawing.
    mats = np.empty((n, 2, 2))
    mats[:, 0, 0] = stretch * (c + shear * s)
    mats[:, 0, 1] = stretch * (-s + shear * c)
    mats[:, 1, 0] = s / stretch
    mats[:, 1, 1] = c / stretch

    strokes = [st for dr in drawings for st in dr]
    stroke_len = np.fromiter((len(st) for st in strokes), dtype=np.int64, count=len(strokes))
    per_drawing = np.fromiter((len(dr) for dr in drawings), dtype=np.int64, count=n)
    pts_per_drawing = np.add.reduceat(stroke_len, np.r_[0, np.cumsum(per_drawing)[:-1]])
    owner = np.repeat(np.arange(n), pts_per_drawing)
    flat = np.concatenate(strokes)
    m = mats[owner]
    flat = np.stack([m[:, 0, 0] * flat[:, 0] + m[:, 0, 1] * flat[:, 1],
                     m[:, 1, 0] * flat[:, 0] + m[:, 1, 1] * flat[:, 1]])  # (2, points)
    starts = np.r_[0, np.cumsum(pts_per_drawing)[:-1]]
    lo = np.minimum.reduceat(flat, starts, axis=1)
    hi = np.maximum.reduceat(flat, starts, axis=1)
    scale = 255.0 / np.maximum((hi - lo).max(axis=0), 1e-6)
    flat = np.rint((flat - lo[:, owner]) * scale[owner]).astype(np.int32)
    np.clip(flat, 0, 255, out=flat)
    xs, ys = flat
    ends = np.cumsum(stroke_len).tolist()
    pairs = [(xs[a:b], ys[a:b]) for a, b in zip([0, *ends[:-1]], ends)]
    out: list[Strokes] = []
    k = 0
    for c in per_drawing.tolist():
        out.append(pairs[k:k + c])
        k += c
    return out


def _block(category: str, block: int, seed: int) -> list[Strokes]:
    program, rot_sd = PROGRAMS[category]
    rng = _block_rng(seed, category, block)
    return _finish(rng, program(rng, BLOCK), rot_sd)


def _check(category: str) -> str:
    return check_category(category, DEMO_CLASSES)


def generate_strokes(category: str, rows: int | Iterable[int] = 2000, seed: int = 0) -> list[Strokes]:
    """Drawings of one demo class as simplified strokes: a list of (xs, ys) int arrays in 0..255.

    rows is a count (the first rows drawings) or the row numbers wanted.
    """
    category = _check(category)
    wanted = np.arange(rows) if isinstance(rows, (int, np.integer)) else np.asarray(list(rows), dtype=np.int64)
    if wanted.size and wanted.min() < 0:
        raise DataError(f"demo row numbers must be >= 0, got {int(wanted.min())}")
    blocks: dict[int, list[Strokes]] = {}
    out = []
    for r in wanted.tolist():
        b = r // BLOCK
        if b not in blocks:
            blocks[b] = _block(category, b, seed)
        out.append(blocks[b][r % BLOCK])
    return out


def _render(category: str, per_class: int, seed: int) -> np.ndarray:
    return rasterize_many(generate_strokes(category, per_class, seed), size=28)


def generate(per_class: int = 2000, seed: int = 0, classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 (N, 28, 28) and labels int64 (N,), grouped by class.

    Labels index `classes` (DEMO_CLASSES when None), in that order; same seed, same bytes.
    """
    if per_class < 1:
        raise DataError(f"per_class is {per_class}; the demo set needs at least 1 drawing per class")
    names = DEMO_CLASSES if classes is None else [_check(c) for c in classes]
    images = np.concatenate([_render(c, per_class, seed) for c in names])
    labels = np.repeat(np.arange(len(names), dtype=np.int64), per_class)
    return images, labels


_CACHE: dict[tuple[int, int, str], np.ndarray] = {}


class DemoSource(Source):
    """The procedural demo set as a Source: per_class drawings of each class, made on first read."""

    kind = "demo"
    synthetic = True

    def __init__(self, per_class: int = 2000, seed: int = 0) -> None:
        if per_class < 1:
            raise DataError(f"per_class is {per_class}; the demo set needs at least 1 drawing per class")
        super().__init__(f"demo (synthetic, seed {seed})")
        self.per_class = int(per_class)
        self.seed = int(seed)

    def categories(self) -> list[str]:
        return sorted(DEMO_CLASSES)

    def count(self, category: str) -> int:
        _check(category)
        return self.per_class

    def _images(self, category: str) -> np.ndarray:
        key = (self.seed, self.per_class, _check(category))
        if key not in _CACHE:
            _CACHE[key] = _render(key[2], self.per_class, self.seed).reshape(-1, 784)
        return _CACHE[key]

    def read(self, category: str, rows: np.ndarray | None = None) -> np.ndarray:
        images = self._images(category)
        if rows is None:
            return images.copy()
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= self.per_class):
            raise DataError(f"demo:{category} has rows 0..{self.per_class - 1}; asked for row "
                            f"{int(rows.min() if rows.min() < 0 else rows.max())}")
        return images[rows]

    def file_of(self, category: str) -> str:
        return f"demo:{_check(category)}"

    def drawings(self, category: str, rows: np.ndarray) -> list:
        """The stroke programs' drawings at these rows (simplified space, no times), the ones `read` rasterises."""
        strokes = generate_strokes(category, np.asarray(rows, np.int64), self.seed)
        return [Drawing([(list(map(int, x)), list(map(int, y))) for x, y in d], category) for d in strokes]
