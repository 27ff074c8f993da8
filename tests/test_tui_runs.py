"""Pilot tests of the runs screen: the tracker table sorted and filtered, marks and overlays, open, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey
from tui_helpers import sync, wait_for

from qdcore.store import Store
from qdtui.app import QdApp
from qdtui.screens.dialogs import ConfirmDialog, ErrorDialog
from qdtui.screens.live import LiveScreen
from qdtui.screens.overlay import OverlayScreen
from qdtui.screens.runs import RunsScreen, filter_rows, sort_rows
from qdtui.state import AppState

SIZES = [(80, 24), (120, 40)]


def make_runs(home: Path) -> dict[str, int]:
    """Five runs with fixed values (no clocks shown): three finished, one interrupted, one failed, one running."""
    ids: dict[str, int] = {}
    with Store(home) as store:
        def epochs(rid: int, n: int, top1: float) -> None:
            rows = []
            for e in range(1, n + 1):
                rows += [(e * 10, e, "val", "top1", top1 * e / n), (e * 10, e, "val", "loss", 2.0 / e),
                         (e * 10, e, "train", "loss", 1.8 / e)]
            store.log_metrics(rid, rows)

        hyper = {"lr": 0.001, "epochs": 3, "per_class": None, "batch_size": 256, "optimizer": "adam"}
        ids["fc"] = store.create_run("fc baseline", "classifier", {"model": "fc", "data": "demo", **hyper},
                                     device="cpu fp32")
        epochs(ids["fc"], 3, 0.61)
        store.finish_run(ids["fc"], "done", {"test_top1": 0.612, "test_top5": 0.903, "params": 20067,
                                             "best_epoch": 3, "train_seconds": 12.5})
        ids["cnn"] = store.create_run("cnn2 small", "classifier", {"model": "cnn2-000", "data": "cache", **hyper,
                                                                   "lr": 0.003, "per_class": 2000})
        epochs(ids["cnn"], 4, 0.75)
        store.finish_run(ids["cnn"], "done", {"test_top1": 0.745, "test_top5": 0.951, "params": 19322,
                                              "best_epoch": 4, "train_seconds": 95.0})
        ids["wk"] = store.create_run("widthk k=12 on real data, long name", "classifier",
                                     {"model": "widthk", "data": "/data/quickdraw/numpy_bitmap", **hyper,
                                      "optimizer": "sgd", "lr": 0.1, "epochs": 30, "batch_size": 64})
        epochs(ids["wk"], 2, 0.5)
        store.finish_run(ids["wk"], "interrupted", {"params": 65002, "train_seconds": 3725.0, "best_epoch": 2})
        ids["bad"] = store.create_run("broken", "classifier", {"model": "alexnet2", "data": "demo"})
        store.finish_run(ids["bad"], "failed", {"error": "RuntimeError: out of memory", "train_seconds": 0.8})
        ids["live"] = store.create_run("still going", "classifier", {"model": "fc", "data": "demo"})
        epochs(ids["live"], 1, 0.3)
    return ids


async def open_runs(app, pilot) -> RunsScreen:
    await pilot.pause()
    await pilot.press("r")  # from the home screen
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.loaded >= 1, what="runs")
    await pilot.pause()
    return app.screen


def order(screen: RunsScreen) -> list[int]:
    table = screen.query_one("#tracker", DataTable)
    return [int(table.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(table.row_count)]


async def cursor_to(pilot, screen: RunsScreen, run_id: int) -> None:
    table = screen.query_one("#tracker", DataTable)
    table.move_cursor(row=table.get_row_index(str(run_id)))
    await pilot.pause()


@sync
async def test_runs_table_lists_sorts_and_filters(home):
    ids = make_runs(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        assert order(screen) == sorted(ids.values(), reverse=True)  # newest first
        table = screen.query_one("#tracker", DataTable)
        heads = [str(c.label).strip(" ▲▼") for c in table.columns.values()]
        # 80 columns: the hyperparameters that tell runs apart; params and runtime wait for a wider terminal.
        assert heads == ["", "id", "name", "model", "top-1", "lr", "ep", "n/cls", "bs", "opt", "status"]
        cells = [str(c).strip() for c in table.get_row(str(ids["fc"]))]
        assert cells[2:] == ["fc baseline", "fc", "61.2%", "0.001", "3", "all", "256", "adam", "done"]
        wk = [str(c).strip() for c in table.get_row(str(ids["wk"]))]
        assert wk[2].startswith("widthk k=12 on") and wk[2].endswith("…") and wk[4] == "—" and wk[9] == "sgd"
        widths = list(screen._widths.values())
        assert [len(str(c)) for c in table.get_row(str(ids["wk"]))] == [1] + widths
        assert 1 + sum(widths) <= 79
        await pilot.press("s")  # id -> name, A to Z
        assert screen.sort_key == "name" and order(screen)[0] == ids["bad"]
        while screen.sort_key != "top1":
            await pilot.press("s")
        assert order(screen)[:2] == [ids["cnn"], ids["fc"]]  # best first, unknown last
        await pilot.press("S")
        assert order(screen)[:2] == [ids["fc"], ids["cnn"]] and len(order(screen)) == 5
        table.post_message(DataTable.HeaderSelected(table, ColumnKey("lr"), 5, Text("lr")))
        await pilot.pause()
        assert screen.sort_key == "lr" and order(screen)[0] == ids["wk"]
        await pilot.press("slash", "c", "n", "n")
        await pilot.pause()
        assert order(screen) == [ids["cnn"]] and "1 of 5 runs" in str(screen.query_one("#tracker-note").content)
        await pilot.press("enter")  # back to the table, filter kept
        await pilot.pause()
        assert screen.query_one("#tracker").has_focus and order(screen) == [ids["cnn"]]
        await pilot.press("escape")  # clears the filter first
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen) and len(order(screen)) == 5
        await pilot.press("slash", "d", "e", "m", "o", "space", "d", "o", "n", "e")
        await pilot.pause()
        assert order(screen) == [ids["fc"]]  # every word must match


def test_sort_and_filter_helpers():
    from qdtui.screens.runs import RunRow

    class R:
        def __init__(self, i, name, top1):
            self.id, self.name, self.kind, self.status = i, name, "classifier", "done"
            self.config, self.summary = {"model": "fc"}, {"test_top1": top1}
            self.started, self.ended, self.heartbeat = 0.0, 2.0, None

    rows = [RunRow.of(R(1, "b", 0.5)), RunRow.of(R(2, "a", None)), RunRow.of(R(3, "c", 0.9))]
    assert [r.id for r in sort_rows(rows, "top1", True)] == [3, 1, 2]
    assert [r.id for r in sort_rows(rows, "top1", False)] == [1, 3, 2]
    assert [r.id for r in sort_rows(rows, "name", False)] == [2, 1, 3]
    assert [r.id for r in filter_rows(rows, "B")] == [1] and rows[0].values["runtime"] == 2.0


@sync
async def test_overlay_of_two_marked_runs(home):
    ids = make_runs(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        await pilot.press("o")  # nothing marked: the run under the cursor
        await wait_for(pilot, lambda: isinstance(app.screen, OverlayScreen) and app.screen.loaded)
        await pilot.press("escape")
        await pilot.pause()
        await cursor_to(pilot, screen, ids["fc"])
        await pilot.press("space")
        await cursor_to(pilot, screen, ids["cnn"])
        await pilot.press("space")
        assert screen.marked == {ids["fc"], ids["cnn"]}
        assert str(screen.query_one("#tracker", DataTable).get_cell(str(ids["fc"]), "mark")) == "●"
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, OverlayScreen) and app.screen.loaded)
        await pilot.pause()
        overlay = app.screen
        top1 = overlay.query_one("#overlay-top1").series
        loss = overlay.query_one("#overlay-loss").series
        assert {k: len(s.xs) for k, s in top1.items()} == {f"#{ids['fc']} fc baseline": 3,
                                                           f"#{ids['cnn']} cnn2 small": 4}
        assert top1[f"#{ids['cnn']} cnn2 small"].ys[-1] == pytest.approx(75.0)
        assert len(loss) == 2
        legend = str(overlay.query_one("#overlay-legend").content)
        assert "best val top-1 75.0%" in legend and "best val top-1 61.0%" in legend
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


@sync
async def test_delete_asks_first(home):
    ids = make_runs(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        await cursor_to(pilot, screen, ids["bad"])
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and "broken" in app.screen.question
        await pilot.press("n")
        await pilot.pause()
        assert Store(home).has_run(ids["bad"])
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.loaded >= 2, what="reload")
        assert not Store(home).has_run(ids["bad"]) and ids["bad"] not in order(screen)
        assert len(order(screen)) == 4
        # A run that is still training (its owner, this process, is alive) is refused, with a message.
        await cursor_to(pilot, screen, ids["live"])
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog), what="the refusal")
        assert "still running" in app.screen.message and Store(home).has_run(ids["live"])


@sync
async def test_enter_follows_a_running_run_and_evaluates_a_finished_one(home):
    ids = make_runs(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        await cursor_to(pilot, screen, ids["live"])
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.polls >= 1, what="live")
        live = app.screen
        assert live.mode == "attach" and live.live.run_id == ids["live"] and live.live.status == "running"
        assert live.live.epochs_done == 1
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await cursor_to(pilot, screen, ids["wk"])  # interrupted: the live view offers resume
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen) and app.screen.polls >= 1, what="live")
        assert app.screen.check_action("resume", ()) and not app.screen.check_action("cancel", ())
        await pilot.press("escape")
        await pilot.pause()
        await cursor_to(pilot, screen, ids["fc"])
        await pilot.press("enter")
        await pilot.pause()
        assert app.state.current_run == ids["fc"]
        # The evaluation screen (another part of the app) opens, or a notice says it is not there yet.
        assert app.screen is not screen or not app.routes.get("run")


@sync
async def test_empty_and_corrupt_stores_are_notes(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        assert "No runs yet" in str(screen.query_one("#tracker-note").content)
    bad = home.parent / "bad-home"
    bad.mkdir()
    (bad / "qd.sqlite").write_bytes(b"not a database at all" * 50)
    app = QdApp(AppState(home=bad))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "could not" in str(app.screen.query_one("#runs-note").content), what="home note")
        screen = await open_runs(app, pilot)
        screen.load()  # a second read of the broken store, as the auto-reload does
        await wait_for(pilot, lambda: screen.loaded >= 2, what="second load")
        note = str(screen.query_one("#tracker-note").content)
        home_note = str(app.screen_stack[0].query_one("#runs-note").content)
        # The gateway says once why (the home screen and two reads of the runs screen met the same trouble);
        # each screen's line says only that it could not read.
        told = [n for n in app._notifications if n.title == "Run store unavailable"]
        assert len(told) == 1 and "not a qd store (corrupt?)" in told[0].message and str(bad) in told[0].message
        assert note.startswith("could not read runs") and "the notice says why" in note and "corrupt" not in note
        assert home_note.startswith("could not") and "the notice says why" in home_note


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_runs(snap_compare, tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    make_runs(Path("qd-home"))

    async def run_before(pilot) -> None:
        app = pilot.app
        await open_runs(app, pilot)
        await pilot.press("down", "space")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(QdApp(AppState(home=Path("qd-home"))), terminal_size=size, run_before=run_before)


@sync
async def test_people_column_shows_the_human_baseline(home, quizzed):
    """With quiz answers on a run's drawings the tracker gains a people column: 11 of 16 answers right."""
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(100, 24)) as pilot:
        screen = await open_runs(app, pilot)
        table = screen.query_one("#tracker", DataTable)
        header = [str(c.label).strip() for c in table.columns.values()]
        assert "people" in header
        cells = [str(c).strip() for c in table.get_row(str(quizzed))]
        assert cells[header.index("people")] == "68.8%"


@sync
async def test_marks_hidden_by_a_filter_are_not_deleted(home):
    ids = make_runs(home)
    with Store(home) as store:
        hostile = store.create_run("ablation [/] \x1b]0;pwn\x07\nfake", "classifier", {"model": "fc", "data": "[b]x"})
        store.finish_run(hostile, "done", {})
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_runs(app, pilot)
        cell = str(screen.query_one("#tracker", DataTable).get_cell(str(hostile), "name"))
        assert "\x1b" not in cell and "\n" not in cell and cell.strip().startswith("ablation [/]")
        for rid in (ids["fc"], ids["bad"]):
            await cursor_to(pilot, screen, rid)
            await pilot.press("space")
        await pilot.press("slash")
        await pilot.press(*"broken")
        await pilot.press("enter")
        await wait_for(pilot, lambda: [r.id for r in screen.shown] == [ids["bad"]], what="the filter")
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog) and "1 marked runs hidden by the filter are kept" in app.screen.question
        await pilot.press("y")
        await wait_for(pilot, lambda: not Store(home).has_run(ids["bad"]), what="the delete")
        assert Store(home).has_run(ids["fc"]) and ids["fc"] in screen.marked


@sync
async def test_the_run_under_the_cursor_shows_its_top1_with_a_wilson_interval(home):
    from statsmodels.stats.proportion import proportion_confint

    with Store(home) as store:
        rid = store.create_run("with interval", "classifier", {"model": "fc", "data": "demo"})
        store.finish_run(rid, "done", {"test_top1": 0.75, "test_top5": 0.95, "num_test": 400})
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(app, pilot)
        await cursor_to(pilot, screen, rid)
        note = str(screen.query_one("#tracker-note").content)
        lo, hi = proportion_confint(300, 400, alpha=0.05, method="wilson")
        assert f"run {rid}: test top-1 75.0% ({100 * lo:.1f}–{100 * hi:.1f}%)" in note and "n=400" in note
