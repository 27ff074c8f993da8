"""Pilot and snapshot tests of the GAN screen: attach to a headless `qd gan train`, scrub epochs, a finished run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import scaled_timeout
from tui_helpers import settle, sync, wait_for

from qdcore.events import Samples
from qdcore.store import Store, StoreSink
from qdcore.train import gan_files
from qdtui.app import QdApp
from qdtui.screens.gan import GanScreen
from qdtui.state import AppState
from qdtui.widgets.sample_grid import SampleGrid

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(80, 24), (120, 40)]


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))


def _wait_run(home: Path, proc: subprocess.Popen, timeout: float = 60) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if (Path(home) / "qd.sqlite").exists():
            with Store(home) as store:
                runs = store.list_runs(kind="gan")
            if runs:
                return runs[0].id
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("qd gan train made no run")


@sync
async def test_attach_to_headless_gan_training_then_scrub(home):
    cmd = [sys.executable, "-m", "qdcore.cli.main", "gan", "train", "--data", "demo", "--categories", "circle,star",
           "--per-class", "48", "--epochs", "4", "--batch-size", "16", "--g-width", "4", "--d-width", "4",
           "--latent-dim", "8", "--no-judge", "--no-amp", "--model", "acgan", "--sample-every", "3"]
    proc = subprocess.Popen(cmd, env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        rid = _wait_run(home, proc)
        app = QdApp(AppState(home=home, attach_run=rid))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, GanScreen), 30, "the GAN screen")
            screen = app.screen
            await wait_for(pilot, lambda: screen.view.run is not None and screen.shown, 60, "a first grid")
            grid = screen.query_one("#gan-grid", SampleGrid)
            assert grid.grid.shape[:2] == (2, 8)  # one labelled row per class
            await wait_for(pilot, lambda: screen.view.run.status == "done" and len(screen.view.epochs) == 4
                           and screen._table_epochs == [1, 2, 3, 4], 120, "the run to finish")
            await wait_for(pilot, lambda: screen.query_one("#gan-quality").row_count == 4, 30, "the quality table")
            await pilot.press("end")
            await pilot.press("left")
            assert screen.shown == "epoch_3" and not screen.follow
            await pilot.press("left", "left", "left")
            assert screen.shown == "epoch_1"
            assert np.array_equal(grid.grid, gan_files.read_grid(screen.view.run_dir, 1))
            await pilot.press("right")
            assert screen.shown == "epoch_2"
            await pilot.press("p")
            assert screen.panel == 1 and "D(x)" in screen.query_one("#gan-curves").series
            info = str(screen.query_one("#gan-info").content)
            assert "done" in info and "epoch 2" in info
    finally:
        try:
            proc.communicate(timeout=scaled_timeout(60))
        except subprocess.TimeoutExpired:
            proc.terminate()  # a failed assertion above must not leave the trainer running
            proc.communicate(timeout=scaled_timeout(60))
    assert proc.returncode == 0


def finished_gan(home: Path) -> int:
    """A done GAN run with 3 epochs of curves and grids (demo drawings standing in for samples)."""
    from qdcore.data.demo import DemoSource

    imgs = DemoSource().read("circle", np.arange(6)).reshape(-1, 28, 28)
    stars = DemoSource().read("star", np.arange(6)).reshape(-1, 28, 28)
    with Store(home) as store:
        rid = store.create_run("acgan on circle,star (demo)", "gan", {"model": "acgan", "data": "demo", "epochs": 3},
                               device="cpu fp32")
        run_dir = store.run_dir(rid)
        sink = StoreSink(store, rid)
        gan_files.write_meta(run_dir, {"epochs": 3}, ["circle", "star"], {"name": "acgan"}, [[0, 1]], True,
                             ["circle", "star"], rid)
        rows = []
        for e in range(1, 4):
            keep = np.minimum(255, imgs[:4].astype(int) * e // 3).astype(np.uint8)
            sink(Samples(e, e * 10, np.stack([keep, stars[:4] // (4 - e)]), ["circle", "star"]))
            rows += [(e * 10, e, "train", "g_loss", 2.0 - 0.3 * e), (e * 10, e, "train", "d_loss", 1.0 + 0.1 * e),
                     (e * 10, e, "train", "d_real", 0.7 - 0.05 * e), (e * 10, e, "train", "d_fake", 0.2 + 0.08 * e),
                     (e * 10, e, "quality", "recognised", 0.3 * e), (e * 10, e, "quality", "fid", 40.0 / e),
                     (e * 10, e, "quality", "diversity", 0.5 + 0.1 * e),
                     (e * 10, e, "quality", "speckle_ratio", 3.0 / e), (e * 10, e, "quality", "judged_n", 256.0)]
        store.log_metrics(rid, rows)
        store.finish_run(rid, "done", {"epochs": 3, "recognised": 0.9, "fid": 13.3})
    return rid


@sync
async def test_a_finished_gan_run_opens_on_its_last_samples_and_quality(home):
    rid = finished_gan(home)
    app = QdApp(AppState(home=home, attach_run=rid))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, GanScreen) and app.screen.shown, 30, "the grid")
        screen = app.screen
        assert screen.shown == "epoch_3"
        await settle(app, pilot)
        assert screen.query_one("#gan-quality").row_count == 3
        assert screen.query_one("#gan-quality").get_row_at(2)[:2] == ["3*", "90%"]  # the best by FD, marked
        assert screen.query_one("#gan-quality").get_row_at(2)[4] == "1.0"  # speckle as a multiple of real
        # the kept generator's share with its 95% Wilson interval (230 of 256 judged: 85.5-93.1%)
        assert "kept epoch 3: judged 90% (86–93)" in str(screen.query_one("#gan-info").render())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_finished_gan_run(snap_compare, snap_home, size):
    rid = finished_gan(snap_home)

    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, GanScreen) and app.screen.shown
                       and app.screen._table_epochs == [1, 2, 3], 30, "the grid")
        await pilot.press("left")
        await wait_for(pilot, lambda: app.screen.shown == "epoch_2" and not app.screen.follow, 30, "epoch 2's grid")
        await settle(app, pilot)

    assert snap_compare(QdApp(AppState(home=snap_home, attach_run=rid)), terminal_size=size, run_before=run_before)
