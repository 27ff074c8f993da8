"""Regenerate the README's screenshots (SVG, exported by Textual) in assets/ from the demo data.

Trains one small CNN, one AC-GAN and a small study on the built-in demo set in a throwaway store,
then drives the real app with Pilot and saves each screen. Run it through `scripts/screenshots` after changing a screen."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (110, 32)


def train_demo_run(home: Path) -> int:
    """A real, short training run on the demo drawings (CPU, seconds)."""
    import torch

    from qdcore.store import Store
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import start_run

    torch.manual_seed(0)
    torch.set_num_threads(1)
    with Store(home) as store:
        cfg = TrainConfig(model="cnn2-000", epochs=6, per_class=150, device="cpu", seed=0, name="cnn2 on demo")
        return start_run(cfg, store).run_id


def train_demo_gan(home: Path) -> int:
    """A real AC-GAN on three demo shapes, judged by the classifier run already in the store (a minute)."""
    from qdcore.runs.run import start
    from qdcore.store import Store
    from qdcore.train.gan_config import GanConfig

    with Store(home) as store:
        cfg = GanConfig(model="acgan", data="demo", categories="circle,star,triangle", per_class=600, epochs=8,
                        batch_size=64, g_width=32, d_width=32, label_smoothing=0.1, quality_n=64, grid_cols=6,
                        keep_generators=False, device="cpu", seed=0, name="acgan on demo")
        return start(cfg, store).run_id


def run_demo_study(home: Path) -> int:
    """A real study: width x drawings per class of a small CNN, two seeds (a minute or two)."""
    import json

    from qdcore.runs.study import StudyConfig
    from qdcore.store import Store
    from qdcore.studies.runner import create_study, run_study

    spec = {"name": "width x rows", "seeds": [0, 1, 2],
            "base": {"data": "demo", "epochs": 6, "batch_size": 32, "lr": 3e-3, "model": "widthk", "val": 0.1,
                     "test": 0.2, "batch_norm": True, "categories": "circle,hexagon,octagon,square,star,triangle"},
            "axes": {"per_class": [50, 150, 300], "width": [2, 8]}}
    path = home.parent / "study.json"
    path.write_text(json.dumps(spec))
    with Store(home) as store:
        sid = create_study(store, StudyConfig().replace(spec=str(path)))
        run_study(store, sid, workers=1)
        return sid


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


async def shoot(out: Path, home: Path, run_id: int, gan_id: int, study_id: int) -> list[Path]:
    """Open each screen in the real app and save it."""
    from qdtui.app import QdApp, parse_args, state_from_args
    from qdtui.state import AppState

    saved: list[Path] = []

    async def session(name: str, state: AppState, steps) -> None:
        app = QdApp(state)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            for step in steps:
                await step(app, pilot)
                await settle(app, pilot)
            app.save_screenshot(f"{name}.svg", str(out))
            saved.append(out / f"{name}.svg")

    def press(*keys):
        async def step(app, pilot):
            await pilot.press(*keys)
        return step

    def open_screen(name, **kwargs):
        async def step(app, pilot):
            app.action_open(name, **kwargs)
        return step

    await session("home", AppState(home=home), [])
    await session("live", AppState(home=home), [open_screen("attach", run_id=run_id)])
    await session("evaluation-confusion", AppState(home=home), [open_screen("run", run_id=run_id), press("2")])
    await session("evaluation-worst", AppState(home=home), [open_screen("run", run_id=run_id), press("4")])
    await session("data", AppState(home=home), [press("d")])
    await session("gan", AppState(home=home), [open_screen("gan", run_id=gan_id)])
    await session("study", AppState(home=home), [open_screen("study", study=study_id)])
    quiz = state_from_args(parse_args(["quiz", "--name", "reader", "--n", "5", "--home", str(home)]))
    await session("quiz", quiz, [])
    return saved


def main(argv: list[str] | None = None) -> int:
    """Train, shoot, report."""
    parser = argparse.ArgumentParser(prog="scripts/screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets", help="folder for the SVGs (default assets/)")
    ns = parser.parse_args(argv)
    ns.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qd-screens-") as tmp:
        home = Path(tmp) / "qd-home"
        os.environ["QD_HOME"] = str(home)
        run_id = train_demo_run(home)
        gan_id, study_id = train_demo_gan(home), run_demo_study(home)
        for path in asyncio.run(shoot(ns.out, home, run_id, gan_id, study_id)):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
