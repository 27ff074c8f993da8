"""Google's raw-to-simplified stroke recipe (align, scale to 255, resample, RDP epsilon 2.0).

From the dataset's documentation: align the drawing to the top-left corner (minimum 0),
scale it uniformly so the longer side spans 0..255, resample every stroke at 1-unit
spacing, simplify each stroke with Ramer-Douglas-Peucker at epsilon 2.0, round to
integers. Google's exact code is unpublished; rasters of this match Google's bitmaps
as closely as its own simplified strokes do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPSILON = 2.0
SPAN = 255.0


def simplify(raw: Sequence, epsilon: float = EPSILON, spacing: float = 1.0) -> list[tuple[list[int], list[int]]]:
    """Raw strokes (xs, ys[, ts]) in screen units -> simplified [(xs, ys)] ints in 0..255."""
    strokes = [
        (np.asarray(s[0], np.float64).ravel(), np.asarray(s[1], np.float64).ravel()) for s in raw if len(s[0])
    ]
    if not strokes:
        return []
    allx = np.concatenate([x for x, _ in strokes])
    ally = np.concatenate([y for _, y in strokes])
    x0, y0 = allx.min(), ally.min()
    extent = max(allx.max() - x0, ally.max() - y0)
    scale = SPAN / extent if extent > 0 else 1.0
    out = []
    for x, y in strokes:
        pts = np.stack([(x - x0) * scale, (y - y0) * scale], axis=1)
        pts = rdp(resample(pts, spacing), epsilon)
        r = np.rint(pts).astype(np.int64)
        out.append((r[:, 0].tolist(), r[:, 1].tolist()))
    return out


def resample(pts: np.ndarray, spacing: float = 1.0) -> np.ndarray:
    """Points every `spacing` units of arc length along a polyline (n, 2), ends kept."""
    if len(pts) < 2:
        return np.concatenate([pts, pts])  # a tap: Google keeps it as a two-point stroke
    step = np.hypot(*np.diff(pts, axis=0).T)
    keep = np.r_[True, step > 0]
    pts, s = pts[keep], np.r_[0.0, np.cumsum(step[step > 0])]
    if len(pts) < 2:
        return np.concatenate([pts[:1], pts[:1]])
    at = np.arange(0.0, s[-1], spacing)
    if s[-1] - at[-1] > 1e-9:
        at = np.r_[at, s[-1]]
    return np.stack([np.interp(at, s, pts[:, 0]), np.interp(at, s, pts[:, 1])], axis=1)


def rdp(pts: np.ndarray, epsilon: float = EPSILON) -> np.ndarray:
    """Ramer-Douglas-Peucker: the subset of (n, 2) points within `epsilon` of the polyline."""
    n = len(pts)
    if n < 3:
        return pts
    keep = np.zeros(n, bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        a, b = pts[i], pts[j]
        mid = pts[i + 1 : j]
        d = b - a
        norm = np.hypot(d[0], d[1])
        if norm > 0:
            dist = np.abs(d[0] * (mid[:, 1] - a[1]) - d[1] * (mid[:, 0] - a[0])) / norm
        else:
            dist = np.hypot(mid[:, 0] - a[0], mid[:, 1] - a[1])
        k = int(np.argmax(dist))
        if dist[k] > epsilon:
            m = i + 1 + k
            keep[m] = True
            stack.append((i, m))
            stack.append((m, j))
    return pts[keep]
