"""Regenerate the README's screenshots (SVG, exported by Textual) in assets/ from the demo data.

Trains one small CNN on the built-in demo set in a throwaway store, then drives the real app with
Pilot and saves each screen. Run it through `scripts/screenshots` after changing a screen."""

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


async def settle(app, pilot) -> None:
    """Let workers and the messages they post finish."""
    for _ in range(8):
        await pilot.pause(0.2)
        await app.workers.wait_for_complete()
        if not any(w.is_running for w in app.workers):
            break
    await pilot.pause(0.5)


async def shoot(out: Path, home: Path, run_id: int) -> list[Path]:
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
        for path in asyncio.run(shoot(ns.out, home, run_id)):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
