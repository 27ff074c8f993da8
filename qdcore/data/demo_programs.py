"""Stroke programs of the demo set: each draws n doodles of one class the way hurried people do.

A program takes a numpy Generator and a count and returns n drawings, each a list of strokes
(float arrays (P, 2), x right, y down, roughly within [-1.3, 1.3]). demo.py then rotates,
stretches, shears and normalises them into Google's simplified 0..255 space.

Variation is built in where people vary: wobble (low-frequency drift along a stroke),
where a stroke starts and which way it goes, how many strokes a shape takes, unclosed or
overshooting outlines, rounded corners, vertex placement. Some pairs are meant to be
confused, as people confuse them: hexagon/octagon (miscounted sides: both are sometimes
drawn with seven), octagon/circle (eight soft corners at 28 px), square/diamond (tilted
squares, rhombi turned towards upright) and triangle/mountain (a single peak on a ground
line). A small CNN reaches about 93% on 2,000 per class, most errors on those pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Drawing = list[np.ndarray]
Program = Callable[[np.random.Generator, int], list[Drawing]]

TAU = 2 * np.pi

# The designed confusable pairs, strongest first.
CONFUSABLE_PAIRS: list[tuple[str, str]] = [
    ("hexagon", "octagon"),
    ("circle", "octagon"),
    ("square", "diamond"),
    ("triangle", "mountain"),
]


def _wobble(rng: np.random.Generator, pts: np.ndarray, amp: np.ndarray, span: float = 1.0) -> np.ndarray:
    """Add smooth drift to paths (n, P, 2): a few sinusoids per axis, slow ones strongest."""
    n, p, _ = pts.shape
    s = np.linspace(0.0, span, p, dtype=np.float32)[None, :, None]
    noise = np.zeros(pts.shape, np.float32)  # float32: sin dominates the cost
    for lo, hi, weight in ((0.4, 1.2, 1.0), (1.2, 2.6, 0.5), (2.6, 5.0, 0.22)):
        f = rng.uniform(lo, hi, (n, 1, 2)).astype(np.float32) * np.float32(TAU)
        ph = rng.uniform(0.0, TAU, (n, 1, 2)).astype(np.float32)
        a = ((amp * weight)[:, None, None] * rng.uniform(0.4, 1.0, (n, 1, 2))).astype(np.float32)
        noise += a * np.sin(f * s + ph)
    return pts + noise


def _reorder(rng: np.random.Generator, strokes: Drawing) -> Drawing:
    """Sometimes reverse a stroke or draw the strokes in another order."""
    u = rng.random(len(strokes) + 1)
    if len(strokes) > 1 and u[-1] < 0.3:
        strokes = [strokes[i] for i in np.argsort(u[:-1])]
    return [s[::-1] if v < 0.15 else s for s, v in zip(strokes, u)]


def _closed_shape(rng: np.random.Generator, verts: np.ndarray, m: int, *, wobble: float,
                  n_strokes: tuple[list[int], list[float]], round_p: float = 0.0,
                  close_mu: float = 0.02, close_sd: float = 0.035, rotate_start: bool = True) -> list[Drawing]:
    """Outline closed polygons verts (n, k, 2) with m points per edge, as hands do.

    The pen starts at a random vertex, goes either way round and stops a little short of or
    past the start; some outlines break into several strokes at vertices; some get rounded
    corners (round_p), which pulls polygons towards circles.
    """
    n, k = int(verts.shape[0]), int(verts.shape[1])
    if rotate_start:
        start = rng.integers(0, k, n)
        verts = np.take_along_axis(verts, ((start[:, None] + np.arange(k)) % k)[:, :, None], axis=1)
    rev = rng.random(n) < 0.4
    verts = np.where(rev[:, None, None], verts[:, ::-1], verts)
    base_n = k * m
    i = np.arange(base_n)
    e, f = i // m, (i % m) / m
    base = verts[:, e] + (verts[:, (e + 1) % k] - verts[:, e]) * f[None, :, None]
    if round_p > 0:
        # Cyclic [1 2 1] smoothing, 1-4 passes where corners get rounded.
        passes = np.where(rng.random(n) < round_p, rng.integers(1, 5, n), 0)
        for t in range(int(passes.max(initial=0))):
            sm = (np.roll(base, 1, axis=1) + 2 * base + np.roll(base, -1, axis=1)) / 4
            base = np.where((passes > t)[:, None, None], sm, base)
    # One extra edge beyond the start, for overshoot.
    idx = np.arange(base_n + m + 1)
    full = _wobble(rng, base[:, idx % base_n], wobble * rng.uniform(0.6, 1.4, n), span=len(idx) / base_n)
    close = np.clip(rng.normal(close_mu, close_sd, n), -0.15, (m + 0.4) / base_n)
    end = np.clip(np.round(base_n * (1 + close)).astype(int), max(2, base_n // 2), base_n + m)
    counts, probs = n_strokes
    ns = rng.choice(counts, size=n, p=probs)
    jit = rng.normal(0.0, 0.025, (n, k, 2))
    cut_order = np.argsort(rng.random((n, k - 1)), axis=1) + 1  # random vertices to break at
    out = []
    for d in range(n):
        pts, stop = full[d], int(end[d])
        if ns[d] <= 1:
            out.append([pts[: stop + 1]])  # direction is already random (rev)
            continue
        cuts = np.sort(cut_order[d, : min(ns[d], k) - 1]) * m
        bounds = [0, *cuts.tolist(), stop]
        strokes = [pts[a : b + 1] + jit[d, j] for j, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])) if b > a]
        out.append(_reorder(rng, strokes))
    return out


def _regular(rng: np.random.Generator, n: int, k: int, phase: np.ndarray, ang_sd: float, rad_sd: float) -> np.ndarray:
    """Vertices (n, k, 2) of jittered regular k-gons with the given phase (radians)."""
    ang = phase[:, None] + TAU * np.arange(k)[None, :] / k + rng.normal(0.0, ang_sd, (n, k))
    rad = 1.0 + rng.normal(0.0, rad_sd, (n, k))
    return np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=-1)


def _polyline(rng: np.random.Generator, verts: np.ndarray, m: int, wobble: float) -> np.ndarray:
    """Open paths (n, (k-1)*m+1, 2) through verts (n, k, 2), wobbled."""
    n, k = int(verts.shape[0]), int(verts.shape[1])
    i = np.arange((k - 1) * m + 1)
    e = np.minimum(i // m, k - 2)
    f = (i - e * m) / m
    pts = verts[:, e] + (verts[:, e + 1] - verts[:, e]) * f[None, :, None]
    return _wobble(rng, pts, wobble * rng.uniform(0.6, 1.4, n))


def circle(rng: np.random.Generator, n: int) -> list[Drawing]:
    """One loop (sometimes two arcs), a bit egg-shaped, rarely closed exactly."""
    k = 24
    phase = rng.uniform(0, TAU, n)
    verts = _regular(rng, n, k, phase, 0.02, 0.015)
    return _closed_shape(rng, verts, 1, wobble=0.07, n_strokes=([1, 2], [0.88, 0.12]),
                         close_mu=0.04, close_sd=0.05, rotate_start=False)


def _ngons(rng: np.random.Generator, n: int, sides: tuple[list[int], list[float]], usual: int,
           phases: tuple[float, float, float], ang_sd: float, rad_sd: float, round_p: float) -> list[Drawing]:
    """k-gons where k is usually `usual` but sometimes miscounted, as people do when drawing fast.

    phases: (first phase, second phase, probability of the first) for the usual k; others random.
    """
    ks = rng.choice(sides[0], size=n, p=sides[1])
    out: list[Drawing] = [[] for _ in range(n)]
    for k in sorted(set(ks.tolist())):
        sel = np.flatnonzero(ks == k)
        q = len(sel)
        if k == usual:
            phase = np.where(rng.random(q) < phases[2], phases[0], phases[1]) + rng.normal(0, 0.07, q)
        else:
            phase = rng.uniform(0, TAU, q)
        verts = _regular(rng, q, k, phase, ang_sd, rad_sd)
        modes = ([1, 2, 3, k], [0.7, 0.15, 0.05, 0.1])
        for d, dr in zip(sel.tolist(), _closed_shape(rng, verts, 3, wobble=0.05, n_strokes=modes, round_p=round_p)):
            out[d] = dr
    return out


def hexagon(rng: np.random.Generator, n: int) -> list[Drawing]:
    """Six sides (seven or five when miscounted), flat or pointy top, sometimes in several strokes."""
    return _ngons(rng, n, ([6, 7, 5], [0.66, 0.31, 0.03]), 6, (0.0, np.pi / 6, 0.5), 0.1, 0.07, 0.0)


def octagon(rng: np.random.Generator, n: int) -> list[Drawing]:
    """Eight sides (seven, nine or six when miscounted), usually flat on top like a stop sign."""
    return _ngons(rng, n, ([8, 7, 9, 6], [0.64, 0.3, 0.03, 0.03]), 8, (np.pi / 8, 0.0, 0.75), 0.08, 0.06, 0.12)


def square(rng: np.random.Generator, n: int) -> list[Drawing]:
    """Four sides, mostly upright; some tilted by people who draw fast."""
    tilt = np.where(rng.random(n) < 0.65, rng.normal(0, 0.06, n), rng.uniform(-0.78, 0.78, n))
    verts = _regular(rng, n, 4, np.pi / 4 + tilt, 0.05, 0.05)
    return _closed_shape(rng, verts, 3, wobble=0.04, n_strokes=([1, 2, 3, 4], [0.55, 0.2, 0.05, 0.2]))


def _gem(rng: np.random.Generator, n: int) -> list[Drawing]:
    """A cut gem: crown, girdle line, pavilion down to a point, sometimes facets."""
    top = rng.uniform(0.35, 0.65, n)
    girdle_y = rng.uniform(-0.35, -0.05, n)
    top_y = girdle_y - rng.uniform(0.3, 0.55, n)
    z = np.zeros(n)
    verts = np.stack([
        np.stack([-top, top_y], -1), np.stack([top, top_y], -1), np.stack([z + 1, girdle_y], -1),
        np.stack([z + rng.normal(0, 0.06, n), z + 1], -1), np.stack([z - 1, girdle_y], -1),
    ], axis=1) + rng.normal(0, 0.04, (n, 5, 2))
    outlines = _closed_shape(rng, verts, 3, wobble=0.04, n_strokes=([1, 2], [0.8, 0.2]), rotate_start=False)
    girdle = _polyline(rng, verts[:, [4, 2]], 4, 0.03)
    facet_l = _polyline(rng, np.stack([verts[:, 0] * [0.4, 1], verts[:, 3]], 1), 3, 0.03)
    facet_r = _polyline(rng, np.stack([verts[:, 1] * [0.4, 1], verts[:, 3]], 1), 3, 0.03)
    facets = rng.random(n) < 0.5
    return [o + [girdle[d]] + ([facet_l[d], facet_r[d]] if facets[d] else []) for d, o in enumerate(outlines)]


def diamond(rng: np.random.Generator, n: int) -> list[Drawing]:
    """Mostly a rhombus on its point (tall or squat), otherwise a cut gem."""
    gem = rng.random(n) < 0.3
    n_rh = int((~gem).sum())
    w = rng.uniform(0.6, 1.1, n_rh)
    mid = rng.normal(-0.05, 0.1, n_rh)
    z = np.zeros(n_rh)
    verts = np.stack([np.stack([z, z - 1], -1), np.stack([w, mid], -1), np.stack([z, z + 1], -1),
                      np.stack([-w, mid], -1)], axis=1) + rng.normal(0, 0.04, (n_rh, 4, 2))
    rh = _closed_shape(rng, verts, 3, wobble=0.04, n_strokes=([1, 2, 4], [0.65, 0.25, 0.1]))
    gems = _gem(rng, int(gem.sum()))
    it_rh, it_gem = iter(rh), iter(gems)
    return [next(it_gem) if g else next(it_rh) for g in gem]


def triangle(rng: np.random.Generator, n: int) -> list[Drawing]:
    """Three sides, usually pointing up, in one stroke or a peak plus a base."""
    z = np.zeros(n)
    half = rng.uniform(0.75, 1.15, n)
    verts = np.stack([np.stack([rng.normal(0, 0.15, n), z - 1], -1), np.stack([half, z + 0.75], -1),
                      np.stack([-half, z + 0.75], -1)], axis=1) + rng.normal(0, 0.05, (n, 3, 2))
    flip = rng.random(n)
    ang = np.where(flip < 0.04, np.pi, np.where(flip < 0.1, rng.uniform(0, TAU, n), 0.0))
    c, s = np.cos(ang)[:, None], np.sin(ang)[:, None]
    verts = np.stack([c * verts[..., 0] - s * verts[..., 1], s * verts[..., 0] + c * verts[..., 1]], -1)
    return _closed_shape(rng, verts, 3, wobble=0.045, n_strokes=([1, 2, 3], [0.6, 0.25, 0.15]))


def mountain(rng: np.random.Generator, n: int) -> list[Drawing]:
    """A peak or a range, open at the bottom or standing on a ground line, sometimes snow-capped."""
    peaks = rng.choice([1, 2, 3], size=n, p=[0.55, 0.27, 0.18])
    ground = rng.random(n) < np.where(peaks == 1, 0.6, 0.25)
    snow = rng.random(n) < 0.15
    out = []
    for p in (1, 2, 3):
        sel = np.flatnonzero(peaks == p)
        if len(sel) == 0:
            continue
        q = len(sel)
        width = 1.0 if p == 1 else 1.4
        xs = np.linspace(-width, width, 2 * p + 1)[None, :] + rng.normal(0, 0.07, (q, 2 * p + 1))
        ys = np.empty((q, 2 * p + 1))
        ys[:, 0::2] = 0.75 + rng.normal(0, 0.06, (q, p + 1))
        ys[:, 1::2] = rng.uniform(-1.0, -0.45, (q, p))
        if p > 1:
            ys[:, 2:-1:2] = rng.uniform(-0.2, 0.45, (q, p - 1))
        verts = np.stack([xs, ys], -1)
        ridge = _polyline(rng, verts, 3, 0.04)
        ext = np.abs(rng.normal(0, 0.15, (q, 2)))
        gl = np.stack([np.stack([xs[:, 0] - ext[:, 0], ys[:, 0]], -1),
                       np.stack([xs[:, -1] + ext[:, 1], ys[:, -1]], -1)], 1)
        gline = _polyline(rng, gl, 4, 0.03)
        top = np.argmin(ys[:, 1::2], axis=1) * 2 + 1
        for j, d in enumerate(sel):
            strokes = [ridge[j]]
            if ground[d]:
                strokes.append(gline[j])
            if snow[d]:
                t = top[j]
                ax, ay = xs[j, t], ys[j, t]
                lx, ly = xs[j, t - 1], ys[j, t - 1]
                rx, ry = xs[j, t + 1], ys[j, t + 1]
                h = rng.uniform(0.25, 0.4)
                u = np.linspace(0, 1, 5)
                cx = ax + (lx - ax) * h + ((rx - ax) * h - (lx - ax) * h) * u
                cy = ay + (ly - ay) * h + ((ry - ay) * h - (ly - ay) * h) * u + 0.08 * (u * 4 % 2 == 1)
                strokes.append(np.stack([cx, cy], -1))
            out.append((d, _reorder(rng, strokes)))
    out.sort(key=lambda t: t[0])
    return [s for _, s in out]


def star(rng: np.random.Generator, n: int) -> list[Drawing]:
    """Five points: a one-stroke pentagram or a ten-corner outline."""
    pent = rng.random(n) < 0.5
    phase = -np.pi / 2 + rng.normal(0, 0.08, n)
    outer = _regular(rng, n, 5, phase, 0.06, 0.06)
    inner_r = rng.uniform(0.32, 0.5, n)[:, None]
    inner = _regular(rng, n, 5, phase + np.pi / 5, 0.06, 0.06) * inner_r[..., None]
    outline = np.stack([outer, inner], axis=2).reshape(n, 10, 2)
    gram = outer[:, [0, 2, 4, 1, 3]]
    a = _closed_shape(rng, gram, 3, wobble=0.05, n_strokes=([1, 2], [0.9, 0.1]), rotate_start=False)
    b = _closed_shape(rng, outline, 2, wobble=0.04, n_strokes=([1, 2], [0.85, 0.15]))
    return [a[d] if pent[d] else b[d] for d in range(n)]


def sun(rng: np.random.Generator, n: int) -> list[Drawing]:
    """A small circle with short rays all round (drawn one by one)."""
    disc = circle(rng, n)
    r0 = rng.uniform(0.35, 0.55, n)
    n_rays = rng.integers(6, 13, n)
    out = []
    for d in range(n):
        k = int(n_rays[d])
        ang = rng.uniform(0, TAU) + TAU * np.arange(k) / k + rng.normal(0, 0.08, k)
        a = r0[d] * (1.25 + np.abs(rng.normal(0, 0.08, k)))
        b = a + rng.uniform(0.35, 0.6) * (1 + rng.normal(0, 0.12, k))
        cs = np.stack([np.cos(ang), np.sin(ang)], -1)  # (k, 2)
        rays = np.stack([a[:, None] * cs, b[:, None] * cs], 1)  # (k, 2 points, 2)
        out.append([s * r0[d] for s in disc[d]] + list(rays))
    return out


def moon(rng: np.random.Generator, n: int) -> list[Drawing]:
    """A crescent: the outer arc and the inner arc back, usually in one stroke."""
    phi = rng.uniform(0.5, 1.2, n)  # tip angle from the open side's axis
    depth = rng.uniform(-0.55, 0.25, n)  # where the inner arc crosses the axis
    m = 16
    u = np.linspace(0, 1, m)
    ang = phi[:, None] + (TAU - 2 * phi[:, None]) * u[None, :]
    outer = np.stack([np.cos(ang), np.sin(ang)], -1)
    tip_x, tip_y = np.cos(phi), np.sin(phi)
    v = u[None, ::-1]
    inner_x = tip_x[:, None] + (depth - tip_x)[:, None] * np.sin(np.pi * v)
    inner_y = -tip_y[:, None] * np.cos(np.pi * v)
    inner = np.stack([inner_x, -inner_y], -1)[:, 1:]
    path = _wobble(rng, np.concatenate([outer, inner], axis=1), 0.04 * rng.uniform(0.6, 1.4, n))
    turn = rng.uniform(-0.6, 0.6, n) + np.where(rng.random(n) < 0.5, np.pi, 0.0)
    c, s = np.cos(turn)[:, None], np.sin(turn)[:, None]
    path = np.stack([c * path[..., 0] - s * path[..., 1], s * path[..., 0] + c * path[..., 1]], -1)
    two = rng.random(n) < 0.3
    return [_reorder(rng, [path[d, :m], path[d, m - 1:]]) if two[d] else [path[d]] for d in range(n)]


def cloud(rng: np.random.Generator, n: int) -> list[Drawing]:
    """A wide scalloped outline, often flat underneath."""
    bumps = rng.integers(4, 9, n)
    per = 6
    out: list[tuple[int, Drawing]] = []
    amp = rng.uniform(0.18, 0.35, n)
    flat = rng.random(n) < 0.5
    for b in range(4, 9):
        sel = np.flatnonzero(bumps == b)
        if len(sel) == 0:
            continue
        q = len(sel)
        th = np.linspace(0, TAU, b * per, endpoint=False)[None, :] + rng.uniform(0, TAU / b, (q, 1))
        r = 1 + amp[sel, None] * (np.abs(np.sin(b * th / 2)) - 0.5)
        pts = np.stack([r * np.cos(th) * rng.uniform(1.4, 2.0, (q, 1)), r * np.sin(th)], -1)
        bottom = rng.uniform(0.45, 0.75, q)
        pts[..., 1] = np.where(flat[sel, None], np.minimum(pts[..., 1], bottom[:, None]), pts[..., 1])
        draws = _closed_shape(rng, pts, 1, wobble=0.05, n_strokes=([1, 2], [0.9, 0.1]), close_mu=0.03)
        out.extend(zip(sel.tolist(), draws))
    out.sort(key=lambda t: t[0])
    return [s for _, s in out]


def zigzag(rng: np.random.Generator, n: int) -> list[Drawing]:
    """A sideways zigzag of three to nine strokes' worth of teeth, in one line."""
    segs = rng.integers(3, 10, n)
    out: list[tuple[int, Drawing]] = []
    for k in range(3, 10):
        sel = np.flatnonzero(segs == k)
        if len(sel) == 0:
            continue
        q = len(sel)
        xs = np.linspace(-1, 1, k + 1)[None, :] + rng.normal(0, 0.5 / k, (q, k + 1))
        h = rng.uniform(0.15, 0.5, (q, 1))
        ys = h * np.where(np.arange(k + 1) % 2 == 0, 1.0, -1.0)[None, :] + rng.normal(0, 0.05, (q, k + 1))
        path = _polyline(rng, np.stack([xs, ys], -1), 2, 0.03)
        out.extend((d, [path[j] if rng.random() < 0.8 else path[j, ::-1]]) for j, d in enumerate(sel.tolist()))
    out.sort(key=lambda t: t[0])
    return [s for _, s in out]


# Class name -> (program, sd of the extra whole-drawing rotation in radians).
PROGRAMS: dict[str, tuple[Program, float]] = {
    "circle": (circle, 0.3),
    "cloud": (cloud, 0.08),
    "diamond": (diamond, 0.22),
    "hexagon": (hexagon, 0.06),
    "moon": (moon, 0.1),
    "mountain": (mountain, 0.06),
    "octagon": (octagon, 0.06),
    "square": (square, 0.05),
    "star": (star, 0.08),
    "sun": (sun, 0.1),
    "triangle": (triangle, 0.06),
    "zigzag": (zigzag, 0.15),
}
