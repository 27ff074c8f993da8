"""The evaluation screen's When tab: a real CNN trained on the demo's strokes, replayed by share of ink and of time."""

from __future__ import annotations

import os

import pytest
from tui_helpers import sync, wait_for

from qdtui.app import QdApp
from qdtui.state import AppState


@pytest.fixture(scope="module")
def cnn_home(tmp_path_factory):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    from qdcore.store import Store
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import start_run

    torch.set_num_threads(1)
    home = tmp_path_factory.mktemp("when") / "qd-home"
    with Store(home) as store:
        torch.manual_seed(0)
        cfg = TrainConfig(model="widthk", width=2, epochs=1, per_class=30, categories="circle,square,triangle",
                          device="cpu", seed=0, name="when")
        rid = start_run(cfg, store).run_id
    return home, rid


@sync
async def test_the_when_tab_shows_the_replay_of_the_test_drawings(cnn_home):
    from qdcore.analysis.progressive import knew_text, progressive_report
    from qdcore.store import Store
    from qdtui.screens.evaltabs.progressive import PER_CLASS, ProgressivePane

    home, rid = cnn_home
    with Store(home) as store:
        want = progressive_report(store, [rid], per_class=PER_CLASS)["runs"][0]
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        app.action_open("run", run_id=rid)
        await wait_for(pilot, lambda: getattr(app.screen, "data", None) is not None, 60, "the evaluation")
        await pilot.press("0")
        pane = app.screen.query_one(ProgressivePane)
        await wait_for(pilot, lambda: pane.report is not None or pane.saying, 120, "the replay")
        assert not pane.saying, pane.saying
        run = pane.report["runs"][0]
        assert run["n"] == want["n"] and [p["right"] for p in run["ink"]] == [p["right"] for p in want["ink"]]
        summary = " ".join(str(pane.query_one("#progressive-summary").content).split())
        assert f"knew at {knew_text(want['knew']['ink'])} of the ink" in summary
        table = pane.query_one("#progressive-classes")
        assert table.row_count == len(want["per_class"]) and str(table.get_row_at(0)[0]) == want["per_class"][0]["class"]
        assert "of ink" in str(table.ordered_columns[2].label)
        await pilot.press("t")
        if want["time"]:
            assert "of time" in str(table.ordered_columns[2].label)
