"""A drawing's beginning: its first share of ink (or of drawing time), cut exactly, and where each stroke ends.

Ink is the length of the strokes' polylines in the drawing's own coordinates (screen units for raw
drawings, 0..255 for simplified ones); time runs from the first point to the last (raw drawings and the
draw canvas). A cut falls inside a segment where it must, at an interpolated point, so a prefix holds
exactly the share asked for. A prefix is marked raw, so it is normalised on its own (aligned, scaled to
0..255) as the game would see it: a model never learns the size of the part not yet drawn.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np


def _points(d: Any) -> list[np.ndarray]:
    return [np.stack([np.asarray(xs, np.float64), np.asarray(ys, np.float64)], axis=1) for xs, ys in d.strokes]


def stroke_ink(d: Any) -> np.ndarray:
    """Each stroke's ink (polyline length)."""
    return np.array([float(np.hypot(*np.diff(p, axis=0).T).sum()) if len(p) > 1 else 0.0 for p in _points(d)])


def has_times(d: Any) -> bool:
    """Whether a drawing's times are usable: one per point, never going backwards, spanning some time."""
    if not getattr(d, "times", None):
        return False
    t = np.concatenate([np.asarray(s, np.float64) for s in d.times]) if d.times else np.zeros(0)
    n = sum(len(xs) for xs, _ in d.strokes)
    return t.size == n and t.size > 1 and bool(np.all(np.diff(t) >= 0)) and t[-1] > t[0]


def stroke_ends(d: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(share of ink, share of time or None) when each stroke ends: the stroke-by-stroke replay's moments."""
    ink = np.cumsum(stroke_ink(d))
    ink_share = ink / ink[-1] if ink.size and ink[-1] > 0 else np.ones(len(ink))
    if not has_times(d):
        return ink_share, None
    t0, t1 = float(d.times[0][0]), float(d.times[-1][-1])
    return ink_share, np.array([(float(s[-1]) - t0) / (t1 - t0) for s in d.times])


def _cut(pts: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
    """The first `length` of a polyline's ink, ending at an interpolated point; and each point's (fractional) index."""
    seg = np.hypot(*np.diff(pts, axis=0).T)
    cum = np.r_[0.0, np.cumsum(seg)]
    i = int(np.searchsorted(cum, length, side="right"))  # points 0..i-1 lie within the length
    if i >= len(pts):
        return pts, np.arange(len(pts), dtype=np.float64)
    f = (length - cum[i - 1]) / seg[i - 1] if seg[i - 1] > 0 else 0.0
    end = pts[i - 1] + f * (pts[i] - pts[i - 1])
    return np.vstack([pts[:i], end[None]]), np.r_[np.arange(i, dtype=np.float64), i - 1 + f]


def ink_prefix(d: Any, share: float) -> Any:
    """The drawing's first `share` (0..1] of ink, marked raw; the drawing itself at share 1."""
    if share >= 1.0:
        return d
    pts = _points(d)
    ink = stroke_ink(d)
    want = float(share) * float(ink.sum())
    strokes: list[tuple[list, list]] = []
    times: list[list] | None = [] if d.times else None
    used = 0.0
    for k, (p, length) in enumerate(zip(pts, ink)):
        if used + length <= want:
            strokes.append((p[:, 0].tolist(), p[:, 1].tolist()))
            if times is not None:
                times.append(list(d.times[k]))
            used += length
            continue
        if want - used <= 0:
            break
        part, at = _cut(p, want - used)
        if len(part) > 1:
            strokes.append((part[:, 0].tolist(), part[:, 1].tolist()))
            if times is not None:
                t = np.asarray(d.times[k], np.float64)
                times.append(np.interp(at, np.arange(len(t)), t).tolist())
        break
    return replace(d, strokes=strokes or [(pts[0][:1, 0].tolist(), pts[0][:1, 1].tolist())], raw=True,
                   times=times if times and len(times) == len(strokes) else None)


def time_prefix(d: Any, share: float) -> Any:
    """What was drawn in the first `share` (0..1] of the drawing's time, marked raw; needs has_times(d)."""
    if share >= 1.0:
        return d
    t0, t1 = float(d.times[0][0]), float(d.times[-1][-1])
    cutoff = t0 + float(share) * (t1 - t0)
    strokes: list[tuple[list, list]] = []
    times: list[list] = []
    for p, ts in zip(_points(d), d.times):
        t = np.asarray(ts, np.float64)
        if t[0] > cutoff:
            break
        i = int(np.searchsorted(t, cutoff, side="right"))
        part, tt = p[:i], t[:i]
        if i < len(t) and t[i] > t[i - 1]:  # the pen is between two points at the cutoff: end where it is
            f = (cutoff - t[i - 1]) / (t[i] - t[i - 1])
            part = np.vstack([part, (p[i - 1] + f * (p[i] - p[i - 1]))[None]])
            tt = np.r_[tt, cutoff]
        strokes.append((part[:, 0].tolist(), part[:, 1].tolist()))
        times.append(tt.tolist())
    return replace(d, strokes=strokes, raw=True, times=times)


def ink_share(prefix: Any, whole: Any) -> float:
    """How much of `whole`'s ink `prefix` holds."""
    total = float(stroke_ink(whole).sum())
    return float(stroke_ink(prefix).sum()) / total if total > 0 else 1.0
