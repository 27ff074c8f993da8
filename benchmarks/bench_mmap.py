"""Sampling N drawings per class: memory-mapped NpyFolderSource vs np.load of whole files.

Writes a few Google-sized category files (default 3 x 100 MB, random sparse rows) to a
temp folder, then runs each way in a fresh child process and prints time, peak RSS and
peak heap (tracemalloc: what the process itself allocated) with the ratios; once with the
files in the page cache (warm) and once after evicting them (cold: posix_fadvise
DONTNEED on these temp files only).

Peak RSS also counts page-cache pages the kernel maps around each page fault
(fault-around, readahead), which are shared and reclaimable: with a warm cache they make
the mapped files look resident although the process copied only the sampled rows.

    .venv/bin/python benchmarks/bench_mmap.py [--files 3] [--mb 100] [--per-class 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

CATS = ["cat", "dog", "apple", "fish", "bicycle", "eye"]


def make_files(root: Path, files: int, mb: int) -> None:
    rows = mb * 1_000_000 // 784
    for k, cat in enumerate(CATS[:files]):
        mm = np.lib.format.open_memmap(root / f"{cat}.npy", mode="w+", dtype=np.uint8, shape=(rows, 784))
        rng = np.random.default_rng(k)
        for start in range(0, rows, 20_000):
            block = rng.integers(0, 256, size=(min(20_000, rows - start), 784), dtype=np.uint8)
            block[block < 200] = 0  # mostly black, like real bitmaps
            mm[start:start + len(block)] = block
        mm.flush()
        del mm


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: that one keeps the parent's peak across fork and exec."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, root: str, per_class: int, seed: int, trace: bool) -> None:
    from qdcore.data.drawingset import _rng, select
    from qdcore.data.local import NpyFolderSource

    if trace:  # a separate run: tracing slows allocations down
        tracemalloc.start()
    t = time.perf_counter()
    if mode == "mmap":
        ds = select(NpyFolderSource(root), None, per_class, seed)
        n, checksum = len(ds), int(ds.images.sum(dtype=np.int64))
    else:
        n, checksum = 0, 0
        for p in sorted(Path(root).glob("*.npy")):
            a = np.load(p)  # the whole file in RAM
            # The same rows select() picks, so both ways return the same drawings.
            rows = np.sort(_rng(seed, "select", p.stem).choice(len(a), size=per_class, replace=False))
            s = a[rows]
            n, checksum = n + len(s), checksum + int(s.sum(dtype=np.int64))
            del a
    dt = time.perf_counter() - t
    heap_mb = tracemalloc.get_traced_memory()[1] / 1e6
    rss_mb = peak_rss_mb()
    print(json.dumps({"mode": mode, "seconds": dt, "peak_rss_mb": rss_mb, "peak_heap_mb": heap_mb, "n": n,
                      "checksum": checksum}))


def evict(root: Path) -> None:
    """Drop these files (only) from the page cache."""
    for p in root.glob("*.npy"):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_child(mode: str, root: Path, per_class: int, seed: int, trace: bool = False) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", mode, "--root", str(root), "--per-class", str(per_class),
                          "--seed", str(seed)] + (["--trace"] if trace else []), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=3)
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--root")
    ap.add_argument("--trace", action="store_true")
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.root, a.per_class, a.seed, a.trace)
    with tempfile.TemporaryDirectory(prefix="qd-bench-mmap-") as tmp:
        root = Path(tmp)
        make_files(root, a.files, a.mb)
        print(f"{a.files} files x {a.mb} MB, {a.per_class} drawings per class, best of {a.repeat}")
        for cache in ("warm", "cold"):
            best = {}
            for mode in ("load", "mmap"):
                runs = []
                for _ in range(a.repeat):
                    if cache == "cold" and hasattr(os, "posix_fadvise"):
                        evict(root)
                    runs.append(run_child(mode, root, a.per_class, a.seed))
                best[mode] = r = min(runs, key=lambda r: r["seconds"])
                r["peak_heap_mb"] = run_child(mode, root, a.per_class, a.seed, trace=True)["peak_heap_mb"]
                print(f"  {cache} {mode:5s} {r['seconds'] * 1000:8.1f} ms  peak RSS {r['peak_rss_mb']:7.1f} MB  "
                      f"peak heap {r['peak_heap_mb']:7.1f} MB  ({r['n']} drawings)")
            assert best["load"]["checksum"] == best["mmap"]["checksum"], "both ways must pick the same drawings"
            lo, mm = best["load"], best["mmap"]
            print(f"  {cache}: mmap is {lo['seconds'] / mm['seconds']:.1f}x faster than np.load, "
                  f"peak RSS {lo['peak_rss_mb'] / mm['peak_rss_mb']:.2f}x, peak heap {lo['peak_heap_mb'] / mm['peak_heap_mb']:.1f}x smaller")


if __name__ == "__main__":
    main()
