"""Accuracy: study 003's plain width-k k=12 recipe vs `--preset strong`, on real drawings, in one run.

Data: the `shared24` set of ../shared/quickdraw (24 categories), 1,000 drawings per class, an
80:20 train:test split (no validation split: both recipes train for a fixed number of epochs).
Plain: widthk k=12, Adam 1e-3, batch 256, 10 epochs (about 63% top-1 here). The strong preset
must beat it by at least 8 points within about 5 minutes of CPU training.

Run: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_accuracy.py [--only plain|strong] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from qdcore.data.drawingset import select, split
from qdcore.data.opener import open_source
from qdcore.paths import shared_quickdraw
from qdcore.train.config import build_config
from qdcore.train.engine import train

TARGET_POINTS = 8.0
BUDGET_SECONDS = 300.0


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("plain", "strong"))
    ap.add_argument("--per-class", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override an option of the strong recipe (exploring presets)")
    args = ap.parse_args()
    root = shared_quickdraw()
    if root is None:
        print("skipped: ../shared/quickdraw is not here (set QD_SHARED to its path)")
        return
    ds = select(open_source(root / "numpy_bitmap"), "shared24", args.per_class, args.seed)
    splits = split(ds, 0.0, 0.2, args.seed)
    print(f"shared24: {len(ds.classes)} classes x {args.per_class} drawings · train {len(splits.train):,} · "
          f"test {len(splits.test):,}")
    common = {"val": 0.0, "test": 0.2, "seed": args.seed, "device": args.device, "per_class": args.per_class,
              "categories": "shared24", "data": str(root / "numpy_bitmap")}
    extra = dict(kv.split("=", 1) for kv in args.set)
    results = {}
    for name in ("plain", "strong"):
        if args.only and args.only != name:
            continue
        over = dict(common)
        if name == "strong":
            over.update({k: _value(v) for k, v in extra.items()})
        cfg = build_config(name, None, over)
        t = time.perf_counter()
        r = train(cfg, splits=splits)
        wall = time.perf_counter() - t
        s = r.summary
        results[name] = s
        print(f"{name:<7}: test top-1 {100 * s['test_top1']:6.2f}%  top-5 {100 * s['test_top5']:6.2f}%  · "
              f"{s['epochs']} epochs · {s['train_seconds']:6.1f} s training ({wall:.0f} s wall) · "
              f"{s['images_per_second']:,.0f} img/s · {s['params']:,} params · {s['device']}", flush=True)
    if len(results) == 2:
        gain = 100 * (results["strong"]["test_top1"] - results["plain"]["test_top1"])
        secs = results["strong"]["train_seconds"]
        ok = gain >= TARGET_POINTS and secs <= BUDGET_SECONDS
        print(f"strong - plain: {gain:+.2f} points (target >= +{TARGET_POINTS:g}) in {secs:.0f} s "
              f"(budget ~{BUDGET_SECONDS:.0f} s): {'PASS' if ok else 'FAIL'}")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
