"""Helpers shared by the benchmark scripts (run as `python benchmarks/bench_X.py`, so this folder is on sys.path)."""

from __future__ import annotations

import time


def best_of(fn, repeats: int = 3) -> float:
    """The fastest of `repeats` timed calls of fn(), in seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
