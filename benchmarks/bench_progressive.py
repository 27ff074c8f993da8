"""When did it know, on real drawings without leakage: a bitmap CNN replayed on raw drawings it never saw.

For each google-order category of ../shared/quickdraw/numpy_bitmap that has raw drawings, row i of the .npy is
Google's drawing i and the raw drawings whose key_id is among the first 25 simplified ones are Google's drawings
0..24. So the CNN trains on rows 25.. (a copy of each file without its first 25 rows) and is replayed on those raw
drawings (filtered by key_id): none of them was seen in training. Prints `qd analyze --progressive`'s table.

    python benchmarks/bench_progressive.py [--per-class 475] [--epochs 5] [--width 8]
    python benchmarks/bench_progressive.py --strokes [--epochs 20]

--strokes: a bitmap CNN and a stroke GRU trained on the same drawings (the first 25 simplified drawings of each
category), replayed side by side on the raw drawings that are not among them (their key_ids differ).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def leak_free(shared: Path, out: Path) -> list[str]:
    """Write out/numpy (rows 25..) and out/raw (the raw twins of rows 0..24); the categories used."""
    (out / "numpy").mkdir(parents=True)
    (out / "raw").mkdir()
    cats = []
    for line in (shared / "numpy_bitmap" / "INDEX.tsv").read_text().splitlines()[1:]:
        cat, _, order = line.split("\t")[:3]
        raw, simple = shared / "raw" / f"{cat}.ndjson", shared / "simplified" / f"{cat}.ndjson"
        if order != "google-order" or not raw.exists() or not simple.exists():
            continue
        first = {json.loads(s)["key_id"] for s in simple.read_text().splitlines()[:25]}
        twins = [s for s in raw.read_text().splitlines() if s.strip() and json.loads(s)["key_id"] in first]
        if len(twins) < 5:
            continue
        np.save(out / "numpy" / f"{cat}.npy", np.load(shared / "numpy_bitmap" / f"{cat}.npy")[25:])
        (out / "raw" / f"{cat}.ndjson").write_text("\n".join(twins) + "\n")
        cats.append(cat)
    return cats


def unseen_raw(shared: Path, out: Path, most: int, least: int = 5) -> list[str]:
    """out/simplified (the shared first 25) and out/raw (raw drawings whose key_id is not among them), for the
    `most` categories with the most such raw drawings."""
    (out / "simplified").mkdir(parents=True)
    (out / "raw").mkdir()
    cats = []
    extra = {p: sum(1 for _ in p.open()) for p in (shared / "raw").glob("*.ndjson")}
    for raw in sorted(sorted(extra, key=lambda p: (-extra[p], p.name))[:most]):
        simple = shared / "simplified" / raw.name
        if not simple.exists():
            continue
        lines = simple.read_text().splitlines()
        seen = {json.loads(s)["key_id"] for s in lines}
        rest = [s for s in raw.read_text().splitlines() if s.strip() and json.loads(s)["key_id"] not in seen]
        if len(rest) < least:
            continue
        (out / "simplified" / raw.name).write_text("\n".join(lines) + "\n")
        (out / "raw" / raw.name).write_text("\n".join(rest) + "\n")
        cats.append(raw.stem)
    return cats


def qd(*args: str, env: dict) -> str:
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(p.stderr)
    return p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=475)  # the 500-drawing files less their first 25
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--strokes", action="store_true", help="a CNN vs a stroke GRU trained on the same drawings")
    ap.add_argument("--max-categories", type=int, default=30, help="--strokes: the categories with most raw drawings")
    ap.add_argument("--shared", default=os.environ.get("QD_SHARED", str(ROOT.parent / "shared" / "quickdraw")))
    args = ap.parse_args()
    shared = Path(args.shared)
    if not (shared / "raw").is_dir():
        raise SystemExit(f"no {shared}/raw: this benchmark needs ../shared/quickdraw")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if args.strokes:
            cats = unseen_raw(shared, out, args.max_categories)
            env = dict(os.environ, QD_HOME=str(out / "home"), CUDA_VISIBLE_DEVICES="")
            ids = []
            for model in (["--model", "widthk", "--width", str(args.width)], ["--model", "stroke-gru"]):
                run = json.loads(qd("train", *model, "--data", str(out / "simplified"), "--epochs", str(args.epochs),
                                    "--json", env=env))
                ids.append(str(run["run_id"]))
                print(f"{model[1]}: test top-1 {run['summary'].get('test_top1', float('nan')):.3f} on its own split",
                      flush=True)
            print(f"{len(cats)} categories")
            print(qd("analyze", ids[0], "--progressive", "--vs", ids[1], "--data", str(out / "raw"), env=env))
            cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
            print(f"CPU time (children): {cpu.ru_utime + cpu.ru_stime:.0f} s")
            return
        cats = leak_free(shared, out)
        env = dict(os.environ, QD_HOME=str(out / "home"), CUDA_VISIBLE_DEVICES="")
        run = json.loads(qd("train", "--model", "widthk", "--width", str(args.width), "--data", str(out / "numpy"),
                            "--per-class", str(args.per_class), "--epochs", str(args.epochs), "--json", env=env))
        print(f"{len(cats)} categories; CNN run: test top-1 {run['summary'].get('test_top1', float('nan')):.3f} "
              f"on its own bitmaps", flush=True)
        print(qd("analyze", str(run["run_id"]), "--progressive", "--data", str(out / "raw"), env=env))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"CPU time (children): {cpu.ru_utime + cpu.ru_stime:.0f} s")


if __name__ == "__main__":
    main()
