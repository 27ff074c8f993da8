"""Several small trials per GPU: a study of width-k k=12 trials run one at a time vs `--per-gpu K` at once.

Prints the study's throughput (training drawings of all trials / wall time, process start and data
loading included) for both and their ratio. On a machine without CUDA it compares `--workers 1` with
`--workers K` instead. Target on a GPU: at least 2x with K=4.

Then projects a named study's full protocol (--estimate, default double-descent) with `qd study estimate`'s
function: images/s timed here, and on a GPU --per-gpu K at the gain just measured (a width-k k=12 figure).

Usage: python benchmarks/bench_per_gpu.py [--data DIR] [--trials 8] [--k 4] [--per-class 1000] [--epochs 2]
                                          [--estimate NAME|'']
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def run_study(spec: dict, flags: list[str]) -> tuple[float, int]:
    """(wall seconds, training drawings processed) of one `qd study run` in a fresh store."""
    home = tempfile.mkdtemp(prefix="qd-bench-pergpu-")
    path = Path(home) / "spec.json"
    path.write_text(json.dumps(spec))
    env = dict(os.environ, QD_HOME=home)
    env.pop("OMP_NUM_THREADS", None)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "run", str(path), *flags],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"qd study run {' '.join(flags)} failed: {(p.stderr or p.stdout).strip()[-800:]}")
    from qdcore.store import Store

    with Store(home) as store:
        runs = store.list_runs(parent=1)
        seen = sum(int(r.summary.get("num_train", 0)) * int(r.summary.get("epochs", 0)) for r in runs)
    return wall, seen


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="demo")
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--k", type=int, default=4, help="trials at once (per GPU, or CPU workers)")
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--estimate", default="double-descent", help="named study to project ('' skips it)")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    spec = {"name": "per-gpu bench", "seeds": list(range(args.trials)),
            "base": {"data": args.data, "per_class": args.per_class, "epochs": args.epochs, "batch_size": 256,
                     "model": "widthk", "width": 12, "val": 0.1, "test": 0.1, "log_every": 50}}
    many = ["--per-gpu", str(args.k)] if cuda else ["--workers", str(args.k)]
    print(f"{args.trials} trials of widthk k=12, {args.per_class}/class of {args.data}, {args.epochs} epochs, "
          f"batch 256 · {'cuda: ' + torch.cuda.get_device_name() if cuda else 'cpu'}")
    one_wall, one_seen = run_study(spec, ["--workers", "1"])
    k_wall, k_seen = run_study(spec, many)
    a, b = one_seen / one_wall, k_seen / k_wall
    print(f"one at a time : {one_wall:7.1f} s wall, {a:10,.0f} drawings/s")
    print(f"{' '.join(many):<14}: {k_wall:7.1f} s wall, {b:10,.0f} drawings/s")
    print(f"ratio: {b / a:.2f}x (target on a GPU with --per-gpu 4: 2x)")
    if args.estimate:
        from qdcore.studies.estimate import estimate, spec_to_estimate

        spec, _, source = spec_to_estimate(args.estimate)
        shared = {"workers": args.k, "per_gpu": args.k, "gain": max(1.0, b / a)} if cuda else {}
        print("\n".join(estimate(spec, "auto", source=source, **shared).lines()))


if __name__ == "__main__":
    main()
