"""The evaluation screen: Pilot tests on runs trained through qdcore, and SVG snapshots of a fixed synthetic run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from tui_helpers import sync

from qdtui.app import QdApp
from qdtui.state import AppState

SIZES = [(80, 24), (120, 40)]


# --- runs -----------------------------------------------------------------------------------------


def synthetic_predictions(n_per_class: int = 20, seed: int = 0, strength: float = 2.5, plant: bool = True):
    """Predictions on demo drawings with seeded probabilities: the demo's confusable pairs planted, a blank
    drawing, a duplicate pair and confidently wrong drawings for the quality tab."""
    from qdcore.data.demo import CONFUSABLE_PAIRS, DEMO_CLASSES, generate
    from qdcore.predictions import Predictions

    images, labels = generate(per_class=n_per_class, seed=seed)
    rng = np.random.default_rng(seed)
    c = len(DEMO_CLASSES)
    logits = rng.normal(size=(len(labels), c))
    logits[np.arange(len(labels)), labels] += strength
    if plant:
        for a, b in CONFUSABLE_PAIRS:
            ia, ib = DEMO_CLASSES.index(a), DEMO_CLASSES.index(b)
            logits[labels == ia, ib] += 2.0
        images = images.copy()
        images[0] = 0  # a blank drawing
        images[2] = images[1]  # an exact duplicate
        logits[5] = 0
        logits[5, (labels[5] + 1) % c] = 8.0  # confidently wrong
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    rows = np.zeros(len(labels), np.int64)
    for k in range(c):
        rows[labels == k] = np.arange(int((labels == k).sum()))
    prov = [f"demo:{DEMO_CLASSES[t]}#{r}" for t, r in zip(labels.tolist(), rows.tolist())]
    return Predictions(probs, labels.astype(np.int64), list(DEMO_CLASSES), images, prov)


def add_synthetic_run(store, name: str, pred, with_model: bool = True) -> int:
    """A finished run holding given predictions and (optionally) an untrained cnn2-000 checkpoint."""
    rid = store.create_run(name, "classifier", {"data": "demo", "model": "cnn2-000"})
    run_dir = store.run_dir(rid)
    pred.save(run_dir / "predictions.npz")
    if with_model:
        import torch

        from qdcore.models import build_model
        from qdcore.train.checkpoint import save_model

        torch.manual_seed(0)
        save_model(run_dir, build_model("cnn2-000", len(pred.classes)), {"classes": list(pred.classes)})
    store.finish_run(rid, "done", {"synthetic": True})
    return rid


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Runs trained through qdcore on the demo set (a CNN, an fc net, one without predictions) and synthetic ones."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from qdcore.store import Store
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import start_run

    torch.set_num_threads(1)
    home = tmp_path_factory.mktemp("eval") / "qd-home"
    out: dict = {"home": home}
    with Store(home) as store:
        for key, model, epochs in (("cnn", "cnn2-000", 2), ("fc", "fc", 1), ("unevaluated", "cnn2-000", 1)):
            torch.manual_seed(0)
            cfg = TrainConfig(model=model, epochs=epochs, per_class=60, device="cpu", seed=0, name=key)
            out[key] = start_run(cfg, store).run_id
        (store.run_dir(out["unevaluated"]) / "predictions.npz").unlink()
        out["no_model"] = add_synthetic_run(store, "no model", synthetic_predictions(), with_model=False)
        out["easy"] = add_synthetic_run(store, "easy", synthetic_predictions(strength=9.0, plant=False),
                                        with_model=False)
    return out


async def settle(app, pilot) -> None:
    """Let workers, and the workers their results start, finish."""
    for _ in range(6):
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            break


async def open_run(app, pilot, run_id: int):
    await pilot.pause()
    app.action_open("run", run_id=run_id)
    await settle(app, pilot)
    return app.screen


def app_for(runs) -> QdApp:
    return QdApp(AppState(home=runs["home"]))


# --- Pilot tests ----------------------------------------------------------------------------------


def test_artifact_names_match_the_engine(tmp_path):
    from qdcore.train import checkpoint, engine
    from qdtui import evaluation_data as ed

    assert (ed.predictions_file(tmp_path), ed.MODEL_FILE) == (tmp_path / engine.PREDICTIONS_FILE, checkpoint.MODEL_FILE)
    assert (checkpoint.MODEL_META, checkpoint.MODEL_FILE) in ed.MODEL_FILES  # the classifier's pair, as the TUI looks


@sync
async def test_cnn_run_confusion_pairs_and_every_tab(runs):
    from qdcore.analysis.cam import grad_cam_batch
    from qdcore.train.checkpoint import load_model
    from qdtui.screens.dialogs import DrawingDialog
    from qdtui.screens.evaluation import TABS, EvaluationScreen
    from qdtui.screens.gallery import GalleryScreen
    from qdtui.widgets.confusion import ConfusionMatrix
    from qdtui.widgets.drawing import Drawing
    from qdtui.widgets.drawing_grid import DrawingGrid
    from qdtui.widgets.heatmap_drawing import HeatItem, HeatmapGrid

    app = app_for(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, runs["cnn"])
        assert isinstance(screen, EvaluationScreen) and screen.data.ok
        data = screen.data
        classes = data.pred.classes

        # confusion: arrows move, Enter opens the cell's drawings
        await pilot.press("2")
        await settle(app, pilot)
        matrix = screen.query_one(ConfusionMatrix)
        assert app.focused is matrix
        await pilot.press("down", "right", "right")
        assert matrix.cursor == (1, 2)
        counts = matrix.counts
        off = counts.copy()
        np.fill_diagonal(off, -1)
        r, c = (int(v) for v in np.unravel_index(int(off.argmax()), off.shape))
        assert r != c and counts[r, c] > 0
        matrix.cursor = (r, c)
        await pilot.press("enter")
        await settle(app, pilot)
        gallery = app.screen
        assert isinstance(gallery, GalleryScreen)
        items = gallery.query_one(DrawingGrid).items
        assert len(items) == counts[r, c]
        assert {(it.truth, it.pred) for it in items} == {(classes[r], classes[c])}
        probs = [it.prob for it in items]
        assert probs == sorted(probs, reverse=True) and all(0 < p <= 1 for p in probs)
        assert all(it.provenance.startswith("demo:" + classes[r]) for it in items)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DrawingDialog)
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("n")
        assert matrix.rates

        # pairs: Enter opens both directions
        await pilot.press("3")
        await settle(app, pilot)
        pair = data.pairs[0]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, GalleryScreen)
        grids = app.screen.query(DrawingGrid)
        assert len(grids) == 2
        assert len(grids[0].items) == pair.a_as_b and len(grids[1].items) == pair.b_as_a
        assert all((it.truth, it.pred) == (pair.a, pair.b) for it in grids[0].items)
        assert all((it.truth, it.pred) == (pair.b, pair.a) for it in grids[1].items)
        await pilot.press("escape")
        await pilot.pause()

        # every tab renders without a message
        for k, (key, _) in enumerate(TABS):
            if key in ("confusion", "pairs"):
                continue
            await pilot.press(str(k + 1))
            await settle(app, pilot)
            assert screen.pane(key).saying == "", (key, screen.pane(key).saying)
        assert screen.query_one("#per-class").row_count == len(classes) + 1
        assert screen.query_one("#pairs-table").row_count == len(data.pairs) > 0
        assert len(screen.query_one("#worst-grid", DrawingGrid).items) == min(48, len(data.pred))
        clusters = screen.pane("clusters")
        assert screen.query_one("#clusters-table").row_count == len(clusters.groups) >= 2
        wrong = np.flatnonzero(data.predicted != data.pred.labels)
        assert sum(g.indices.size for g in clusters.groups) == wrong.size
        cam = screen.pane("cam")
        cam_items = screen.query_one(HeatmapGrid).items
        assert cam_items and all(isinstance(it, HeatItem) for it in cam_items)
        model, _ = load_model(data.run_dir)
        expected, _ = grad_cam_batch(model, data.pred.images[cam.shown])
        assert np.allclose(np.stack([it.heat for it in cam_items]), expected, atol=1e-5)
        assert all(it.truth == classes[0] for it in cam_items)  # the first class is chosen
        hidden = screen.pane("hidden")
        assert hidden.maps_of == hidden.index and len(hidden.layer_maps) == 4  # cnn2-000: conv, pool, conv, pool
        assert len(screen.query("#hidden-layers Drawing")) == 4
        assert screen.query_one("#quality-kinds").option_count == 4

        # clusters: DBSCAN, then the groups "misclassified as X"
        await pilot.press("5", "m")
        assert "DBSCAN" in str(screen.query_one("#clusters-line").content)
        await pilot.press("a")
        taken_as = {classes[p] for p in data.predicted[wrong].tolist()}
        assert [g.label for g in clusters.groups] and {g.label for g in clusters.groups} == taken_as

        # the drawing under the Worst tab's cursor is the one the Hidden tab shows
        await pilot.press("4", "right")
        await settle(app, pilot)
        chosen = int(screen.pane("worst").shown[1])
        await pilot.press("7")
        await settle(app, pilot)
        assert hidden.maps_of == chosen
        assert screen.query_one("#hidden-drawing", Drawing).image is not None


@sync
async def test_cam_and_hidden_need_a_cnn(runs):
    app = app_for(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, runs["fc"])
        await pilot.press("6")
        await settle(app, pilot)
        assert "need a CNN" in screen.pane("cam").saying and "fc" in screen.pane("cam").saying
        await pilot.press("7")
        await settle(app, pilot)
        assert "convolutional" in screen.pane("hidden").saying
        await pilot.press("2")  # the other tabs still work
        await settle(app, pilot)
        assert screen.pane("confusion").saying == ""


@sync
async def test_missing_model_worst_percentiles_and_quality(runs):
    from qdcore.analysis.worst import around_percentile, rank_drawings

    app = app_for(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, runs["no_model"])
        assert "model file missing" in str(screen.query_one("#eval-run-line").content)

        await pilot.press("4")
        await settle(app, pilot)
        worst = screen.pane("worst")
        ranking = rank_drawings(screen.data.pred)
        # the tab opens at the very worst drawing, under the cursor
        assert worst.pct == 0 and worst.shown[0] == ranking.order[0]
        assert screen.query_one("#worst-grid").cursor == 0
        assert "the worst drawings" in str(screen.query_one("#worst-line").content)
        await pilot.press("w")
        assert worst.pct == 5 and np.array_equal(worst.shown, around_percentile(ranking, 5, 48))
        assert "around the 5% worst" in str(screen.query_one("#worst-line").content)
        await pilot.press("right_square_bracket", "right_curly_bracket")
        assert worst.pct == 11 and np.array_equal(worst.shown, around_percentile(ranking, 11, 48))
        await pilot.press("left_curly_bracket", "left_curly_bracket", "left_curly_bracket")
        assert worst.pct == 0 and worst.shown[0] == ranking.order[0]
        await pilot.press("w", "r")
        await settle(app, pilot)
        assert worst.pct == 5 and worst.by == "loss" and "by loss" in str(screen.query_one("#worst-line").content)

        for key in ("6", "7"):
            await pilot.press(key)
            await settle(app, pilot)
        assert "model file is missing" in screen.pane("cam").saying
        assert "model file is missing" in screen.pane("hidden").saying

        await pilot.press("5", "f")  # penultimate features need the model; f goes back to pixels
        await settle(app, pilot)
        clusters = screen.pane("clusters")
        assert "model file is missing" in clusters.saying and "Press f" in clusters.saying
        await pilot.press("f")
        await settle(app, pilot)
        assert clusters.saying == "" and clusters.features == "pixels" and clusters.groups

        await pilot.press("8")
        await settle(app, pilot)
        found = {g.key: g for g in screen.pane("quality").galleries}
        assert 0 in found["blank"].indices.tolist()
        assert [1, 2] == sorted(found["exact"].indices.tolist())
        assert 5 in found["labels"].indices.tolist()


@sync
async def test_unknown_run_and_too_few_mistakes_are_messages(runs):
    app = app_for(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, 999)
        text = str(screen.query_one("#eval-missing-text").content)
        assert "Cannot open run 999" in text and "Traceback" not in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not screen

        app.action_open("run", run_id=runs["easy"])  # leaving before the load finishes is fine
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "HomeScreen"

        screen = await open_run(app, pilot, runs["easy"])
        wrong = int((screen.data.predicted != screen.data.pred.labels).sum())
        assert wrong < 10
        await pilot.press("5")
        await settle(app, pilot)
        said = screen.pane("clusters").saying
        assert f"only {wrong} misclassified" in said and "Traceback" not in said


@sync
async def test_run_without_predictions_offers_to_evaluate(runs):
    from qdcore.store import Store

    app = app_for(runs)
    rid = runs["unevaluated"]
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, rid)
        assert screen.has_class("-missing") and not screen.query_one("#eval-tabs").display
        text = str(screen.query_one("#eval-missing-text").content)
        assert "no predictions" in text and "Press e" in text
        assert screen.check_action("evaluate", ()) is True
        await pilot.press("e")
        await settle(app, pilot)
        assert not screen.has_class("-missing") and screen.data.ok
        with Store(runs["home"]) as store:
            assert (store.run_dir(rid) / "predictions.npz").exists()
        assert screen.query_one("#per-class").row_count == len(screen.data.pred.classes) + 1
        assert screen.check_action("evaluate", ()) is False


@sync
async def test_overview_intervals_and_the_calibration_tab(tmp_path):
    """The overview shows Wilson intervals from qdcore; the Calibration tab shows qdcore's ECE and non-empty bins."""
    from qdcore.analysis.calibration import calibration
    from qdcore.fmt import interval, percent
    from qdcore.store import Store

    pred = synthetic_predictions()
    with Store(tmp_path / "home") as store:
        rid = add_synthetic_run(store, "cal", pred, with_model=False)
    app = QdApp(AppState(home=tmp_path / "home"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, rid)
        s = screen.data.summary
        text = " ".join(str(screen.query_one("#overview-summary").content).split())
        assert f"top-1 {percent(s['top1'])} [{interval(*s['top1_ci'])}]" in text
        await pilot.press("9")
        await settle(app, pilot)
        cal = calibration(pred.probs, pred.labels)
        summary = " ".join(str(screen.query_one("#calibration-summary").content).split())
        assert f"expected calibration error {percent(cal.ece)}" in summary
        table = screen.query_one("#calibration-bins")
        assert table.row_count == sum(1 for b in cal.bins if b.count) and app.focused is table


@sync
async def test_overview_of_a_sampled_split_counts_every_drawing_and_says_how_many_it_shows(tmp_path):
    """A predictions file keeping a sample of a larger split: the overview's metrics and per-class table come from
    the whole split's counts, and the line under them says how many drawings the drawing views hold."""
    from qdcore.fmt import percent
    from qdcore.predictions import Totals
    from qdcore.stats import confusion_matrix
    from qdcore.store import Store

    whole = synthetic_predictions()
    kept = np.arange(0, len(whole), 4)
    cm = confusion_matrix(whole.labels, whole.predicted, len(whole.classes))
    pred = type(whole)(whole.probs[kept], whole.labels[kept], whole.classes, whole.images[kept],
                       [whole.provenance[i] for i in kept], Totals(cm, len(whole) - 3))
    with Store(tmp_path / "home") as store:
        rid = add_synthetic_run(store, "sampled", pred, with_model=False)
    app = QdApp(AppState(home=tmp_path / "home"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(app, pilot, rid)
        text = " ".join(str(screen.query_one("#overview-summary").content).split())
        assert f"top-1 {percent(np.trace(cm) / len(whole))}" in text
        assert f"{len(whole)} test drawings (the drawing views hold a random {len(kept)} of them)" in text
        assert f"{len(whole) - int(np.trace(cm))} misclassified" in text
        table = screen.query_one("#per-class")
        support = table.get_row_at(table.row_count - 1)[-1]  # the macro row's support: the whole split
        assert str(support).replace(",", "") == str(len(whole))


@sync
async def test_overview_shows_the_human_baseline(tmp_path):
    """People's quiz accuracy on the run's own test drawings, with its interval, beside the model on the same ones."""
    from qdcore.quiz.session import QuizConfig, QuizSession
    from qdcore.stats import wilson_interval
    from qdcore.store import Store

    pred = synthetic_predictions()
    with Store(tmp_path / "home") as store:
        rid = add_synthetic_run(store, "quizzed", pred, with_model=False)
        quiz = QuizSession.start(store, QuizConfig(participant="ann", n=6, run=rid, seed=1))
        shown = []
        while not quiz.complete:
            item = quiz.current
            shown.append(pred.provenance.index(item.provenance))
            wrong = next(c for c in pred.classes if c != item.truth)
            quiz.answer(item.truth if len(shown) <= 4 else wrong, 800)  # right on the first four: 4 / 6
    model_right = sum(int(pred.probs[i].argmax() == pred.labels[i]) for i in shown)
    lo, hi = wilson_interval(4, 6)

    app = QdApp(AppState(home=tmp_path / "home"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_run(app, pilot, rid)
        assert screen.data.baseline is not None and screen.data.baseline_note == ""
        text = " ".join(str(screen.query_one("#overview-summary").content).split())
        assert f"people 66.7% [{100 * lo:.1f}–{100 * hi:.1f}%] on 6 quiz answers by 1 person" in text
        assert f"the model {100 * model_right / 6:.1f}% on the same drawings" in text


# --- snapshots ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snapshot_home(tmp_path_factory) -> Path:
    """A folder holding `qd-home` with one synthetic run (id 1): seeded probabilities on demo drawings."""
    from qdcore.store import Store

    root = tmp_path_factory.mktemp("eval-snap")
    with Store(root / "qd-home") as store:
        add_synthetic_run(store, "widthk k=12 on demo", synthetic_predictions())
    return root


@pytest.fixture
def snap_app(snapshot_home, monkeypatch) -> QdApp:
    monkeypatch.chdir(snapshot_home)
    monkeypatch.setenv("QD_HOME", "qd-home")
    return QdApp(AppState(data_spec="demo", home=Path("qd-home"), seed=0))


def _on_tab(key: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await open_run(app, pilot, 1)
        await pilot.press(key)
        await settle(app, pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab", ["1", "2", "3", "4", "9"], ids=["overview", "confusion", "pairs", "worst", "calibration"])
def test_snapshot(snap_compare, snap_app, tab, size):
    assert snap_compare(snap_app, terminal_size=size, run_before=_on_tab(tab))
