"""`qd --help` start-up time against the 0.5 s target, beside baselines measured in the same run.

Run: .venv/bin/python benchmarks/bench_startup.py [RUNS]
Each command runs RUNS times (default 10) as a fresh process: its wall time (best and median) and its CPU time
(user + system, best and median). On a busy machine the wall time waits for a core; the CPU time does not, and
is what a quiet machine's wall time comes to. Baselines: a bare interpreter, `import typer` (the floor of any
Typer CLI) and `import numpy` (what `qd --help` no longer loads). Then which heavy packages `qd --help` loaded.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _util import counts

TARGET_S = 0.5
HEAVY = ("torch", "numpy", "textual", "lightgbm", "sklearn", "scipy", "ray", "plotext", "PIL", "pandas")
QD_HELP = ("import sys\nfrom qdcore.cli.main import run\nsys.argv = ['qd', '--help']\n"
           "try:\n    run()\nexcept SystemExit:\n    pass\n")


def timed(argv: list[str], runs: int) -> tuple[float, float, float, float]:
    """(best wall, median wall, best CPU, median CPU) seconds of `runs` fresh processes."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return min(walls), statistics.median(walls), min(cpus), statistics.median(cpus)


def main() -> None:
    (runs,) = counts(__doc__, ("RUNS", 10, "fresh processes per command"))
    py = sys.executable
    qd = Path(py).with_name("qd")
    help_cmd = [str(qd), "--help"] if qd.exists() else [py, "-c", QD_HELP]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{runs} runs each; load average {load:.2f} on {os.cpu_count()} cores")
    rows = [("python -c pass", [py, "-c", "pass"]), ("import typer", [py, "-c", "import typer"]),
            ("import numpy", [py, "-c", "import numpy"]), ("qd --help", help_cmd)]
    got = {}
    for name, argv in rows:
        got[name] = timed(argv, runs)
        w, wm, c, cm = got[name]
        print(f"{name:15s} wall best {w:5.3f} s, median {wm:5.3f} s   CPU best {c:5.3f} s, median {cm:5.3f} s")
    w, wm, c, cm = got["qd --help"]
    typer_cpu = got["import typer"][3]
    print(f"qd --help: {cm / typer_cpu:.1f}x the CPU of importing Typer alone; CPU median {cm:.3f} s vs target "
          f"{TARGET_S} s -> {'meets' if cm <= TARGET_S else 'misses'} it (wall best {w:.3f} s: "
          f"{'meets' if w <= TARGET_S else 'misses'} it at this load)")
    probe = QD_HELP.replace("sys.argv", "import io, contextlib\nsys.stdout = io.StringIO()\nsys.argv", 1) + (
        f"sys.stdout = sys.__stdout__\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))\n")
    loaded = subprocess.run([py, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    print(f"heavy packages qd --help loaded: {loaded or 'none'} (of {', '.join(HEAVY)})")


if __name__ == "__main__":
    main()
