"""`qd quiz report|list` on a store filled through the Store API."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from qdcore.cli import quiz
from qdcore.predictions import Predictions
from qdcore.store import Store

CLASSES = ["apple", "bee", "cat"]
runner = CliRunner()

quiz_app = typer.Typer()
quiz_app.add_typer(quiz.app, name="quiz")


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A run with 6 test drawings; ann answered all six (5 right), bob three (one skipped), bob's quiz is open."""
    monkeypatch.setenv("QD_HOME", str(tmp_path))
    with Store(tmp_path) as store:
        labels = np.array([0, 0, 1, 1, 2, 2])
        predicted = np.array([0, 1, 1, 1, 2, 0])  # right on 0, 2, 3, 4
        probs = np.full((6, 3), 0.1, np.float32)
        probs[np.arange(6), predicted] = 0.8
        rid = store.create_run("tiny", "classifier", {"data": "demo"})
        Predictions(probs, labels, CLASSES, np.zeros((6, 28, 28), np.uint8), [f"t#{i}" for i in range(6)]).save(
            store.run_dir(rid) / "predictions.npz")
        store.finish_run(rid, "done", {"test_top1": 4 / 6})
        s = store.create_quiz_session("ann", {"quiz": {"n": 6, "run": rid}, "classes": CLASSES, "n_items": 6,
                                              "label": "run 1 test split"}, run_id=rid)
        for i, a in enumerate(["apple", "apple", "bee", "cat", "cat", "cat"]):
            store.add_quiz_answer(s, f"t#{i}", CLASSES[labels[i]], a, CLASSES, 1000.0, item=i)
        store.finish_quiz_session(s)
        t = store.create_quiz_session("bob", {"quiz": {"n": 6, "choices": 2}, "classes": CLASSES, "n_items": 6},
                                      run_id=rid)
        for i, (a, skip) in enumerate([("apple", False), (None, True), ("cat", False)]):
            store.add_quiz_answer(t, f"t#{i}", CLASSES[labels[i]], a, CLASSES[:2], 700.0, skipped=skip, item=i)
        bare = store.create_run("no-preds", "classifier", {})
        store.finish_run(bare, "done", {})
    return tmp_path


def qd(*args: str):
    return runner.invoke(quiz_app, ["quiz", *args])


def root(*args: str):
    from qdcore.cli.main import app

    return runner.invoke(app, ["quiz", *args])


def test_report_tables(home):
    res = qd("report")
    assert res.exit_code == 0, res.output
    out = res.output
    # ann 5/6 + bob 1/3 = 6/9 = 66.7%; Wilson 95% CI for 6/9 is 35.4-87.9%.
    assert "Human top-1 66.7%" in out and "35.4–87.9%" in out and "6/9 right" in out and "1 skipped" in out
    for text in ("Per category", "Confusion", "Leaderboard", "People vs run 1", "McNemar", "ann", "bob"):
        assert text in out
    assert "sessions mix answer modes" in out


def test_report_json_figures(home):
    res = qd("report", "--json")
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert (d["overall"]["correct"], d["overall"]["total"], d["skipped"]) == (6, 9, 1)
    assert d["overall"]["lo"] == pytest.approx(0.3542, abs=1e-4) and d["overall"]["hi"] == pytest.approx(0.8794, abs=1e-4)
    # model right on t#0,2,3,4; ann: 0 both, 1 only people, 2 both, 3 only model, 4 both, 5 only people;
    # bob: 0 both, 1 both wrong (a skip), 2 only model.
    v = d["vs_model"]
    assert (v["both_right"], v["only_people"], v["only_model"], v["both_wrong"]) == (4, 2, 2, 1)
    assert v["mcnemar"]["p_value"] == pytest.approx(1.0)
    assert [(r["participant"], r["rank"], r["correct"], r["total"]) for r in d["leaderboard"]] == [
        ("ann", 1, 5, 6), ("bob", 2, 1, 3)]
    assert d["confusion"]["classes"] == CLASSES
    assert d["confusion"]["matrix"] == [[3, 0, 0], [0, 1, 2], [0, 0, 2]]


def test_report_scopes(home):
    d = json.loads(qd("report", "--participant", "bob", "--json").output)
    assert (d["overall"]["correct"], d["overall"]["total"]) == (1, 3)
    d = json.loads(qd("report", "--session", "1", "--json").output)
    assert d["participants"] == ["ann"] and d["overall"]["correct"] == 5


def test_list_sessions(home):
    res = qd("list")
    assert res.exit_code == 0, res.output
    assert "ann" in res.output and "finished" in res.output and "bob" in res.output and "open" in res.output
    assert "3/6" in res.output and "2 choices" in res.output
    rows = json.loads(qd("list", "--open", "--json").output)
    assert [(r["participant"], r["answered"], r["right"], r["state"]) for r in rows] == [("bob", 3, 1, "open")]


def test_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_HOME", str(tmp_path / "empty"))
    res = qd("report")
    assert res.exit_code == 0 and "No quiz answers" in res.output
    assert "No quiz sessions" in qd("list").output


@pytest.mark.parametrize("args, words", [
    (["report", "--participant", "zoe"], "no quiz by 'zoe'"),
    (["report", "--participant", " "], "participant name is empty"),
    (["report", "--session", "9"], "no quiz session 9"),
    (["report", "--run", "2"], "run 2 has no test predictions"),
    (["report", "--run", "50"], "no run 50"),
    (["list", "--participant", "zoe"], "no quiz by 'zoe'"),
])
def test_errors_are_one_line_exit_2(home, args, words):
    res = root(*args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qd: error:") and words in lines[0], res.output
