"""The draw screen driven by Pilot: mouse and keyboard strokes, the model's input, live top 5, a game, the export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import pearson_rows
from tui_helpers import settle, sync, wait_for

from qdcore.data.raster import rasterize
from qdcore.data.simplify import simplify
from qdcore.data.strokes import NdjsonSource, read_drawings_file
from qdcore.draw.game import RoundResult
from qdtui.app import QdApp, parse_args, state_from_args
from qdtui.screens.draw import DrawScreen
from qdtui.screens.draw_results import DrawResultsScreen
from qdtui.state import AppState
from qdtui.widgets.canvas import Canvas

SHAPES = ["circle", "square", "triangle"]
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(scope="module")
def model_home(tmp_path_factory):
    """A store with one tiny classifier trained in seconds on three demo shapes."""
    from qdcore.store import Store
    from qdcore.train import TrainConfig
    from qdcore.train.runner import start_run

    home = tmp_path_factory.mktemp("draw-home")
    cfg = TrainConfig(data="demo", categories=",".join(SHAPES), per_class=150, epochs=3, batch_size=64, width=8,
                      batch_norm=True, lr=3e-3, log_every=50, amp=False, device="cpu", name="shapes")
    with Store(home) as store:
        result = start_run(cfg, store)
    assert result.status == "done"
    return home


def shape_points(word: str) -> list[tuple[int, int]]:
    """Cell offsets on the canvas that outline a shape (the canvas is at least 50x21 cells)."""
    if word == "square":
        return [(10, 3), (30, 3), (30, 13), (10, 13), (10, 3)]
    if word == "triangle":
        return [(20, 2), (32, 16), (8, 16), (20, 2)]
    return [(int(round(20 + 11 * math.cos(a * math.pi / 12))), int(round(9 + 6 * math.sin(a * math.pi / 12))))
            for a in range(25)]


async def mouse_stroke(pilot, points) -> None:
    """Press at the first point, drag through the others, release at the last."""
    await pilot.mouse_down("#canvas", offset=points[0])
    for p in points[1:]:
        await pilot.hover("#canvas", offset=p)
    await pilot.mouse_up("#canvas", offset=points[-1])
    await pilot.pause()


async def open_draw(app, pilot, **kwargs) -> DrawScreen:
    app.push_screen(DrawScreen(home=app.state.home, **kwargs))
    await wait_for(pilot, lambda: isinstance(app.screen, DrawScreen) and app.screen.query_one(Canvas).size.width,
                   what="the draw screen")
    return app.screen


@sync
async def test_mouse_and_keyboard_strokes_and_the_models_input(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_draw(app, pilot)
        await wait_for(pilot, lambda: "No model" in str(screen.query_one("#draw-guesses").render()),
                       what="the no-model note")
        canvas = screen.query_one(Canvas)
        assert canvas.size.width >= 50 and canvas.pixel_size[1] == 2 * canvas.size.height
        await mouse_stroke(pilot, shape_points("square"))
        raw = screen.recorder.raw()
        assert len(raw) == 1
        xs, ys, ts = raw[0]
        # Cells map to pixels: x in cells, y in half cells (two pixels a cell).
        assert (xs[0], ys[0]) == (10, 6) and (max(xs), max(ys)) == (30, 26) and (xs[-1], ys[-1]) == (10, 6)
        assert ts == sorted(ts) and ts[0] == 0
        # The model's input beside the canvas is Google's recipe applied to the raw strokes ...
        await wait_for(pilot, lambda: screen.query_one("#draw-input").image is not None
                       and screen.query_one("#draw-input").image.any(), what="the model's input")
        shown = screen.query_one("#draw-input").image
        np.testing.assert_array_equal(shown, rasterize(simplify(raw)))
        # ... and rasterises like the same square written by hand in Google's simplified ndjson (2:1 aspect).
        line = {"word": "square", "drawing": [[[0, 255, 255, 0, 0], [0, 0, 255, 255, 0]]]}
        path = home.parent / "square.ndjson"
        path.write_text(json.dumps(line) + "\n")
        assert pearson_rows(read_drawings_file(path)[0], shown[None])[0] > 0.98
        assert canvas._ink_pixels()[6, 10:31].all()  # the top edge is inked on the canvas
        # Keyboard pen: space puts it down at the centre, arrows draw, space lifts it.
        cx, cy = canvas.pixel_size[0] // 2, canvas.pixel_size[1] // 2
        await pilot.press("space", "right", "right", "shift+down", "space")
        assert len(screen.recorder.strokes) == 2
        assert screen.recorder.raw()[1][:2] == [[cx, cx + 1, cx + 2, cx + 2], [cy, cy, cy, cy + 4]]
        await pilot.press("u")
        assert len(screen.recorder.strokes) == 1
        await pilot.press("c")
        assert screen.recorder.empty
        await settle(app, pilot)


@sync
async def test_live_top5_after_a_stroke_and_during_one(model_home):
    app = QdApp(AppState(home=model_home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_draw(app, pilot)
        await wait_for(pilot, lambda: screen.predictor is not None, what="the model")
        assert screen.word in SHAPES
        assert screen.guesses == []
        # During a stroke (mouse still down) guesses already come in.
        pts = shape_points("square")
        await pilot.mouse_down("#canvas", offset=pts[0])
        for p in pts[1:3]:
            await pilot.hover("#canvas", offset=p)
        await wait_for(pilot, lambda: len(screen.guesses) == 3, what="guesses during a stroke")
        assert screen.recorder.drawing
        for p in pts[3:]:
            await pilot.hover("#canvas", offset=p)
        await pilot.mouse_up("#canvas", offset=pts[-1])
        version = screen.recorder.version
        await wait_for(pilot, lambda: screen.guesses and screen.guesses[0][0] == "square", what="square on top")
        await settle(app, pilot)
        assert screen.throttle.busy is False and screen.recorder.version == version
        probs = [p for _, p in screen.guesses]
        assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-4
        text = str(screen.query_one("#draw-guesses").render())
        assert text.splitlines()[0].startswith("1 square")


@sync
async def test_a_game_round_recognises_a_drawn_shape_and_the_export_reads_back(model_home, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from qdcore.cli.main import app as cli
    from qdcore.store import Store

    app = QdApp(AppState(home=model_home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_draw(app, pilot, game=True, rounds=2, seconds=20, seed=3, drawer="tester",
                                   pause=600)  # the verdict stays until enter, however slow the machine
        await wait_for(pilot, lambda: screen.game is not None, what="the game")
        game = screen.game
        first = screen.word
        assert first in SHAPES and game.state == "ready"  # the clock waits for the first stroke
        assert "from your first stroke" in str(screen.query_one("#draw-status").render())
        await mouse_stroke(pilot, shape_points(first))
        await wait_for(pilot, lambda: len(game.results) == 1, what="the model to recognise the drawing")
        r = game.results[0]
        assert r.recognized and r.word == first and 0 < r.recognized_ms < 20000
        # When it knew, replayed stroke by stroke: one stroke right at its end is 100% of the ink; a dot has no ink.
        from qdcore.data.prefix import stroke_ink
        from qdcore.draw.recorder import model_drawing

        inked = stroke_ink(model_drawing(r.strokes)).sum() > 0
        assert r.knew_ink in (1.0, float("inf")) if inked else r.knew_ink is None
        assert "Oh, I know, it's" in str(screen.query_one("#draw-status").render())
        await wait_for(pilot, lambda: r.drawing_id is not None, what="the drawing saved")
        drawn = screen.recorder.raw()
        await pilot.press("enter")  # next round at once
        assert game.state == "ready" and screen.recorder.empty and screen.word == game.words[1]
        await pilot.press("enter", "enter")  # start the clock, then give up: nothing drawn, nothing saved
        assert "That was the last round" in str(screen.query_one("#draw-status").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DrawResultsScreen), timeout=10, what="results")
        assert len(app.screen.results) == 2 and "recognised 1 of your 2" in str(
            app.screen.query_one("#results-line").render())
        await settle(app, pilot)
    with Store(model_home) as store:
        rows = store.drawings(participant="tester")
    assert len(rows) == 1 and rows[0].word == first and rows[0].recognized and rows[0].strokes == drawn
    assert rows[0].guesses[0][0] == first and rows[0].game == screen.game_id and rows[0].round == 0
    assert rows[0].knew_ink == r.knew_ink and rows[0].knew_time == r.knew_time
    monkeypatch.setenv("QD_HOME", str(model_home))
    out = tmp_path / "drawn.ndjson"
    res = CliRunner().invoke(cli, ["data", "export-drawn", "--out", str(out), "--name", "tester"])
    assert res.exit_code == 0, res.output
    src = NdjsonSource(out)
    assert src.categories() == [first] and src.kind == "ndjson-raw"
    np.testing.assert_array_equal(src.read(first).reshape(28, 28), rasterize(simplify(drawn)))
    res = CliRunner().invoke(cli, ["data", "drawn-report", "--json"])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    row = next(c for c in rep["categories"] if c["word"] == first)
    assert row["recognized"] >= 1 and row["test_accuracy"] is not None
    assert row["median_knew_ink"] == r.knew_ink and row["knew_n"] == int(r.knew_ink is not None)


@sync
async def test_qdtui_draw_arguments_open_the_game(model_home):
    ns = parse_args(["draw", "--run", "1", "--game", "--name", "ann", "--home", str(model_home)])
    app = QdApp(state_from_args(ns))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, DrawScreen) and app.screen.game is not None,
                       what="the game")
        assert app.screen.drawer == "ann" and app.screen.run_id == 1 and app.screen.game.rounds == 6
        assert "Round 1/6" in str(app.screen.query_one("#draw-status").render())
        await pilot.press("escape")
        await settle(app, pilot)


@sync
async def test_home_key_opens_the_draw_screen(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, DrawScreen), what="the draw screen")
        await settle(app, pilot)


# --- snapshots ---------------------------------------------------------------


# A square drawn with the keyboard pen from the canvas's centre.
PEN_SQUARE = ["space"] + ["shift+right"] * 4 + ["shift+down"] * 4 + ["shift+left"] * 4 + ["shift+up"] * 4 + ["space"]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_canvas(snap_compare, snap_home, size):
    app = QdApp(AppState(home=snap_home))

    async def run_before(pilot):
        await settle(app, pilot)
        app.push_screen(DrawScreen(home=snap_home, drawer="snap"))
        await wait_for(pilot, lambda: isinstance(app.screen, DrawScreen) and app.screen.model_note.startswith("No"))
        await mouse_stroke(pilot, [(4, 2), (16, 2), (16, 8), (4, 8), (4, 2)])
        for key in PEN_SQUARE:
            await pilot.press(key)
        await wait_for(pilot, lambda: app.screen.query_one("#draw-input").image is not None
                       and not app.screen.throttle.busy and not app.screen.throttle.pending)
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def _results() -> list[RoundResult]:
    def sq(x0, y0, s):
        return [[[x0, x0 + s, x0 + s, x0, x0], [y0, y0, y0 + s, y0 + s, y0], [0, 100, 200, 300, 400]]]

    circle = [[[int(20 + 10 * math.cos(a / 6)) for a in range(40)], [int(20 + 10 * math.sin(a / 6)) for a in range(40)],
               list(range(0, 4000, 100))]]
    tri = [[[20, 35, 5, 20], [0, 30, 30, 0], [0, 300, 600, 900]]]
    g = [("square", 0.81), ("circle", 0.12), ("triangle", 0.07)]
    return [RoundResult(0, "square", sq(0, 0, 30), g, True, 2300.0, 2300.0),
            RoundResult(1, "circle", circle, [("circle", 0.9), ("square", 0.06), ("triangle", 0.04)], True, 4100.0, 4100.0),
            RoundResult(2, "triangle", tri, [("square", 0.55), ("triangle", 0.4), ("circle", 0.05)], False, None, 20000.0),
            RoundResult(3, "square", sq(3, 0, 20) + tri, [("triangle", 0.6), ("square", 0.3), ("circle", 0.1)], False,
                        None, 20000.0),
            RoundResult(4, "circle", [], [], False, None, 20000.0),
            RoundResult(5, "triangle", tri, [("triangle", 0.97), ("square", 0.02), ("circle", 0.01)], True, 900.0, 900.0)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_results(snap_compare, snap_home, size):
    app = QdApp(AppState(home=snap_home))

    async def run_before(pilot):
        await settle(app, pilot)
        app.push_screen(DrawResultsScreen(_results(), "shapes", 1, "snap"))
        await settle(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@sync
async def test_a_classical_run_guesses_too(home):
    from qdcore.runs.run import start
    from qdcore.store import Store
    from qdcore.train.classical_config import ClassicalConfig

    cfg = ClassicalConfig(model="logreg", data="demo", categories=",".join(SHAPES), per_class=60, max_iter=30,
                          iters_per_step=5, threads=1, name="logreg shapes")
    with Store(home) as store:
        outcome = start(cfg, store)
        rid = store.list_runs(kind="classical")[0].id
        assert store.get_run(rid).status == "done", outcome
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_draw(app, pilot, run_id=rid)
        await wait_for(pilot, lambda: screen.predictor is not None, what="the classical model")
        assert screen.predictor.classes == sorted(SHAPES)
        await mouse_stroke(pilot, shape_points("square"))
        await wait_for(pilot, lambda: len(screen.guesses) == 3, what="the classical model's guesses")
        assert abs(sum(p for _, p in screen.guesses) - 1) < 1e-4
        await settle(app, pilot)


@sync
async def test_the_game_prompt_fits_80_columns(model_home):
    from qdcore.draw.game import article

    app = QdApp(AppState(home=model_home))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_draw(app, pilot, game=True, rounds=2, seconds=20, seed=3, drawer="tester")
        await wait_for(pilot, lambda: screen.game is not None, what="the game")
        await settle(app, pilot)
        status = screen.query_one("#draw-status")
        text = str(status.render())
        assert text.startswith(f"Round 1/2: draw {article(screen.word)}") and text.endswith("run 1"), text
        assert len(text) <= status.content_size.width, text


def test_results_say_when_the_model_knew():
    from qdtui.screens.draw_results import summary, tile_title

    rounds = _results()
    rounds[0].knew_ink, rounds[1].knew_ink, rounds[2].knew_ink = 0.6, 1.0, float("inf")
    assert str(tile_title(rounds[0])) == "square ✓ 2.3 s 60% ink" and str(tile_title(rounds[2])) == "triangle ✗"
    assert "knew at 100% of the ink (median)" in str(summary(rounds, "shapes", 1, "ann"))
    rounds[3].knew_ink = rounds[5].knew_ink = float("inf")
    assert "mostly never sure" in str(summary(rounds, "shapes", 1, "ann"))
