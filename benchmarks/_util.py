"""Helpers shared by the benchmark scripts (run as `python benchmarks/bench_X.py`, so this folder is on sys.path)."""

from __future__ import annotations

import argparse
import time


def best_of(fn, repeats: int = 3) -> float:
    """The fastest of `repeats` timed calls of fn(), in seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def counts(doc: str, *spec: tuple[str, int, str]) -> list[int]:
    """Optional positional whole numbers (name, default, help) with --help from the script's docstring."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    for name, default, what in spec:
        ap.add_argument(name.lower(), nargs="?", type=int, default=default, help=f"{what} (default {default:,})")
    a = ap.parse_args()
    return [getattr(a, name.lower()) for name, _, _ in spec]
