"""Baselines: LightGBM vs logistic regression vs the FC net vs width-k k=12, as study 003's table, in one run.

Data: every category of ../shared/quickdraw/numpy_bitmap (40), 500 drawings each, one 80:20
train:test split shared by all four models (no validation split: each trains for a fixed budget,
so early stopping never fires). Study 003 had 50 categories x 2,000 drawings; its figures are
printed beside ours. Budgets: LightGBM 100 rounds with its default trees (31 leaves, learning
rate 0.1; the study names no settings), logistic regression 100 L-BFGS iterations (C = 1),
FC 784-25-12-n and width-k k=12 with the plain recipe (Adam 1e-3, batch 256, 10 epochs).
Times are training seconds (wall clock) and the CPU seconds the process used for the model (on a
shared machine the wall clock counts other people's work too); the ratio column compares each
model's CPU time with logistic regression's, measured in the same run.

Run: OMP_NUM_THREADS=2 nice .venv/bin/python benchmarks/bench_baselines.py [--per-class N] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import time

from qdcore.data.drawingset import select, split
from qdcore.data.opener import open_source
from qdcore.paths import shared_quickdraw

STUDY_003 = {"lightgbm": 62.10, "logreg": None, "fc": 41.28, "widthk": 72.03}  # % top-1, 50 categories x 2,000
LABELS = {"lightgbm": "LightGBM", "logreg": "logistic regression", "fc": "fully connected (FC)",
          "widthk": "CNN width-k k=12"}


def _classical(name: str, common: dict, splits, threads: int, rounds: int) -> dict:
    from qdcore.train.classical import train_classical
    from qdcore.train.classical_config import ClassicalConfig

    cfg = ClassicalConfig(model=name, threads=threads, n_rounds=rounds, **common)
    return train_classical(cfg, splits=splits).summary


def _network(name: str, common: dict, splits, device: str) -> dict:
    from qdcore.train.config import build_config
    from qdcore.train.engine import train

    over = {**common, "model": name, "device": device, "width": 12 if name == "widthk" else None}
    return train(build_config("plain", None, over), splits=splits).summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=100, help="LightGBM boosting rounds")
    ap.add_argument("--threads", type=int, default=0, help="LightGBM/BLAS threads (0 = all)")
    ap.add_argument("--device", default="auto", help="device of the two networks")
    ap.add_argument("--only", action="append", choices=list(STUDY_003), help="run only these models")
    args = ap.parse_args()
    root = shared_quickdraw()
    if root is None:
        print("skipped: ../shared/quickdraw is not here (set QD_SHARED to its path)")
        return
    data = str(root / "numpy_bitmap")
    ds = select(open_source(data), None, args.per_class, args.seed)
    splits = split(ds, 0.0, 0.2, args.seed)
    print(f"{len(ds.classes)} categories x {args.per_class} drawings · train {len(splits.train):,} · "
          f"test {len(splits.test):,} (80:20, seed {args.seed})", flush=True)
    common = {"data": data, "per_class": args.per_class, "seed": args.seed, "val": 0.0, "test": 0.2}
    rows = {}
    for name in ("logreg", "lightgbm", "fc", "widthk"):
        if args.only and name not in args.only:
            continue
        cpu = time.process_time()
        if name in ("logreg", "lightgbm"):
            s = _classical(name, common, splits, args.threads, args.rounds)
        else:
            s = _network(name, common, splits, args.device)
        rows[name] = (s, time.process_time() - cpu)
        print(f"  {LABELS[name]}: {100 * s['test_top1']:.2f}% in {s['train_seconds']:.1f} s "
              f"({rows[name][1]:.1f} CPU s)", flush=True)

    print()
    ours = f"ours ({len(ds.classes)} x {args.per_class})"
    print(f"| model                | study 003 (50 x 2,000) | {ours:<15} | top-5   | train s | CPU s  | CPU vs logreg |")
    print("|----------------------|------------------------|-----------------|---------|---------|--------|"
          "---------------|")
    for name, (s, cpu) in rows.items():
        study = f"{STUDY_003[name]:.2f}%" if STUDY_003[name] is not None else "—"
        ratio = f"{cpu / rows['logreg'][1]:.1f}x" if "logreg" in rows else "—"
        print(f"| {LABELS[name]:<20} | {study:>22} | {100 * s['test_top1']:14.2f}% | {100 * s['test_top5']:6.2f}% "
              f"| {s['train_seconds']:7.1f} | {cpu:6.1f} | {ratio:>13} |")
    if "widthk" in rows:
        cnn = rows["widthk"][0]["test_top1"]
        gaps = ", ".join(f"{LABELS[n]} {100 * (s['test_top1'] - cnn):+.2f}" for n, (s, _) in rows.items()
                         if n != "widthk")
        print(f"points behind the CNN (study 003: LightGBM -9.93, FC -30.75): {gaps}")


if __name__ == "__main__":
    main()
