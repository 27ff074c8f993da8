"""Drawing in qd (core): strokes recorded as Google's raw drawings, the model's input, the game, stored drawings, export."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from helpers import pearson_rows

from qdcore.data.raster import rasterize
from qdcore.data.simplify import simplify
from qdcore.data.strokes import NdjsonSource, parse_line, read_drawings_file
from qdcore.draw.game import Game, article
from qdcore.draw.recorder import StrokeRecorder, model_input
from qdcore.draw.throttle import Throttle
from qdcore.errors import ConfigError, DataError


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def square(rec: StrokeRecorder, clock: Clock, x0=10, y0=10, side=20) -> None:
    corners = [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side), (x0, y0)]
    rec.start(*corners[0])
    for x, y in corners[1:]:
        clock.now += 0.05
        rec.extend(x, y)
    rec.finish()


def test_recorder_keeps_raw_strokes_with_times_undo_and_clear():
    clock = Clock()
    rec = StrokeRecorder(clock)
    assert rec.empty and rec.raw() == [] and not rec.image().any()
    square(rec, clock)
    clock.now += 1.0
    rec.start(0, 0)
    assert rec.extend(0, 0) is False  # a repeated point is not kept
    clock.now += 0.1
    rec.extend(5, 5)
    assert rec.drawing and len(rec.raw()) == 2 and len(rec.raw(include_current=False)) == 1
    rec.finish()
    raw = rec.raw()
    assert raw[0] == [[10, 30, 30, 10, 10], [10, 10, 30, 30, 10], [0, 50, 100, 150, 200]]
    assert raw[1] == [[0, 5], [0, 5], [1200, 1300]]
    v = rec.version
    assert rec.undo() and len(rec.raw()) == 1 and rec.version > v
    rec.clear()
    assert rec.empty and not rec.undo()


def test_model_input_is_googles_recipe_and_a_drawn_square_matches_the_same_square_in_ndjson(tmp_path):
    clock = Clock()
    rec = StrokeRecorder(clock)
    square(rec, clock, 3, 7, 40)
    img = rec.image()
    assert img.dtype == np.uint8 and img.shape == (28, 28) and img.max() > 200
    np.testing.assert_array_equal(img, rasterize(simplify(rec.raw())))
    # The same square written as a simplified ndjson line by hand rasterises the same.
    path = tmp_path / "square.ndjson"
    path.write_text(json.dumps({"word": "square", "drawing": [[[0, 255, 255, 0, 0], [0, 0, 255, 255, 0]]]}) + "\n")
    images, _ = read_drawings_file(path)
    assert pearson_rows(images, img[None])[0] > 0.99
    assert model_input([]).sum() == 0


def test_throttle_coalesces_changes():
    th = Throttle(interval=0.1)
    assert th.request(0.0) == 0.0
    th.started(0.0)
    assert th.request(0.01) is None  # busy: wait for done()
    assert th.done() is True  # a change arrived meanwhile
    assert th.request(0.05) == pytest.approx(0.05)  # too soon after the last start
    th.started(0.1)
    assert th.done() is False


def test_game_rounds_recognition_and_timeouts():
    game = Game(["circle", "square", "star"], rounds=4, seconds=20, seed=1)
    assert len(game.words) == 4 and set(game.words) <= {"circle", "square", "star"}
    assert len(set(game.words[:3])) == 3  # every class once before any repeats
    word = game.begin(0.0)
    wrong = next(c for c in game.classes if c != word)
    assert not game.observe([(wrong, 0.9), (word, 0.1)], 1.0)
    assert "I see" in game.message([(wrong, 0.9)])
    assert game.observe([(word, 0.8)], 3.5)
    assert game.message([(word, 0.8)]).startswith("Oh, I know, it's a")
    r = game.end([[[0, 1], [0, 1], [0, 10]]], [(word, 0.8)], 3.5)
    assert r.recognized and r.recognized_ms == pytest.approx(3500) and r.seconds == pytest.approx(3.5)
    game.begin(10.0)
    assert game.remaining(15.0) == pytest.approx(15.0) and not game.out_of_time(29.9) and game.out_of_time(30.0)
    r = game.end([], [], 31.0)
    assert not r.recognized and r.ms == pytest.approx(20000)
    for k in range(2):
        game.begin(40.0 + k)
        game.end([], [], 41.0 + k)
    assert game.over and game.word is None and len(game.results) == 4
    with pytest.raises(RuntimeError):
        game.begin(50.0)
    assert [article(w) for w in ("cat", "apple", "scissors")] == ["a cat", "an apple", "scissors"]


def test_stored_drawings_export_as_googles_ndjson_and_read_back(home, tmp_path):
    from qdcore.draw.export import export_drawn
    from qdcore.store import Store

    clock = Clock()
    with Store(home) as store:
        rid = store.create_run("m", "classifier", {})
        recs = {}
        for word, (x0, side) in {"square": (5, 30), "circle": (0, 12)}.items():
            rec = StrokeRecorder(clock)
            square(rec, clock, x0, x0, side)
            recs[word] = rec
            store.add_drawing("ann", word, rec.raw(), run_id=rid, guesses=[(word, 0.7), ("star", 0.2)],
                              recognized=word == "square", recognized_ms=1500 if word == "square" else None,
                              ms=2000, game="g1", round=0)
        with pytest.raises(ConfigError):
            store.add_drawing("ann", "square", [])
        with pytest.raises(ConfigError):
            store.add_drawing("", "square", recs["square"].raw())
        got = store.drawings(run_id=rid)
        assert [d.word for d in got] == ["square", "circle"] and got[0].guesses[0] == ("square", 0.7)
        assert got[0].recognized and got[0].recognized_ms == 1500 and not got[1].recognized
        raw_out, simple_out = tmp_path / "drawn.ndjson", tmp_path / "drawn-simplified.ndjson"
        assert export_drawn(store, raw_out) == 2
        assert export_drawn(store, simple_out, simplified=True) == 2
        with pytest.raises(DataError):
            export_drawn(store, tmp_path / "x.txt")
        with pytest.raises(DataError):
            export_drawn(store, tmp_path / "x.ndjson", participant="nobody")
    lines = raw_out.read_text().splitlines()
    obj = json.loads(lines[0])
    assert list(obj) == ["word", "countrycode", "timestamp", "recognized", "key_id", "drawing"]
    assert obj["timestamp"].endswith(" UTC") and obj["recognized"] is True
    assert obj["drawing"] == recs["square"].raw() and len(obj["drawing"][0]) == 3  # x, y, t
    d = parse_line(lines[0])
    assert d.raw and d.word == "square"
    assert len(json.loads(simple_out.read_text().splitlines()[0])["drawing"][0]) == 2
    # qd's own loader: one category per word, each drawing rasterised as the model saw it.
    for path in (raw_out, simple_out):
        src = NdjsonSource(path)
        assert src.categories() == ["circle", "square"] and src.count("square") == 1
        np.testing.assert_array_equal(src.read("square").reshape(28, 28), recs["square"].image())
        np.testing.assert_array_equal(src.read("circle").reshape(28, 28), recs["circle"].image())


def test_report_per_category_beside_test_accuracy(home):
    from qdcore.draw.report import drawn_report
    from qdcore.predictions import Predictions
    from qdcore.store import Store

    with Store(home) as store:
        rid = store.create_run("m", "classifier", {"data": "demo"})
        labels = np.array([0, 0, 0, 0, 1, 1])
        probs = np.eye(2, dtype=np.float32)[[0, 0, 0, 1, 1, 1]]
        Predictions(probs, labels, ["circle", "square"], np.zeros((6, 28, 28), np.uint8),
                    [f"x#{i}" for i in range(6)]).save(store.run_dir(rid) / "predictions.npz")
        store.finish_run(rid, "done", {"synthetic": True, "data_origin": "demo"})
        stroke = [[[0, 9], [0, 9], [0, 5]]]
        for word, ok, ms, knew in (("circle", True, 2000, 0.5), ("circle", True, 4000, 0.75),
                                   ("circle", False, None, math.inf), ("square", False, None, None)):
            store.add_drawing("ann", word, stroke, run_id=rid, recognized=ok, recognized_ms=ms, ms=5000, knew_ink=knew)
        rep = drawn_report(store)
    assert rep.run_id == rid and rep.synthetic and rep.drawn == 4 and rep.recognized == 2
    circle, sq = rep.rows
    assert (circle.word, circle.drawn, circle.recognized, circle.median_seconds) == ("circle", 3, 2, 3.0)
    assert circle.test_accuracy == pytest.approx(0.75) and circle.test_n == 4
    assert sq.share == 0 and sq.median_seconds is None and sq.test_accuracy == 1.0
    assert rep.as_dict()["categories"][0]["share"] == pytest.approx(2 / 3)
    # When it knew: the median share of ink over the drawings replayed (never = later than any share).
    assert circle.median_knew_ink == 0.75 and circle.knew_n == 3 and sq.median_knew_ink is None and sq.knew_n == 0
    assert rep.median_knew_ink == 0.75 and rep.as_dict()["knew_n"] == 3
    with Store(home) as store:
        assert [d.knew_ink for d in store.drawings()] == [0.5, 0.75, math.inf, None]


def test_cli_export_and_report_errors_are_one_line(home, tmp_path):
    from typer.testing import CliRunner

    from qdcore.cli.main import app as cli

    runner = CliRunner()
    for args in (["data", "export-drawn", "--out", str(tmp_path / "x.ndjson")],
                 ["data", "export-drawn", "--out", str(tmp_path / "x.txt")],
                 ["data", "export-drawn", "--out", str(tmp_path / "missing" / "x.ndjson")],
                 ["data", "drawn-report"]):
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, args
        assert res.output.count("\n") <= 3 and "qd: error:" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.ndjson").exists()


def test_models_load_through_the_run_kind_registry(home):
    from qdcore.errors import StoreError
    from qdcore.options import RunConfig
    from qdcore.runs.kinds import RunKind, register, unregister
    from qdcore.store import Store
    from qdcore.train.predictor import latest_model_run, load_predictor, predicting_kinds

    assert "classifier" in predicting_kinds()
    with Store(home) as store:
        with pytest.raises(StoreError, match="no finished classifier run"):
            latest_model_run(store)
        rid = store.create_run("q", "quiz", {})
        with pytest.raises(ConfigError, match="has no model that classifies drawings"):
            load_predictor(store, rid)

        def constant(run_dir, device):
            return (lambda x: np.tile([[0.25, 0.75]], (len(x), 1))), ["a", "b"]

        register(RunKind(name="constant", config=RunConfig, train=lambda *a: {}, predictor=constant))
        try:
            cid = store.create_run("c", "constant", {})
            store.finish_run(cid, "done", {})
            assert latest_model_run(store) == cid
            assert load_predictor(store, cid).top(np.zeros((28, 28), np.uint8), 2) == [("b", 0.75), ("a", 0.25)]
        finally:
            unregister("constant")
