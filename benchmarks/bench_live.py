"""Cost of watching a run live: the same training headless vs with qdtui's live view attached (target <= 5%).

Headless: a `qd train` process started by the core launcher, alone. Live: the real app, headless through
App.run_test(), whose LiveScreen starts the same training the way the form's Start does (a detached `qd train`
child) and follows it (store polls, curves redrawn). Runs alternate (headless, live, headless, ...) after a
warm-up so drift on a shared machine hits both alike. Throughput is the engine's images/s over training time
(evaluation and process start excluded); wall time (process start included) is reported too.

Usage: OMP_NUM_THREADS=1 python benchmarks/bench_live.py [--repeats 3] [--device cpu] [--model cnn2-000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_PCT = 5.0


def config(args):
    from qdcore.train.config import TrainConfig

    return TrainConfig().replace(model=args.model, data="demo", per_class=args.per_class, epochs=args.epochs,
                                 batch_size=args.batch_size, device=args.device, log_every=args.log_every,
                                 name="bench-live")


def headless(cfg, home: Path) -> tuple[float, float]:
    """(images/s, wall seconds) of `qd train` in a process of its own (the core launcher), nothing watching."""
    from qdcore.runs.launcher import launch
    from qdcore.store import Store

    t = time.perf_counter()
    job = launch(cfg, home)
    code = job.wait()
    wall = time.perf_counter() - t
    if code != 0:
        raise SystemExit(f"qd train failed ({code}): {job.error()}")
    with Store(home) as store:
        return float(store.get_run(job.run_id).summary["images_per_second"]), wall


def live(cfg, home: Path, size: tuple[int, int]) -> tuple[float, float, int, float]:
    """(images/s, wall seconds, plot redraws, UI-thread CPU seconds) of the same run started by the live view."""
    from qdcore.store import Store
    from qdtui.app import QdApp
    from qdtui.screens.live import LiveScreen
    from qdtui.state import AppState

    async def run() -> tuple[float, int, int, float]:
        app = QdApp(AppState(home=home))
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            screen = LiveScreen(config=cfg)
            t, cpu = time.perf_counter(), time.thread_time()  # the app's loop runs in this thread
            await app.push_screen(screen)
            # Plain sleeps: Pilot.pause() would message every widget, which a real terminal never does.
            while screen.live.status in ("starting", "running"):
                await asyncio.sleep(0.25)
            wall, cpu = time.perf_counter() - t, time.thread_time() - cpu
            if screen.live.status != "done":
                raise SystemExit(f"live run ended {screen.live.status}: {screen.live.error}")
            screen.job.wait()  # the trainer's exit, so the next run has the cores to itself
            return wall, screen.live.run_id, screen.plots["loss"].builds, cpu

    wall, run_id, builds, cpu = asyncio.run(run())
    with Store(home) as store:
        ips = float(store.get_run(run_id).summary["images_per_second"])
    return ips, wall, builds, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--model", default="cnn2-000")
    p.add_argument("--per-class", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", default="120x40", help="terminal size of the live view, e.g. 80x24")
    args = p.parse_args()
    size = tuple(int(x) for x in args.size.lower().split("x"))
    cfg = config(args)
    home = Path(tempfile.mkdtemp(prefix="qd-bench-live-"))
    print(f"run: {cfg.model} on demo, {args.per_class}/class, {args.epochs} epochs, batch {args.batch_size}, "
          f"log_every {args.log_every}, device {args.device}; live view at {size[0]}x{size[1]}")
    headless(cfg, home)  # warm-up: imports, drawings, kernels
    rows: dict[str, list[tuple[float, float]]] = {"headless": [], "live": []}
    ui_share = []
    for i in range(args.repeats):
        rows["headless"].append(headless(cfg, home))
        ips, wall, b, cpu = live(cfg, home, size)
        rows["live"].append((ips, wall))
        ui_share.append(100.0 * cpu / wall)
        print(f"  repeat {i + 1}: headless {rows['headless'][-1][0]:,.0f} img/s ({rows['headless'][-1][1]:.2f} s)"
              f" · live {ips:,.0f} img/s ({wall:.2f} s, {b} loss-plot redraws, UI thread {ui_share[-1]:.1f}% of a core)")
    med = {k: (statistics.median(x for x, _ in v), statistics.median(w for _, w in v)) for k, v in rows.items()}
    # Each live run is compared with the headless run just before it: drift on a shared machine cancels.
    overhead = statistics.median(100.0 * (1.0 - lv[0] / hl[0]) for hl, lv in zip(rows["headless"], rows["live"]))
    wall_overhead = statistics.median(100.0 * (lv[1] / hl[1] - 1.0) for hl, lv in zip(rows["headless"], rows["live"]))
    print(f"headless: {med['headless'][0]:,.0f} img/s, {med['headless'][1]:.2f} s wall (median of {args.repeats})")
    print(f"live:     {med['live'][0]:,.0f} img/s, {med['live'][1]:.2f} s wall")
    print(f"overhead: {overhead:+.1f}% throughput (median of paired runs; target <= {TARGET_PCT:g}%), "
          f"{wall_overhead:+.1f}% wall time (includes opening the view)")
    print(f"UI thread CPU, view opened to run done: {statistics.median(ui_share):.1f}% of one core (median)")
    print("PASS" if overhead <= TARGET_PCT else "FAIL")


if __name__ == "__main__":
    main()
