"""Strokes as a sequence of (dx, dy, pen) rows and back, for stroke-sequence models (Google's RNN tutorial layout).

Each point of each stroke is one row: its offset from the previous point (the first from the origin, so the
drawing's position is kept), and pen = 1 on a stroke's last point (the pen lifts after it). Coordinates are
Google's simplified 0..255 space (raw drawings are simplified first), so the rows are small integers and
`decode(encode(s)) == s` exactly. A prefix of the rows is a partial drawing (the first strokes, as drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SCALE = 1 / 32  # offsets the model sees: simplified units / 32 (a typical step is then of order 1)


def encode(strokes: Sequence[tuple[Sequence[int], Sequence[int]]], max_points: int | None = None) -> np.ndarray:
    """int32 (T, 3) rows (dx, dy, pen) of the strokes, at most `max_points` rows (the first ones, as drawn)."""
    parts = [np.stack([np.asarray(xs, np.int64), np.asarray(ys, np.int64)], 1) for xs, ys in strokes if len(xs)]
    if not parts:
        return np.zeros((0, 3), np.int32)
    pts = np.concatenate(parts)
    pen = np.zeros(len(pts), np.int64)
    pen[np.cumsum([len(p) for p in parts]) - 1] = 1
    d = np.diff(pts, axis=0, prepend=np.zeros((1, 2), np.int64))
    rows = np.concatenate([d, pen[:, None]], 1).astype(np.int32)
    return rows if max_points is None else rows[:max_points]


def decode(rows: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """The strokes of `encode`'s rows (a stroke cut short by a prefix ends where the rows end)."""
    rows = np.asarray(rows, np.int64).reshape(-1, 3)
    pts = np.cumsum(rows[:, :2], axis=0)
    ends = np.flatnonzero(rows[:, 2] > 0) + 1
    out, start = [], 0
    for end in [*ends.tolist(), len(rows)]:
        if end > start:
            out.append((pts[start:end, 0].tolist(), pts[start:end, 1].tolist()))
        start = end
    return out


def of_drawing(d: Any, max_points: int | None = None) -> np.ndarray:
    """A `qdcore.data.strokes.Drawing`'s rows (simplified space); none for a drawing that could not be read."""
    return np.zeros((0, 3), np.int32) if d is None else encode(d.simplified(), max_points)


def padded(seqs: Sequence[np.ndarray], length: int | None = None,
           times: Sequence[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """float32 (N, L, 3) model input (offsets scaled, zero padding) and int64 lengths (at least 1: an empty
    drawing is one zero row, so every drawing gets a prediction); with `times` (each drawing's `time_shares`)
    a fourth column holds them."""
    lengths = np.array([max(1, len(s)) for s in seqs], np.int64)
    L = int(length or (lengths.max() if len(seqs) else 1))
    out = np.zeros((len(seqs), L, 3 if times is None else 4), np.float32)
    for i, s in enumerate(seqs):
        s = s[:L]
        out[i, :len(s), :2] = s[:, :2] * SCALE
        out[i, :len(s), 2] = s[:, 2]
        if times is not None:
            out[i, :len(s), 3] = times[i][:len(s)]
    return out, np.minimum(lengths, L)


def time_shares(d: Any, rows: int) -> np.ndarray:
    """float32 (rows,) share of the drawing's time at each of its first `rows` simplified points: each stroke's own
    first and last times (raw ndjson, the draw canvas) spread evenly over its points, times that go backwards held
    at their highest so far; without times, or when simplification dropped a stroke, the share of points drawn."""
    strokes = [] if d is None else d.simplified()
    sizes = [len(xs) for xs, _ in strokes if len(xs)]
    total = sum(sizes)
    times = getattr(d, "times", None)
    if times is not None and len([t for t in times if len(t)]) == len(sizes) and total:
        spans = [(float(t[0]), float(t[-1])) for t in times if len(t)]
        out = np.concatenate([np.linspace(a, b, k) for (a, b), k in zip(spans, sizes)])
        out = np.maximum.accumulate(out - out[0])
        if out[-1] > 0:
            return (out / out[-1]).astype(np.float32)[:rows]
    return ((np.arange(max(total, 1)) + 1) / max(total, 1)).astype(np.float32)[:rows]
