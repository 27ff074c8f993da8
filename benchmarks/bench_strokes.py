"""Stroke-sequence kind vs the width-k CNN: training drawings/s at the same batch, same drawings, same process.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_strokes.py [CATEGORIES] [EPOCHS] [BATCH]
Both train through `qdcore.runs.run.start` on ../shared/quickdraw/simplified when present (else the demo set),
one after the other, twice in alternation (the best of each kept: the box is shared). Each rate is the loop
driver's own (drawings over step time, evaluation excluded); CPU seconds per 1,000 training drawings come from
the process clock, so a loaded machine changes them less. Issue 24's target: the stroke kind within 3x of the CNN.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from qdcore.paths import shared_quickdraw


def run(cfg, home: str) -> tuple[float, float, dict]:
    """(drawings/s, CPU seconds per 1,000 training drawings, summary) of one run."""
    from qdcore.runs.run import start
    from qdcore.store import Store

    with Store(home) as store:
        c0 = time.process_time()
        out = start(cfg, store)
        cpu = time.process_time() - c0
    s = out.summary
    seen = s["num_train"] * s["epochs"]
    return s["images_per_second"], 1000 * cpu / max(1, seen), s


def main() -> None:
    from qdcore.runs.kinds import all_kinds  # registers the built-in kinds
    from qdcore.train.config import TrainConfig
    from qdcore.train.strokes_config import StrokeConfig

    all_kinds()
    root = shared_quickdraw()
    data = str(root / "simplified") if root is not None and (root / "simplified").is_dir() else "demo"
    cats = sys.argv[1] if len(sys.argv) > 1 else ("cat,dog,apple,banana,car,house,tree,fish,bicycle,clock,cloud,eye,flower,moon,star,sun" if data != "demo"
                                                 else "circle,square,triangle,star,zigzag,moon")
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    common = dict(data=data, categories=cats, epochs=epochs, device="cpu", val=0.1, test=0.1,
                  per_class=None if data != "demo" else 500)
    stroke = StrokeConfig(**common, batch_size=batch)
    cnn = TrainConfig(**common, model="widthk", batch_size=batch)
    best: dict[str, tuple] = {}
    with tempfile.TemporaryDirectory() as home:
        for _ in range(2):
            for name, cfg in (("width-k CNN", cnn), ("stroke-lstm", stroke)):
                rate, cpu, s = run(cfg, home)
                if name not in best or rate > best[name][0]:
                    best[name] = (rate, cpu, s)
    load = os.getloadavg()[0]
    n = best["stroke-lstm"][2]["num_train"]
    print(f"data {data} ({cats}; {n} training drawings), batch {batch}, {epochs} epochs, CPU "
          f"({os.cpu_count()} cores, load average {load:.1f}), best of 2 each")
    for name, (rate, cpu, s) in best.items():
        print(f"{name:12s} {rate:8.0f} drawings/s   {cpu:6.2f} CPU s per 1,000 drawings   "
              f"params {s.get('params', 0):,}   test top-1 {100 * s.get('test_top1', 0):.0f}%")
    (r_cnn, c_cnn, _), (r_st, c_st, _) = best["width-k CNN"], best["stroke-lstm"]
    print(f"stroke / CNN step rate: {r_st / r_cnn:.2f}x (CPU time per drawing: {c_st / c_cnn:.2f}x); "
          f"target: rate >= 1/3 ({'met' if r_st >= r_cnn / 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
