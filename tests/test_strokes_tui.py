"""Stroke-sequence runs in the app: started from the form (its kind's rows, the live view fills), and shown by the
evaluation screen (confusion, per class, pairs, worst drawings; the CNN-only tabs say why they do not apply)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_tui_live import counts, home, trainers  # noqa: F401 - the fixtures (one thread, children killed)
from textual.widgets import Input, Select
from tui_helpers import open_train_form, sync, wait_for

from qdcore.store import Store
from qdtui.app import QdApp
from qdtui.screens.live import LiveScreen
from qdtui.state import AppState


@sync
async def test_the_form_trains_a_stroke_run_and_its_curves_fill(home):  # noqa: F811
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_train_form(app, pilot)
        form.query_one("#f-model", Select).value = "stroke-gru"
        await wait_for(pilot, lambda: bool(form.query("#f-hidden")), timeout=30, what="the stroke kind's rows")
        await pilot.pause()  # the rebuilt rows mounted
        values = {"#f-hidden": "16", "#f-conv": "16", "#f-epochs": "2", "#f-per-class": "30",
                  "#f-categories": "circle,square,triangle", "#f-prefix": "0.2"}
        for row, value in values.items():
            form.query_one(row, Input).value = value
        form.query_one("#f-device", Select).value = "cpu"
        await pilot.press("ctrl+s")
        await pilot.pause()
        live = app.screen
        assert isinstance(live, LiveScreen)
        await wait_for(pilot, lambda: live.live.status in ("done", "failed"), timeout=180, what="the run to end")
        assert live.live.status == "done", live.live.error
        await wait_for(pilot, lambda: counts(live)["top1"]["val"] == 2, 30, "the last epoch's points")
        assert "test top-1" in str(live.query_one("#live-status").content)
        run = Store(home).get_run(live.live.run_id)
        assert run.kind == "strokes" and run.config["hidden"] == 16 and run.config["prefix"] == 0.2


def _one_stroke_run(tmp_path_factory, folder: str, **cfg) -> Path:
    """A folder holding `qd-home` with one run (id 1) of the strokes kind trained on demo strokes, one thread."""
    import torch

    from qdcore.runs.run import start
    from qdcore.train.strokes_config import StrokeConfig

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp(folder)
    config = StrokeConfig(data="demo", categories="circle,square,triangle,zigzag", per_class=40, epochs=2,
                          batch_size=8, device="cpu", log_every=4, **cfg)
    with Store(root / "qd-home") as store:
        assert start(config, store).status == "done"
    return root


@pytest.fixture(scope="module")
def stroke_home(tmp_path_factory) -> Path:
    """A folder holding `qd-home` with one stroke run (id 1) trained on demo strokes, one thread, seed 0."""
    return _one_stroke_run(tmp_path_factory, "stroke-eval", hidden=16, conv=16, layers=1, name="strokes on demo")


@sync
async def test_the_evaluation_screen_shows_a_stroke_run(stroke_home):
    from test_tui_eval import open_run, settle

    from qdtui.screens.evaluation import TABS, EvaluationScreen
    from qdtui.screens.gallery import GalleryScreen
    from qdtui.widgets.confusion import ConfusionMatrix
    from qdtui.widgets.drawing_grid import DrawingGrid

    app = QdApp(AppState(home=stroke_home / "qd-home"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, 1)
        assert isinstance(screen, EvaluationScreen) and screen.data.ok
        assert "model file missing" not in str(screen.query_one("#eval-run-line").content)
        data = screen.data
        assert screen.query_one("#per-class").row_count == len(data.pred.classes) + 1
        await pilot.press("2")  # confusion: Enter on the largest off-diagonal cell opens its drawings
        await settle(app, pilot)
        matrix = screen.query_one(ConfusionMatrix)
        off = matrix.counts.copy()
        np.fill_diagonal(off, -1)
        r, c = (int(v) for v in np.unravel_index(int(off.argmax()), off.shape))
        assert matrix.counts[r, c] > 0  # 2 small epochs leave mistakes to look at
        matrix.cursor = (r, c)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, GalleryScreen)
        assert len(app.screen.query_one(DrawingGrid).items) == matrix.counts[r, c]
        await pilot.press("escape")
        await pilot.pause()
        for k, (key, _) in enumerate(TABS):
            await pilot.press(str(k + 1))
            await settle(app, pilot)
            if key in ("cam", "hidden"):  # maps of a CNN's layers over an image: said plainly, in one line
                assert "needs a CNN over images; model stroke-gru reads the strokes as (dx, dy, pen) rows" in \
                    screen.pane(key).saying
            elif key != "clusters":  # a small run may have too few mistakes to cluster (said so)
                assert screen.pane(key).saying == "", (key, screen.pane(key).saying)
        assert screen.query_one("#pairs-table").row_count == len(data.pairs) > 0
        assert len(screen.query_one("#worst-grid", DrawingGrid).items) == min(48, len(data.pred))


@pytest.fixture(scope="module")
def stroke_snapshot_home(stroke_home, tmp_path_factory) -> Path:
    """stroke_home's run with seeded outputs on its real test drawings: the picture may not depend on which CPU
    trained the model (another CPU's float kernels can move a count of a 2-epoch LSTM's confusion)."""
    import shutil

    from qdcore.predictions import Predictions

    root = tmp_path_factory.mktemp("stroke-snap")
    shutil.copytree(stroke_home / "qd-home", root / "qd-home")
    path = root / "qd-home" / "runs" / "1" / "predictions.npz"
    pred = Predictions.load(path)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=pred.probs.shape)
    logits[np.arange(len(pred.labels)), pred.labels] += 1.5
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    pred.probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    pred.save(path)
    return root


def test_snapshot_of_a_stroke_runs_confusion(snap_compare, stroke_snapshot_home, monkeypatch):
    from test_tui_eval import open_run, settle

    monkeypatch.chdir(stroke_snapshot_home)
    monkeypatch.setenv("QD_HOME", "qd-home")

    async def run_before(pilot) -> None:
        await open_run(pilot.app, pilot, 1)
        await pilot.press("2")
        await settle(pilot.app, pilot)

    assert snap_compare(QdApp(AppState(data_spec="demo", home=Path("qd-home"), seed=0)), terminal_size=(80, 24),
                        run_before=run_before)


@pytest.fixture(scope="module")
def raster_home(tmp_path_factory) -> Path:
    """A folder holding `qd-home` with one raster-widthk --raster time run (id 1) on demo strokes, one thread."""
    return _one_stroke_run(tmp_path_factory, "raster-eval", model="raster-widthk", raster="time",
                           name="raster on demo")


@sync
async def test_cam_and_hidden_show_a_raster_cnn_over_the_channels_it_draws(raster_home):
    from test_tui_eval import open_run, settle

    from qdcore.analysis.cam import grad_cam_batch
    from qdcore.analysis.clusters import cluster_misclassified
    from qdcore.analysis.hidden import feature_maps
    from qdcore.train.strokes import raster_network
    from qdtui.screens.evaluation import TABS
    from qdtui.widgets.heatmap_drawing import HeatmapGrid

    app = QdApp(AppState(home=raster_home / "qd-home"))
    keys = [k for k, _ in TABS]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, 1)
        data = screen.data
        cnn, _, images = raster_network(data.run_dir, data.config)
        await pilot.press(str(keys.index("cam") + 1))
        await settle(app, pilot)
        cam = screen.pane("cam")
        assert cam.saying == "", cam.saying
        items = screen.query_one(HeatmapGrid).items
        drawn = images([data.pred.provenance[int(i)] for i in cam.shown])
        assert drawn.shape == (len(cam.shown), 3, 28, 28) and items  # ink, order, time: what the CNN read
        expected, _ = grad_cam_batch(cnn, drawn)
        assert np.allclose(np.stack([it.heat for it in items]), expected, atol=1e-5)
        await pilot.press(str(keys.index("hidden") + 1))
        await settle(app, pilot)
        hidden = screen.pane("hidden")
        assert hidden.saying == "" and hidden.maps_of == hidden.index, hidden.saying
        expected_maps = feature_maps(cnn, images([data.pred.provenance[hidden.index]])[0])
        assert [n for n, _ in hidden.layer_maps] == [n for n, _ in expected_maps] and len(expected_maps) == 8
        assert all(np.allclose(a, b, atol=1e-5) for (_, a), (_, b) in zip(hidden.layer_maps, expected_maps))
        await pilot.press(str(keys.index("clusters") + 1), "f")  # the penultimate features of the drawn channels
        await settle(app, pilot)
        wrong = int((data.predicted != data.pred.labels).sum())
        saying = screen.pane("clusters").saying
        assert saying == "" if wrong >= 10 else f"only {wrong} misclassified drawings" in saying, saying
    result = cluster_misclassified(data.pred, "penultimate", model=cnn, min_drawings=2, k=2, methods=("kmeans",),
                                   inputs=lambda i: images([data.pred.provenance[int(j)] for j in i]))
    assert result.features == "penultimate" and len(result.indices) == wrong


def test_snapshot_of_a_raster_runs_cam(snap_compare, raster_home, monkeypatch):
    from test_tui_eval import open_run, settle

    from qdtui.screens.evaluation import TABS

    monkeypatch.chdir(raster_home)
    monkeypatch.setenv("QD_HOME", "qd-home")

    async def run_before(pilot) -> None:
        await open_run(pilot.app, pilot, 1)
        await pilot.press(str([k for k, _ in TABS].index("cam") + 1))
        await settle(pilot.app, pilot)

    assert snap_compare(QdApp(AppState(data_spec="demo", home=Path("qd-home"), seed=0)), terminal_size=(80, 24),
                        run_before=run_before)
