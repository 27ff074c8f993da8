"""`qd runs list|show|compare|rm` on a store filled through the Store API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import hand_wilson, scaled_timeout
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.events import EpochEnd, RunFinished
from qdcore.store import Store, StoreSink

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A store with two finished classifier runs and one interrupted run."""
    monkeypatch.setenv("QD_HOME", str(tmp_path))  # the --home callback sets it; monkeypatch restores it
    store = Store(tmp_path)
    for width, top1 in ((12, 0.61), (16, 0.66)):
        rid = store.create_run(f"widthk-{width}", "classifier", {"model": "widthk", "width": width, "data": "demo",
                                                                  "lr": 1e-3}, fingerprint="f00d", device="cpu")
        sink = StoreSink(store, rid)
        for e in (1, 2):
            sink(EpochEnd(epoch=e, step=e * 10, seconds=1.5, metrics={
                "train/loss": 1.0 / e, "train/top1": 0.5, "val/loss": 1.1 / e, "val/top1": top1 - 0.1 / e,
                "val/top5": 0.9, "train/lr": 1e-3, "train/seconds": 1.5}))
        store.write_json_artifact(rid, "model.json", {"arch": {"name": "widthk", "width": width}})
        sink(RunFinished(status="done", summary={"params": 65002, "test_top1": top1, "test_top5": 0.93,
                                                 "best_epoch": 2, "train_seconds": 95.0, "num_test": 200}))
    rid = store.create_run("cut-short", "classifier", {"model": "fc", "data": "demo"})
    store.finish_run(rid, "interrupted", {})
    store.close()
    return tmp_path


def qd(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), "runs", *args])


def test_list_shows_the_tracker_table(home):
    res = qd(home, "list")  # 80 columns: the hyperparameters that tell runs apart
    assert res.exit_code == 0, res.output
    for text in ("widthk-12", "widthk-16", "cut-short", "61.0%", "66.0%", "done", "interrupted", "top-1", "lr",
                 "0.001", "n/cls", "opt"):
        assert text in res.output
    assert "—" in res.output  # the interrupted run has no test accuracy
    assert max(len(line) for line in res.output.splitlines()[1:]) <= 80
    from qdcore.runs.tracker import table_columns

    runs = Store(home).list_runs()
    assert [c.key for c in table_columns(runs, 80)] == ["id", "name", "model", "top1", "lr", "epochs", "per_class",
                                                        "batch", "optimizer", "status"]
    wide = [c.key for c in table_columns(runs, 130)]
    assert "params" in wide and "runtime" in wide


def test_list_json_filters(home):
    res = qd(home, "list", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["name"] for r in rows] == ["cut-short", "widthk-16", "widthk-12"]
    assert rows[1]["model"] == "widthk" and rows[1]["test_top1"] == 0.66 and rows[1]["params"] == 65002
    assert rows[0]["test_top1"] is None and rows[0]["status"] == "interrupted"
    assert [r["name"] for r in json.loads(qd(home, "list", "--status", "done", "--limit", "1", "--json").output)] == [
        "widthk-16"]
    assert json.loads(qd(home, "list", "--kind", "gan", "--json").output) == []
    bad = qd(home, "list", "--status", "finished")
    assert bad.exit_code == 2 and "finished" in bad.output


def test_show_prints_config_history_and_artifacts(home):
    res = qd(home, "show", "1")
    assert res.exit_code == 0, res.output
    for text in ("widthk-12", "Config", "Summary", "History", "Artifacts", "model.json", "width"):
        assert text in res.output
    data = json.loads(qd(home, "show", "1", "--json").output)
    assert data["run"]["config"]["width"] == 12 and data["run"]["summary"]["best_epoch"] == 2
    assert data["history"]["val/top1"] == [[1, pytest.approx(0.51)], [2, pytest.approx(0.56)]]
    assert data["artifacts"] == [{"name": "model.json", "bytes": (home / "runs/1/model.json").stat().st_size}]
    assert json.loads(qd(home, "show", "last", "--json").output)["run"]["name"] == "cut-short"
    from qdcore.stats import wilson_interval

    lo, hi = wilson_interval(122, 200)  # test top-1 0.61 of 200 drawings
    assert data["test_ci"]["test_top1"] == pytest.approx([lo, hi])
    assert f"61.0% (95% CI {100 * lo:.1f}–{100 * hi:.1f}%, 200 test drawings)" in " ".join(res.output.split())
    assert json.loads(qd(home, "show", "last", "--json").output)["test_ci"] == {"test_top1": None, "test_top5": None}


def test_compare_highlights_config_differences(home):
    res = qd(home, "compare", "1", "2")
    assert res.exit_code == 0, res.output
    assert "≠ width" in res.output and "≠ lr" not in res.output and "66.0%" in res.output
    data = json.loads(qd(home, "compare", "1", "2", "3", "--json").output)
    assert [r["id"] for r in data["runs"]] == [1, 2, 3]
    assert data["config"]["width"] == [12, 16, None]
    assert set(data["differs"]) == {"model", "width", "lr"}
    assert data["summary"]["test_top1"] == [0.61, 0.66, None]
    assert data["final"]["best val/top1"] == [pytest.approx(0.56), pytest.approx(0.61), None]
    assert qd(home, "compare", "1").exit_code == 2


def test_rm_needs_yes_without_a_terminal(home):
    res = qd(home, "rm", "1")
    assert res.exit_code == 2 and "--yes" in res.output
    assert (home / "runs" / "1").is_dir()
    res = qd(home, "rm", "1", "3", "--yes", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"deleted": [1, 3]}
    assert not (home / "runs" / "1").exists()
    assert [r["id"] for r in json.loads(qd(home, "list", "--json").output)] == [2]
    res = qd(home, "rm", "2", "9", "--yes")
    assert res.exit_code == 2 and "no run 9" in res.output
    assert Store(home).has_run(2)  # nothing is deleted when one id is wrong


def test_missing_run_through_cli_runner(home):
    res = qd(home, "show", "42")
    assert res.exit_code == 2 and "no run 42" in res.output
    assert qd(home, "show", "abc").exit_code == 2


def test_missing_run_in_a_real_process_is_one_line_exit_2(home):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "runs", "show", "42"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=scaled_timeout(60))
    assert out.returncode == 2
    assert "Traceback" not in out.stderr + out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"qd: error: no run 42 in {home}; see 'qd runs list'"


# -- the human baseline from quiz answers ------------------------------------------------------------

def test_list_and_show_the_human_baseline(home, quizzed):
    res = qd(home, "list")
    assert res.exit_code == 0, res.output
    assert "people" in res.output and "69% (n=16)" in res.output  # 11 / 16 = 68.75%
    assert max(len(line) for line in res.output.splitlines()) <= 80
    rows = {r["id"]: r for r in json.loads(qd(home, "list", "--json").output)}
    assert rows[quizzed]["human_top1"] == pytest.approx(11 / 16)
    assert rows[quizzed]["human"]["correct"] == 11 and rows[quizzed]["human"]["participants"] == 2
    assert rows[quizzed]["human"]["model"]["correct"] == 10
    assert rows[1]["human_top1"] is None and rows[1]["human"] is None  # nobody answered run 1's drawings

    show = qd(home, "show", str(quizzed))
    assert show.exit_code == 0, show.output
    lo, hi = hand_wilson(11, 16)
    line = " ".join(show.output.split())
    assert (f"68.8% (95% CI {100 * lo:.1f}%–{100 * hi:.1f}%) on 16 quiz answers by 2 people; "
            "the model 62.5% on the same drawings") in line
    human = json.loads(qd(home, "show", str(quizzed), "--json").output)["human"]
    assert (human["correct"], human["total"], human["participants"]) == (11, 16, 2)
    assert human["lo"] == pytest.approx(lo) and human["hi"] == pytest.approx(hi)
    assert json.loads(qd(home, "show", "1", "--json").output)["human"] is None


def test_without_readable_predictions_the_quizzes_on_the_run_count(home, quizzed):
    """An unreadable predictions.npz: people's answers in quizzes on that run still count, with no model figure."""
    (home / "runs" / str(quizzed) / "predictions.npz").write_bytes(b"not a zip")
    (home / "runs" / "1" / "predictions.npz").write_bytes(b"not a zip")
    res = qd(home, "list", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads(res.output)}
    assert rows[quizzed]["human_top1"] == pytest.approx(11 / 16) and rows[quizzed]["human"]["model"] is None
    assert [rows[i]["human_top1"] for i in (1, 2, 3)] == [None, None, None]
    show = qd(home, "show", str(quizzed))
    assert show.exit_code == 0 and "on 16 quiz answers by 2 people" in " ".join(show.output.split())
    assert "same drawings" not in show.output


def test_show_history_fits_80_columns_with_percentages(home):
    out = runner.invoke(app, ["--home", str(home), "runs", "show", "1"], env={"COLUMNS": "80"}).output
    history = out[out.index("History"):out.index("Artifacts")]
    assert "epoch" in history and "e…" not in history
    assert "51.0%" in history and "56.0%" in history and "50.0%" in history  # val/top1, train/top1
    assert "0.51" not in history
    assert max(len(line) for line in history.splitlines()) <= 80
