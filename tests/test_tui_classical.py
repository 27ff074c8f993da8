"""A classical (LightGBM) run in the app: its live view plots the kind's panels, it opens the evaluation screen."""

from __future__ import annotations

import pytest
from tui_helpers import settle, sync, wait_for

from qdcore.store import Store
from qdcore.train.classical_config import ClassicalConfig
from qdtui.app import QdApp
from qdtui.screens.live import LiveScreen
from qdtui.state import AppState

ROUNDS = 6


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple:
    """A LightGBM run trained into a store through the run-kind registry (qd train's path)."""
    from qdcore.runs.run import start

    home = tmp_path_factory.mktemp("classical") / "qd-home"
    cfg = ClassicalConfig().replace(model="lightgbm", per_class=40, n_rounds=ROUNDS, num_leaves=7,
                                    min_data_in_leaf=5, threads=1)
    with Store(home) as store:
        outcome = start(cfg, store)
    assert outcome.status == "done"
    return home, outcome.run_id


def curves(screen: LiveScreen) -> dict[str, dict[str, int]]:
    return {p: {n: len(s.xs) for n, s in c.series.items()} for p, c in screen.plots.items()}


@sync
async def test_live_view_plots_validation_loss_per_round(run):
    home, rid = run
    app = QdApp(AppState(home=home, attach_run=rid))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), 30, "the live view")
        live = app.screen
        await wait_for(pilot, lambda: curves(live).get("loss") == {"train": ROUNDS, "val": ROUNDS}, 30,
                       "one loss point per boosting round")
        assert set(live.plots) == {"loss", "top1"}
        assert "test top-1" in str(live.query_one("#live-status").content)


@sync
async def test_a_finished_run_opens_its_evaluation_and_re_evaluates(run):
    from qdtui.screens.evaluation import EvaluationScreen

    home, rid = run
    with Store(home) as store:
        (store.run_dir(rid) / "predictions.npz").unlink(missing_ok=True)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_run(rid, "done", "classical")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, EvaluationScreen)
        assert screen.check_action("evaluate", ()) is True  # the model files are there (model.txt, model.json)
        await pilot.press("e")
        await settle(app, pilot)
        assert screen.data.ok and screen.query_one("#per-class").row_count == len(screen.data.pred.classes) + 1
        with Store(home) as store:
            assert (store.run_dir(rid) / "predictions.npz").exists()
            assert screen.data.summary["top1"] == pytest.approx(store.get_run(rid).summary["test_top1"])
