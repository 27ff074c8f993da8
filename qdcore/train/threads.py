"""How many CPU threads PyTorch should use: the cores other processes leave free, not every core.

On a busy machine PyTorch's default (one OpenMP thread per core) is the slowest choice: each op ends
at a barrier where the threads that did get a core spin while one waits to be scheduled. Measured
on the 2-core box at load 14-18 (benchmarks/bench_engine.py prints both): 2 threads trained 6-8x slower than
1 and burned 8x the CPU time, for the engine and a textbook DataLoader loop alike.
"""

from __future__ import annotations

import os
import time

import torch

_CEILING: int | None = None  # torch's thread count when first asked: a study worker's share, or every core


def cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _running_now(samples: int = 5) -> int | None:
    """Runnable threads this instant besides the caller (median of a few reads of /proc/loadavg), Linux only."""
    counts = []
    for i in range(samples):
        try:
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            return None
        if i + 1 < samples:
            time.sleep(0.002)
    return sorted(counts)[len(counts) // 2]


def load() -> float | None:
    """Other work wanting the CPUs: the larger of the 1-minute load average and the runnable threads now.

    The average lags a load that has just started by a minute; the instant count catches it."""
    try:
        avg = os.getloadavg()[0]
    except (AttributeError, OSError):
        avg = None
    now = _running_now()
    if avg is None or now is None:
        return avg if now is None else float(now)
    return max(avg, float(now))


def threads_for(ceiling: int, load_avg: float | None, own: int = 0) -> int:
    """Threads to use: the ceiling less the cores others keep busy (load minus our own `own`), at least 1."""
    if load_avg is None:
        return ceiling
    others = max(0.0, load_avg - own)
    return max(1, min(ceiling, int(ceiling - others + 0.5)))


def fit_threads(own: int = 0) -> int:
    """Set torch's intra-op threads to the free cores (unless OMP_NUM_THREADS says); returns the count."""
    global _CEILING
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()  # the user chose
    if _CEILING is None:
        _CEILING = max(1, min(torch.get_num_threads(), cores()))
    n = threads_for(_CEILING, load(), own)
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n


def keep_threads(saved: int) -> str | None:
    """On resume, use the thread count the run started with (unless OMP_NUM_THREADS says): a CPU op's sums run
    in another order on another count, so the resumed run would not end bit for bit where an unbroken one does."""
    if saved <= 0 or os.environ.get("OMP_NUM_THREADS") or saved == torch.get_num_threads():
        return None
    now = torch.get_num_threads()
    torch.set_num_threads(saved)
    return f"{saved} CPU thread{'s' if saved != 1 else ''} as when the run started (the load now suggested {now})"
