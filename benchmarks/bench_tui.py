"""First paint of qdtui: process start to the home screen painted, vs the 1 s target and a bare Textual app.

Each sample is a fresh Python process (imports included), run headless at 80x24 through App.run_test().
Usage: python benchmarks/bench_tui.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 1.0

QD_CHILD = r"""
import time
t_start = time.time()
import asyncio, json, sys
from pathlib import Path
from qdtui.app import QdApp
from qdtui.state import AppState
t_import = time.time()

async def main():
    app = QdApp(AppState(home=Path(sys.argv[1])))
    async with app.run_test(size=(80, 24)) as pilot:
        while app.first_paint_at is None:
            await pilot.pause()
        painted = time.time() - (time.perf_counter() - app.first_paint_at)
        print(json.dumps({"start": t_start, "import": t_import, "paint": painted}))

asyncio.run(main())
"""

BARE_CHILD = r"""
import time
t_start = time.time()
import asyncio, json, sys
from textual.app import App
from textual.widgets import Footer, Header, Static
t_import = time.time()

class Bare(App):
    painted = None
    def compose(self):
        yield Header()
        yield Static("hello")
        yield Footer()
    def on_mount(self):
        self.call_after_refresh(lambda: setattr(self, "painted", time.time()))

async def main():
    app = Bare()
    async with app.run_test(size=(80, 24)) as pilot:
        while app.painted is None:
            await pilot.pause()
        print(json.dumps({"start": t_start, "import": t_import, "paint": app.painted}))

asyncio.run(main())
"""


def sample(code: str, home: str) -> dict[str, float]:
    """One fresh process: seconds from launch to imports done and to first paint."""
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, home], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return {"interpreter": d["start"] - t0, "imports": d["import"] - t0, "paint": d["paint"] - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        sample(QD_CHILD, home)  # warm the OS file cache and .pyc files
        sample(BARE_CHILD, home)
        qd = [sample(QD_CHILD, home) for _ in range(args.repeats)]
        bare = [sample(BARE_CHILD, home) for _ in range(args.repeats)]

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    qd_paint, bare_paint = med(qd, "paint"), med(bare, "paint")
    print(f"first paint, median of {args.repeats} fresh processes at 80x24 (headless):")
    print(f"  qdtui home screen : {qd_paint * 1000:7.0f} ms  (imports done at {med(qd, 'imports') * 1000:.0f} ms)")
    print(f"  bare Textual app  : {bare_paint * 1000:7.0f} ms  (imports done at {med(bare, 'imports') * 1000:.0f} ms)")
    print(f"  qdtui / bare      : {qd_paint / bare_paint:7.2f}x")
    print(f"  qdtui / target    : {qd_paint / TARGET_S:7.2f}x of the {TARGET_S:.0f} s target "
          f"({'OK' if qd_paint <= TARGET_S else 'OVER'})")


if __name__ == "__main__":
    main()
