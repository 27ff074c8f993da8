"""A data selection that cannot run is refused before a run row exists, on every start path (qd, the app's launcher)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qdcore.errors import QDError


def _one_error(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("qd: error:")]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def _runs(home) -> list:
    from qdcore.store import Store

    with Store(home) as store:
        return store.list_runs()


def test_bad_selections_store_no_run(home, tmp_path):
    from qdcore.cli.main import app

    drawn = tmp_path / "drawn.ndjson"
    row = {"word": "apple", "countrycode": "US", "timestamp": "2017", "recognized": True, "key_id": "1",
           "drawing": [[[0, 10, 20], [0, 10, 0]]]}
    drawn.write_text(json.dumps(row) + "\n" + json.dumps({**row, "key_id": "2"}) + "\n")
    empty = tmp_path / "never-downloaded"
    empty.mkdir()
    runner = CliRunner()
    cases = ((["--categories", "aple,star", "--epochs", "1"], "aple"),
             (["--data", str(drawn), "--epochs", "1"], "1 category ('apple')"),
             (["--data", "cache", "--epochs", "1"], str(empty)),
             (["--model", "logreg", "--categories", "circle,strar", "--max-iter", "1"], "strar"),
             (["--per-class", "100", "--imbalance", "hexagon=0.5", "--categories", "circle,star", "--epochs", "1"],
              "hexagon"))
    for args, named in cases:
        line = _one_error(runner.invoke(app, ["train", *args], env={"QD_DATA": str(empty)}))
        assert named in line, (args, line)
    gan = _one_error(runner.invoke(app, ["gan", "train", "--categories", "aple", "--epochs", "1"]))
    assert "aple" in gan
    assert _runs(home) == []


def test_the_apps_launcher_refuses_before_the_row(home):
    from qdcore.runs.launcher import launch
    from qdcore.train.config import TrainConfig

    with pytest.raises(QDError, match="unknown category 'aple'"):
        launch(TrainConfig(categories="aple,star", epochs=1), home)
    assert _runs(home) == []
