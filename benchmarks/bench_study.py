"""Studies: `--workers 2` vs `--workers 1` on one small --quick study (wall time ratio, same run), and the
projected hours of the named studies' full protocols on one device from the images/s measured in the study.

Each worker count runs the same study in a fresh store, alternating (1, 2, 1, 2, ...) so drift on a shared
machine hits both alike; wall time includes process start, data selection and every trial. Worker processes
split the CPU's threads between them (torch.set_num_threads(cores // workers)).

Usage: python benchmarks/bench_study.py [--study data-size] [--data demo] [--repeats 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run(study: str, data: str, workers: int) -> tuple[float, dict]:
    """(wall seconds, `qd study show --json`) of one `qd study run NAME --quick` in a fresh store."""
    home = tempfile.mkdtemp(prefix="qd-bench-study-")
    env = dict(os.environ, QD_HOME=home)
    env.pop("OMP_NUM_THREADS", None)  # the runner shares the cores out between workers
    cmd = [sys.executable, "-m", "qdcore.cli.main", "study", "run", study, "--quick", "--data", data,
           "--workers", str(workers)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"qd study run failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
    show = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "show", "1", "--json"],
                          capture_output=True, text=True, env=env)
    return wall, json.loads(show.stdout)


def projected_hours(study: str, shown: dict) -> float | None:
    """Hours of the full protocol on this device: its training images (drawings x epochs over the full grid)
    divided by the images/s the quick trials measured (same models; a GPU's images/s would replace it)."""
    from qdcore.studies.named import NAMED
    from qdcore.studies.spec import StudySpec, expand

    rates = [t["images_per_second"] for t in shown["trials"] if t.get("images_per_second")]
    if not rates:
        return None
    rate = statistics.median(rates)

    doc = NAMED[study].build(False)
    full = NAMED[study].categories(False)

    spec = StudySpec.from_dict({"name": study, "base": {**doc["base"], "categories": ",".join(full)},
                                "axes": doc.get("axes", {}), "variants": doc.get("variants", []),
                                "pool": full, "minority": full[-1]})
    images = 0.0
    for t in expand(spec):
        o = t.options
        n_cls = len(str(o["categories"]).split(","))
        per = o.get("per_class") or 0
        train_frac = 1 - o.get("val", 0.1) - o.get("test", 0.1)
        images += n_cls * per * train_frac * o.get("epochs", 10)
    return images / rate / 3600


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="data-size")
    ap.add_argument("--data", default="demo")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    times: dict[int, list[float]] = {1: [], args.workers: []}
    shown = None
    for _ in range(args.repeats):
        for w in (1, args.workers):
            wall, shown = run(args.study, args.data, w)
            times[w].append(wall)
            print(f"workers {w}: {wall:.1f} s", flush=True)
    one, many = statistics.median(times[1]), statistics.median(times[args.workers])
    print(f"{args.study} --quick on {args.data} ({len(shown['trials'])} trials): workers 1 {one:.1f} s, "
          f"workers {args.workers} {many:.1f} s: {one / many:.2f}x")
    hours = projected_hours(args.study, shown)
    if hours is not None:
        print(f"full {args.study} protocol at this device's measured images/s: {hours:.1f} hours")


if __name__ == "__main__":
    main()
