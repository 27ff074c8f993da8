"""When did it know: exact prefixes of ink and time, the "knew at" moment, and `qd analyze --progressive` on real runs."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from helpers import require_shared_quickdraw, scaled_timeout
from typer.testing import CliRunner

from qdcore.analysis.progressive import GRID, knew_at, median_interval, replay, summarize
from qdcore.cli.main import app
from qdcore.data.prefix import has_times, ink_prefix, ink_share, stroke_ends, stroke_ink, time_prefix
from qdcore.data.strokes import Drawing, load_drawings

L_SHAPE = Drawing([([0, 10], [0, 0]), ([0, 0, 0], [5, 20, 35])], "l", times=[[0, 100], [400, 450, 1000]])


def test_ink_prefix_of_a_hand_drawing_is_cut_exactly():
    assert stroke_ink(L_SHAPE).tolist() == [10.0, 30.0]
    assert ink_prefix(L_SHAPE, 0.25).strokes == [([0.0, 10.0], [0.0, 0.0])]
    half = ink_prefix(L_SHAPE, 0.5)  # 20 of 40 units: stroke 1, then 10 units of stroke 2
    assert half.strokes == [([0.0, 10.0], [0.0, 0.0]), ([0.0, 0.0], [5.0, 15.0])]
    assert half.raw and half.times == [[0, 100], [400.0, 400 + 50 * 10 / 15]]  # time interpolated along the cut
    tiny = ink_prefix(L_SHAPE, 0.1)
    assert tiny.strokes == [([0.0, 4.0], [0.0, 0.0])]
    assert ink_prefix(L_SHAPE, 1.0) is L_SHAPE
    ink, t = stroke_ends(L_SHAPE)
    assert ink.tolist() == [0.25, 1.0] and t.tolist() == [0.1, 1.0]


def test_time_prefix_cuts_where_the_pen_was():
    assert has_times(L_SHAPE)
    p = time_prefix(L_SHAPE, 0.2)  # 200 ms: stroke 1 done, the pen up until 400 ms
    assert p.strokes == [([0.0, 10.0], [0.0, 0.0])]
    p = time_prefix(L_SHAPE, 0.7)  # 700 ms: halfway from (0, 20) at 450 ms to (0, 35) at 1000 ms
    assert p.strokes[1] == ([0.0, 0.0, 0.0], [5.0, 20.0, 20 + 15 * 250 / 550])
    backwards = Drawing(L_SHAPE.strokes, times=[[0, 100], [50, 60, 70]])
    assert not has_times(backwards) and not has_times(Drawing(L_SHAPE.strokes))


def test_real_raw_drawings_give_exact_monotone_shares():
    root = require_shared_quickdraw()
    drawings = load_drawings(root / "raw" / "cat.ndjson")[:20]
    for d in drawings:
        shares = [ink_share(ink_prefix(d, g), d) for g in GRID]
        assert np.allclose(shares, GRID, atol=1e-9), shares
        ink, t = stroke_ends(d)
        assert np.all(np.diff(ink) >= 0) and ink[-1] == 1.0
        assert t is not None and np.all(np.diff(t) >= 0) and math.isclose(t[-1], 1.0)
        times = [sum(len(s) for s in time_prefix(d, g).times) for g in GRID]
        assert times == sorted(times)


def test_knew_at_is_the_start_of_the_last_right_run():
    shares = [0.2, 0.4, 0.6, 0.8, 1.0]
    assert knew_at([False, True, False, True, True], shares) == 0.8
    assert knew_at([True] * 5, shares) == 0.2
    assert math.isnan(knew_at([True, True, True, True, False], shares))


def test_median_interval_from_order_statistics():
    v = np.arange(1, 21, dtype=float) / 20  # n = 20: the 95% interval is the 6th to the 15th value
    med, lo, hi = median_interval(v)
    assert med == pytest.approx(0.525) and (lo, hi) == (0.30, 0.75)
    med, lo, hi = median_interval(np.array([0.5, math.nan, math.nan]))  # never-right drawings are later than any share
    assert med == math.inf and lo == 0.5 and hi == math.inf


def test_a_planted_model_knows_after_its_second_stroke():
    """A model that says 'two' once a drawing has two strokes or more, else 'one': it knows after stroke 2."""
    from qdcore.data.drawings import Drawings

    def predict(x: Drawings) -> np.ndarray:
        k = np.array([len(d.strokes) for d in x.strokes])
        return np.stack([k < 2, k >= 2], axis=1).astype(np.float32)

    three = Drawing([([0, 10], [0, 0]), ([0, 10], [10, 10]), ([0, 20], [20, 20])], "two")  # ink 10 + 10 + 20
    r = replay(predict, ["one", "two"], [three, None], [1, 1])
    assert r.skipped == 1 and r.knew_ink.tolist() == [0.5]
    # By share of ink the second stroke begins after 25%: right from 30% on.
    assert r.right_ink[0].tolist() == [False, False] + [True] * 8
    s = summarize(r)
    assert s["ink"][2]["right"] == 1 and s["knew"]["ink"]["median"] == 0.5 and s["time"] == []


def test_the_moment_of_one_drawing_for_the_draw_game():
    from qdcore.analysis.progressive import moment
    from qdcore.data.drawings import Drawings

    def predict(x: Drawings) -> np.ndarray:  # 'two' once the drawing has two strokes
        k = np.array([len(d.strokes) for d in x.strokes])
        return np.stack([k < 2, k >= 2], axis=1).astype(np.float32)

    timed = Drawing([([0, 10], [0, 0]), ([0, 30], [10, 10]), ([0, 20], [20, 20])], "two",
                    times=[[0, 100], [200, 300], [900, 1000]])
    assert moment(predict, ["one", "two"], timed, "two") == (40 / 60, 0.3)
    assert moment(predict, ["one", "two"], timed, "one") == (math.inf, math.inf)  # right at first, not at the end
    assert moment(predict, ["one", "two"], Drawing(timed.strokes), "two") == (40 / 60, None)  # no times
    assert moment(predict, ["one", "two"], timed, "cat") == (None, None) and moment(predict, ["one"], None, "one") == (None, None)


def _train(home, *args: str) -> int:
    r = CliRunner().invoke(app, ["train", *args, "--epochs", "2", "--val", "0.2", "--test", "0.2", "--seed", "0", "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)["run_id"]


def test_analyze_progressive_side_by_side_on_real_drawings(home, tmp_path):
    root = require_shared_quickdraw()
    cats = "apple,diamond,fish"
    cnn = _train(home, "--model", "widthk", "--width", "4", "--data", str(root / "simplified"), "--categories", cats)
    rnn = _train(home, "--model", "stroke-gru", "--data", str(root / "simplified"), "--categories", cats,
                 "--hidden", "16", "--conv", "16", "--layers", "1")
    data = str(root / "raw")
    r = CliRunner().invoke(app, ["analyze", str(cnn), "--progressive", "--vs", str(rnn), "--data", data,
                                 "--categories", cats, "--per-class", "12", "--json", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert [x["run"] for x in rep["runs"]] == [cnn, rnn]
    for run in rep["runs"]:
        assert run["n"] == 36 and run["timed"] == 36 and [p["share"] for p in run["ink"]] == list(GRID)
        assert all(p["lo"] <= p["top1"] <= p["hi"] for p in run["ink"] + run["time"])
        assert [c["class"] for c in run["per_class"]] == ["apple", "diamond", "fish"]
        assert len(run["drawings"]) == 36
        knew = [d["knew_ink"] for d in run["drawings"] if d["knew_ink"] is not None]
        assert all(0 <= k <= 1 for k in knew) and len(knew) == run["ink"][-1]["right"]
    # At 100% of ink the replay is the finished drawing: the same top-1 as qd eval on the same drawings.
    e = CliRunner().invoke(app, ["eval", str(cnn), "--data", data, "--categories", cats, "--per-class", "12", "--json"])
    assert e.exit_code == 0, e.output
    assert rep["runs"][0]["ink"][-1]["top1"] == pytest.approx(json.loads(e.stdout)["top1"])
    assert json.loads((tmp_path / "out" / "progressive.json").read_text())["runs"][1]["run"] == rnn
    t = CliRunner().invoke(app, ["analyze", str(cnn), "--progressive", "--vs", str(rnn), "--data", data,
                                 "--categories", cats, "--per-class", "4"], env={"COLUMNS": "120"})
    assert t.exit_code == 0, t.output
    assert "Top-1 at a share of ink" in t.output and "Top-1 at a share of drawing time" in t.output
    assert "knew at (median)" in t.output and "top-1 vs share of ink" in t.output and "stroke-gru" in t.output


def test_bitmaps_only_is_one_line_error(home, tmp_path):
    root = require_shared_quickdraw()
    cnn = _train(home, "--model", "widthk", "--width", "2", "--data", str(root / "simplified"), "--categories", "apple,fish")
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "analyze", str(cnn), "--progressive", "--data",
                        str(root / "numpy_bitmap"), "--categories", "apple,fish", "--per-class", "5"],
                       capture_output=True, text=True, timeout=scaled_timeout(120))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qd: error: ") and "holds no strokes" in lines[0], p.stderr


def test_a_bitmap_runs_fallback_replay_finds_exactly_the_drawings_it_trained_on(home, tmp_path):
    from qdcore.analysis.overlap import seen_rows
    from qdcore.data.selection import load_splits
    from qdcore.store import Store
    from qdcore.train.config import TrainConfig
    from qdcore.train.evaluate import select_for_model

    root = require_shared_quickdraw()
    cats = ["apple", "fish"]  # google-order: row i of the .npy is line i of simplified/ (i < 25), key_id links raw/
    (tmp_path / "npy").mkdir()
    for c in cats:
        np.save(tmp_path / "npy" / f"{c}.npy", np.load(root / "numpy_bitmap" / f"{c}.npy")[:25])
    run = _train(home, "--model", "widthk", "--width", "2", "--data", str(tmp_path / "npy"), "--categories", "apple,fish")
    with Store(home) as store:
        rec = store.get_run(run)
    splits = load_splits(TrainConfig.from_dict(rec.config))
    raw = select_for_model(str(root / "raw"), "apple,fish", None, 0, None, cats)
    hits = seen_rows(raw, [splits.train, splits.val])
    expected = []
    for k, c in enumerate(cats):
        row_of = {json.loads(s)["key_id"]: i for i, s in enumerate((root / "simplified" / f"{c}.ndjson").read_text()
                                                                     .splitlines()[:25])}
        lines = (root / "raw" / f"{c}.ndjson").read_text().splitlines()
        seen = {int(r) for s in (splits.train, splits.val) for r in s.rows[s.labels == k]}
        expected += [j for j in np.flatnonzero(raw.labels == k)
                     if row_of.get(json.loads(lines[int(raw.rows[j])])["key_id"], -1) in seen]
    assert len(expected) > 10 and hits.tolist() == sorted(expected)
    r = CliRunner().invoke(app, ["analyze", str(run), "--progressive", "--per-class", "8", "--json"])
    assert r.exit_code == 0, r.output
    notes = json.loads(r.stdout)["notes"]
    assert "holds bitmaps only: replayed" in notes[0] and notes[1].startswith("WARNING: ") and "not held out" in notes[1]
    for c in cats:  # raw line i is Google's drawing i too (r 0.997-0.999 here): rows 120.. hold none of them
        np.save(tmp_path / "npy" / f"{c}.npy", np.load(root / "numpy_bitmap" / f"{c}.npy")[120:160])
    later = _train(home, "--model", "widthk", "--width", "2", "--data", str(tmp_path / "npy"), "--categories",
                   "apple,fish")
    r = CliRunner().invoke(app, ["analyze", str(later), "--progressive", "--per-class", "8", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["notes"][1].startswith("none of the 16 drawings"), r.output
