"""A stroke-sequence run started from the app's form: the form shows its kind's rows, the live view fills."""

from __future__ import annotations

from textual.widgets import Input, Select

from qdcore.store import Store
from qdtui.app import QdApp
from qdtui.screens.live import LiveScreen
from qdtui.state import AppState

from test_tui_live import counts, home, trainers  # noqa: F401 - the fixtures (one thread, children killed)
from tui_helpers import open_train_form, sync, wait_for


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
