"""Regenerate the README's screenshots (SVG, exported by Textual) in assets/ from real runs.

With ../shared/quickdraw present (the default): a strong classifier of its 24 best-stocked categories,
a DCGAN of apples judged by it, a data-size study with a real effect, then the real app driven by
Pilot: home, live curves, confusion, worst drawings, clusters, CAM, the data browser, the GAN, the
study, the quiz and the draw game. Without it (or with --demo) the same on the synthetic demo set,
smaller. Training goes through `qd` as a user runs it, into --home (kept, so a second run only
shoots: `scripts/screenshots --home /tmp/qd-shots`); the app is shown the store as `qd-home`, so no
temporary path appears on screen. Run it through `scripts/screenshots` after changing a screen."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (110, 32)
MAX_BYTES = 1_000_000  # README assets stay under 1 MB each


@dataclass
class Plan:
    """What to train for the pictures: --data, categories and sizes (real data, or the demo set)."""

    data: str
    categories: str
    per_class: int
    epochs: int
    gan_categories: str
    gan_per_class: int
    gan_epochs: int
    study_categories: list[str]
    study_per_class: list[int]
    real: bool


def plan(demo: bool) -> Plan:
    """Real Quick, Draw! subsets when ../shared/quickdraw is there (unless --demo), else the demo set."""
    from qdcore.paths import shared_quickdraw

    root = None if demo else shared_quickdraw()
    if root is not None:
        return Plan(str(root / "numpy_bitmap"), "shared24", 800, 10, "apple", 3000, 15,
                    ["apple", "bicycle", "cat", "diamond", "eye", "fish", "cloud", "moon", "rainbow", "train"],
                    [50, 100, 200, 400, 800], True)
    return Plan("demo", "circle,cloud,diamond,hexagon,moon,mountain,octagon,square,star,sun,triangle,zigzag", 300, 6, "circle,star,triangle", 600, 8,
                ["circle", "hexagon", "octagon", "square", "star", "triangle"], [25, 50, 100, 200], False)


def qd(home: Path, *args: str) -> str:
    """Run `qd ARGS` on the store, as a user would; stops the script with qd's output if it fails."""
    env = {**os.environ, "QD_HOME": str(home), "CI": "true"}
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"qd {' '.join(args)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    if args[:2] != ("runs", "list"):
        print(f"  qd {' '.join(args[:3])} ... {time.perf_counter() - t0:.0f} s", flush=True)
    return p.stdout


def run_named(home: Path, name: str) -> int | None:
    """The newest finished run called `name` (a kept store is reused, not retrained)."""
    runs = json.loads(qd(home, "runs", "list", "--json") or "[]") if (home / "qd.sqlite").exists() else []
    ids = [r["id"] for r in runs if r.get("name") == name and r.get("status") == "done"]
    return max(ids) if ids else None


def classifier(home: Path, p: Plan) -> int:
    """The strong preset on the selection: the model the evaluation, quiz and draw screens show."""
    name = f"strong k=32 on {p.categories}"
    rid = run_named(home, name)
    if rid is None:
        qd(home, "train", "--preset", "strong", "--data", p.data, "--categories", p.categories, "--per-class",
           str(p.per_class), "--epochs", str(p.epochs), "--seed", "0", "--name", name)
        rid = run_named(home, name)
    assert rid is not None
    return rid


def gan(home: Path, p: Plan, judge: int) -> int:
    """A DCGAN (one class) or AC-GAN (several) with bench_gan_quality's recipe, judged by the classifier."""
    model = "dcgan" if "," not in p.gan_categories else "acgan"
    name = f"{model} on {p.gan_categories}"
    rid = run_named(home, name)
    if rid is None:
        qd(home, "gan", "train", "--model", model, "--data", p.data, "--categories", p.gan_categories,
           "--per-class", str(p.gan_per_class), "--epochs", str(p.gan_epochs), "--judge", str(judge),
           "-b", "32", "--g-width", "32", "--d-width", "32", "--label-smoothing", "0.1", "--g-ema", "0.99",
           "--seed", "0", "--name", name)
        rid = run_named(home, name)
    assert rid is not None
    return rid


def study(home: Path, p: Plan) -> int:
    """Test top-1 vs drawings per class (log x), three seeds: accuracy rises with the data."""
    name = "data size: widthk k=8"
    rid = run_named(home, name)
    if rid is None:
        spec = {"name": name, "seeds": 3, "pool": p.study_categories,
                "base": {"data": p.data, "categories": len(p.study_categories), "epochs": 6, "batch_size": 64,
                         "model": "widthk", "width": 8, "batch_norm": True, "lr": 3e-3, "val": 0.1, "test": 0.2},
                "axes": {"per_class": p.study_per_class}}
        path = home.parent / "data-size.json"
        path.write_text(json.dumps(spec))
        qd(home, "study", "run", str(path), "--workers", "1")
        rid = run_named(home, name)
    assert rid is not None
    return rid


async def settle(app, pilot) -> None:
    """Let workers and the messages they post finish."""
    from textual.worker import WorkerCancelled

    for _ in range(8):
        await pilot.pause(0.2)
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:  # a screen replaced its own worker (exclusive=True): wait for the new one
            continue
        if not any(w.is_running for w in app.workers):
            break
    await pilot.pause(0.5)


async def until(pilot, done, what: str, limit: float = 600.0) -> None:
    """Wait (in app time) until done() holds; the analysis tabs compute for a while on a busy machine."""
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > limit:
            raise SystemExit(f"screenshots: gave up waiting for {what}")
        await pilot.pause(0.5)


def example_strokes(word: str) -> list | None:
    """The first drawing of `word` in ../shared/quickdraw/simplified as strokes [[xs], [ys]] (0..255), if any."""
    from qdcore.paths import shared_quickdraw

    root = shared_quickdraw()
    path = root / "simplified" / f"{word}.ndjson" if root is not None else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text().splitlines()[0])["drawing"]


async def draw_word(screen, pilot) -> None:
    """Draw a real drawing of the asked word on the canvas, stroke by stroke, as the mouse would."""
    from qdtui.widgets.canvas import Canvas

    canvas = screen.query_one(Canvas)
    strokes = example_strokes(screen.word or "") or [[[60, 200, 200, 60, 60], [60, 60, 200, 200, 60]]]
    w, h = canvas.pixel_size
    side = min(w, h) * 0.8
    ox, oy = (w - side) / 2, (h - side) / 2
    for xs, ys, *_ in strokes:
        pts = [(int(ox + x / 255 * side), int(oy + y / 255 * side)) for x, y in zip(xs, ys)]
        canvas.begin(*pts[0])
        for pt in pts[1:]:
            canvas.extend(*pt)
        canvas.end()
        await pilot.pause(0.1)


async def shoot(out: Path, home: Path, p: Plan, run_id: int, gan_id: int, study_id: int) -> list[Path]:
    """Open each screen in the real app and save it."""
    from qdtui.app import QdApp, parse_args, state_from_args
    from qdtui.state import AppState

    saved: list[Path] = []
    data = p.data  # a real folder (never a temporary one), or demo

    async def session(name: str, state: AppState, steps, size: tuple[int, int] = SIZE) -> None:
        app = QdApp(state)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            for step in steps:
                await step(app, pilot)
                await settle(app, pilot)
            app.save_screenshot(f"{name}.svg", str(out))
            saved.append(out / f"{name}.svg")
            print(f"  {name}.svg", flush=True)

    def press(*keys):
        async def step(app, pilot):
            await pilot.press(*keys)
        return step

    def open_screen(name, **kwargs):
        async def step(app, pilot):
            app.action_open(name, **kwargs)
        return step

    def tab_ready(key):
        async def step(app, pilot):
            await pilot.press(key)
            await until(pilot, lambda: not any(w.is_running for w in app.workers), f"tab {key}")
        return step

    async def game(app, pilot):
        await until(pilot, lambda: getattr(app.screen, "predictor", None) is not None, "the draw screen's model")
        await pilot.press("g")
        await pilot.pause(0.5)
        await draw_word(app.screen, pilot)
        await until(pilot, lambda: bool(app.screen.guesses), "the model's guesses")

    rel = Path("qd-home")  # the app is shown the store relative to its folder: no temporary path on screen
    state = lambda **kw: AppState(data_spec=data, home=rel, **kw)  # noqa: E731
    await session("home", state(), [])
    await session("live", state(), [open_screen("attach", run_id=run_id)])
    await session("evaluation-confusion", state(), [open_screen("run", run_id=run_id), press("2")])
    await session("evaluation-worst", state(), [open_screen("run", run_id=run_id), press("4")])
    await session("evaluation-clusters", state(), [open_screen("run", run_id=run_id), tab_ready("5")])
    await session("evaluation-cam", state(), [open_screen("run", run_id=run_id), tab_ready("6")])
    await session("data", state(), [press("d")])
    await session("gan", state(), [open_screen("gan", run_id=gan_id)], size=(160, 36))  # all 8 samples a row
    await session("study", state(), [open_screen("study", study=study_id)])
    quiz = state_from_args(parse_args(["quiz", "--name", "reader", "--n", "5", "--run", str(run_id),
                                       "--data", data, "--home", str(rel)]))
    await session("quiz", quiz, [])
    await session("draw-game", state(), [open_screen("draw", run_id=run_id, seed=3), game])
    return saved


def main(argv: list[str] | None = None) -> int:
    """Train (or reuse), shoot, check sizes, report."""
    parser = argparse.ArgumentParser(prog="scripts/screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder for the SVGs (default assets/)")
    parser.add_argument("--home", type=Path, default=None,
                        help="keep the trained runs in DIR/qd-home and reuse them next time (default: a temporary folder)")
    parser.add_argument("--demo", action="store_true", help="the synthetic demo set even where ../shared/quickdraw is")
    ns = parser.parse_args(argv)
    ns.out = ns.out.resolve()
    ns.out.mkdir(parents=True, exist_ok=True)
    p = plan(ns.demo)
    with tempfile.TemporaryDirectory(prefix="qd-screens-") as tmp:
        folder = (ns.home or Path(tmp)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        home = folder / "qd-home"
        print(f"training on {'../shared/quickdraw' if p.real else 'the demo set'} into {home}", flush=True)
        run_id = classifier(home, p)
        gan_id, study_id = gan(home, p, run_id), study(home, p)
        os.chdir(folder)
        os.environ["QD_HOME"] = "qd-home"
        saved = asyncio.run(shoot(ns.out, home, p, run_id, gan_id, study_id))
    big = [f"{s.name} ({s.stat().st_size:,} bytes)" for s in saved if s.stat().st_size > MAX_BYTES]
    for path in saved:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    if big:
        print(f"screenshots: over {MAX_BYTES:,} bytes: {', '.join(big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
