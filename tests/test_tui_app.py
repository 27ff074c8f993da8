"""Pilot tests of the real qdtui app: home, data browser, help, theme, small terminals, attach, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tui_helpers import settle, sync, wait_for

from qdtui.app import QdApp, parse_args, state_from_args
from qdtui.screens.data_browser import DataBrowserScreen
from qdtui.screens.dialogs import DrawingDialog, ErrorDialog, MessageScreen, TooSmallScreen
from qdtui.screens.help import HelpScreen
from qdtui.screens.home import HomeScreen
from qdtui.state import AppState
from qdtui.widgets.drawing import HALF
from qdtui.widgets.drawing_grid import DrawingGrid


def text_of(widget) -> str:
    return str(widget.content)


def npy_folder(root: Path) -> Path:
    """Two tiny categories as Google-style .npy files (white strokes on black)."""
    root.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(["apple", "zebra"]):
        imgs = np.zeros((5 + k, 28, 28), np.uint8)
        imgs[:, 4 + k, :] = 255
        np.save(root / f"{name}.npy", imgs.reshape(len(imgs), 784))
    return root


@sync
async def test_home_shows_demo_label_and_empty_runs(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        label = text_of(app.screen.query_one("#data-label"))
        assert label.startswith("demo (synthetic)") and "categories" in label
        assert app.screen.query_one("#runs-table").row_count == 0
        assert "No runs yet" in text_of(app.screen.query_one("#runs-note"))
        assert app.first_paint_at is not None


@sync
async def test_home_lists_runs_from_the_store(home):
    from qdcore.store import Store

    with Store(home) as store:
        rid = store.create_run("tiny", "classifier", {"epochs": 1})
        store.finish_run(rid, "done", {"test_top1": 0.9})
        store.create_run("other", "classifier", {})
        store.create_run("a study's trial", "classifier", {}, parent=rid)  # the Studies screen lists trials
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one("#runs-table")
        assert table.row_count == 2
        cells = [str(c) for c in table.get_row(str(rid))]
        assert cells[1] == "tiny" and cells[3] == "done" and cells[4] == "90.0%"
        await pilot.press("down", "down", "up", "enter")  # the newest run is still running: live view
        await pilot.pause()
        assert type(app.screen).__name__ == "LiveScreen" and app.state.current_run == rid + 1
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("down", "enter")  # the finished run opens its evaluation
        await pilot.pause()
        assert type(app.screen).__name__ == "EvaluationScreen" and app.state.current_run == rid


@sync
async def test_data_browser_shows_a_grid_of_drawings(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, DataBrowserScreen)
        options = screen.query_one("#categories")
        assert options.option_count >= 10
        grid = screen.query_one(DrawingGrid)
        assert len(grid.items) == 24 and grid.columns == 2
        assert grid.items[0].truth == options.get_option_at_index(0).id
        assert HALF in grid.render_line(0).text
        first = grid.items[0].provenance
        await pilot.press("down")  # next category loads its own samples
        await settle(app, pilot)
        assert grid.items[0].truth == options.get_option_at_index(1).id and grid.items[0].provenance != first
        await pilot.press("tab", "right", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DrawingDialog)
        # the zoom is larger than the grid's drawing (28x14 cells at 1x), in pixels and in cells
        big = app.screen.query_one("#big-drawing")
        assert big.image.shape[0] > 28 and big.size.width > 28 and big.size.height > 14
        assert big.region.bottom <= 24
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


@sync
async def test_data_browser_on_a_folder_of_npy_files(home, tmp_path):
    folder = npy_folder(tmp_path / "bitmaps")
    app = QdApp(AppState(data_spec=str(folder), home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "2 categories · 11 drawings" in text_of(app.screen.query_one("#data-label"))
        await pilot.press("d")
        await settle(app, pilot)
        grid = app.screen.query_one(DrawingGrid)
        assert [it.provenance for it in grid.items] == [f"apple.npy#{i}" for i in range(5)]


@sync
async def test_bad_data_path_is_a_message_not_a_crash(home, tmp_path):
    app = QdApp(AppState(data_spec=str(tmp_path / "nowhere"), home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "cannot open" in text_of(app.screen.query_one("#data-label"))
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, ErrorDialog) and "does not exist" in app.screen.message
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DataBrowserScreen)


@sync
async def test_help_opens_and_closes(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = {k.description for k in app.screen.keys}
        assert {"Train", "Data", "Quit"} <= keys
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("question_mark", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


@sync
async def test_theme_toggles(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"


@sync
async def test_small_terminal_shows_a_notice(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert not isinstance(app.screen, TooSmallScreen)
        await pilot.resize_terminal(70, 20)
        await _until(pilot, lambda: isinstance(app.screen, TooSmallScreen))
        assert "70×20" in text_of(app.screen.query_one("#too-small-text"))
        await pilot.resize_terminal(80, 24)
        await _until(pilot, lambda: isinstance(app.screen, HomeScreen))


async def _until(pilot, done, seconds: float = 10.0) -> None:
    """Pause until `done()` (a loaded machine can take several frames), failing after `seconds`."""
    await wait_for(pilot, done, seconds, "the screen to change")


@sync
async def test_starting_small_shows_the_notice(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(60, 15)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        assert "Enlarge the terminal" in text_of(app.screen.query_one("#too-small-text"))


@sync
async def test_attach_to_a_missing_run_says_so(home):
    app = QdApp(AppState(home=home, attach_run=999))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, MessageScreen)
        assert "999" in app.screen.title_text and "not found" in app.screen.title_text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


@sync
async def test_quit_from_home(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("escape")  # escape on home stays
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


def test_arguments():
    ns = parse_args(["--data", "cache", "attach", "12", "--home", "/tmp/h"])
    st = state_from_args(ns)
    assert (st.data_spec, st.home, st.attach_run) == ("cache", Path("/tmp/h"), 12)
    st = state_from_args(parse_args([]))
    assert (st.data_spec, st.home, st.attach_run, st.data_label) == ("demo", None, None, "demo (synthetic)")
    with pytest.raises(SystemExit):
        parse_args(["attach", "twelve"])


@sync
async def test_attach_to_an_existing_run_finds_it(home):
    from qdcore.store import Store

    with Store(home) as store:
        rid = store.create_run("headless", "classifier", {})
        store.finish_run(rid, "done", {})
    app = QdApp(AppState(home=home, attach_run=rid))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        # The live view follows it (qdtui/screens/live.py; tests/test_tui_live.py tests it in depth).
        assert type(app.screen).__name__ == "LiveScreen" and app.screen.live.run_id == rid
        assert app.state.current_run == rid


@sync
async def test_corrupt_store_is_a_note_not_a_crash(home):
    home.mkdir(parents=True)
    (home / "qd.sqlite").write_bytes(b"this is not a database" * 100)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, HomeScreen)
        note = text_of(app.screen.query_one("#runs-note"))
        assert note.startswith("could not") and "Traceback" not in note


@sync
async def test_confirm_dialog_answers(home):
    from qdtui.screens.dialogs import ConfirmDialog

    answers: list[bool] = []
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(ConfirmDialog("Delete run 3?", yes="Delete"), callback=answers.append)
        await pilot.pause()
        await pilot.press("enter")  # the focused default is the safe answer
        app.push_screen(ConfirmDialog("Delete run 3?", yes="Delete"), callback=answers.append)
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert answers == [False, True]


@sync
async def test_notice_under_a_dialog_goes_once_uncovered(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        app.show_error("something failed")
        await pilot.pause()
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert isinstance(app.screen, ErrorDialog)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
