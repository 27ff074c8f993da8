"""Demo-set generation speed: 2,000 drawings per class against the 5 s target.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_demo.py [PER_CLASS] [REPEATS]
Times the whole generate() (stroke programs + rasteriser) and each half separately, best of
REPEATS, and prints the load average since a shared machine slows everything down.
"""

from __future__ import annotations

import os

from _util import best_of, counts

from qdcore.data.demo import DEMO_CLASSES, generate, generate_strokes
from qdcore.data.raster import rasterize_many

TARGET_S = 5.0  # for 2,000 drawings per class


def main() -> None:
    per_class, repeats = counts(__doc__, ("PER_CLASS", 2000, "drawings per class"), ("REPEATS", 3, "timed repeats"))
    n = per_class * len(DEMO_CLASSES)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    strokes = {c: generate_strokes(c, per_class, seed=0) for c in DEMO_CLASSES}
    t_strokes = best_of(lambda: [generate_strokes(c, per_class, seed=0) for c in DEMO_CLASSES], repeats)
    t_raster = best_of(lambda: [rasterize_many(s) for s in strokes.values()], repeats)
    t_total = best_of(lambda: generate(per_class, seed=0), repeats)
    points = sum(len(x) for s in strokes.values() for d in s for x, _ in d) / n
    scaled = t_total * 2000 / per_class
    print(f"demo set: {len(DEMO_CLASSES)} classes x {per_class:,} = {n:,} drawings "
          f"({points:.0f} points each on average); load average {load:.2f}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    print(f"stroke programs : {t_strokes:6.2f} s  ({n / t_strokes:10,.0f} drawings/s)")
    print(f"rasteriser      : {t_raster:6.2f} s  ({n / t_raster:10,.0f} drawings/s)")
    print(f"generate()      : {t_total:6.2f} s  ({n / t_total:10,.0f} drawings/s)")
    print(f"2,000 per class : {scaled:6.2f} s vs target {TARGET_S:.1f} s -> {TARGET_S / scaled:.2f}x "
          f"({'meets' if scaled <= TARGET_S else 'misses'} the target)")


if __name__ == "__main__":
    main()
