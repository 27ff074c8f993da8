"""Rasteriser throughput: batched rasterize_many vs a per-drawing loop, on real strokes.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_raster.py [N]
Uses ../shared/quickdraw/simplified when present, else random-walk strokes.
"""

from __future__ import annotations

import json

import numpy as np
from _util import best_of, counts

from qdcore.data.raster import rasterize, rasterize_many
from qdcore.paths import shared_quickdraw


def drawings(n: int) -> tuple[list, str]:
    root = shared_quickdraw()
    if root is not None and (root / "simplified").is_dir():
        out = []
        for f in sorted((root / "simplified").glob("*.ndjson")):
            out += [json.loads(line)["drawing"] for line in f.read_text(encoding="utf-8").splitlines() if line]
            if len(out) >= n:
                break
        return (out * (n // max(1, len(out)) + 1))[:n], "real simplified strokes"
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        strokes = []
        for _ in range(rng.integers(1, 8)):
            pts = np.cumsum(rng.normal(0, 12, (int(rng.integers(2, 20)), 2)), axis=0) + 128
            pts = np.clip(pts, 0, 255).round()
            strokes.append((pts[:, 0].tolist(), pts[:, 1].tolist()))
        out.append(strokes)
    return out, "random-walk strokes"


def main() -> None:
    (n,) = counts(__doc__, ("N", 20_000, "drawings to rasterise"))
    data, what = drawings(n)
    pts = np.mean([sum(len(s[0]) for s in d) for d in data])
    base_n = min(n, 2_000)  # the loop is slow; time it on a slice
    t_loop = best_of(lambda: [rasterize(d) for d in data[:base_n]]) / base_n
    t_batch = best_of(lambda: rasterize_many(data)) / n
    assert np.array_equal(rasterize_many(data[:50]), np.stack([rasterize(d) for d in data[:50]]))
    print(f"{n:,} drawings ({what}, {pts:.0f} points each on average)")
    print(f"per-drawing loop : {1 / t_loop:10,.0f} drawings/s")
    print(f"rasterize_many   : {1 / t_batch:10,.0f} drawings/s  ({n * t_batch:.2f} s for {n:,})")
    print(f"speed-up         : {t_loop / t_batch:10.1f}x")


if __name__ == "__main__":
    main()
