"""Stored drawings: validated on the way in (add_drawing), read defensively on the way out (export, report)."""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import fast_invoker

from qdcore.errors import ConfigError
from qdcore.store import Store

invoke = fast_invoker()
GOOD = [[[1, 50, 90], [3, 80, 20], [0, 10, 20]], [[5, 6], [7, 9], [30, 40]]]
BAD = {
    "NaN": [[[1, math.nan], [1, 2]]],
    "infinity": [[[1, math.inf], [1, 2]]],
    "x and y of different lengths": [[[1, 2, 3], [1, 2]]],
    "times of another length": [[[1, 2], [1, 2], [0]]],
    "text": [[["a"], [1]]],
    "booleans": [[[True], [1]]],
    "not lists": [5],
    "a huge number": [[[10**400], [1]]],
    "2,000 strokes": [[[1], [2]]] * 2000,
    "empty": [],
}


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("how", sorted(BAD))
def test_add_drawing_refuses_what_no_reader_would_take(home, how):
    with Store(home) as store:
        with pytest.raises(ConfigError):
            store.add_drawing("ann", "moon", BAD[how])
        assert store.drawings() == []


def test_numpy_values_are_stored_as_plain_numbers(home):
    with Store(home) as store:
        i = store.add_drawing("ann", "moon", [[np.array([1, 2]), np.array([3.5, 4.0]), np.array([0, 7])]])
        assert store.drawings()[0].id == i and store.drawings()[0].strokes == [[[1, 2], [3.5, 4.0], [0, 7]]]


def _tamper(store: Store, rid: int, **cols: str) -> None:
    con = sqlite3.connect(store.path)
    with con:
        for col, text in cols.items():
            con.execute(f"UPDATE drawings SET {col} = ? WHERE id = ?", (text, rid))
    con.close()


def test_tampered_rows_are_left_out_of_export_and_report(home, tmp_path):
    with Store(home) as store:
        rid = store.create_run("m", "classifier", {"data": "demo"})
        store.finish_run(rid, "done", {"synthetic": True, "data_origin": "demo"})
        ids = [store.add_drawing("ann", w, GOOD, run_id=rid, guesses=[(w, 0.9)], recognized=True,
                                 recognized_ms=900, ms=3000) for w in ("moon", "star", "moon", "star")]
        _tamper(store, ids[1], strokes="[" * 100_000 + "]" * 100_000, guesses="[" * 100_000 + "]" * 100_000)
        _tamper(store, ids[2], strokes='[[[1, NaN], [1, 2]]]', guesses="[[1]]")
        _tamper(store, ids[3], strokes='[[[1, 2, 3], [1, 2]]]')
    for simplified in ([], ["--simplified"]):
        out = tmp_path / f"drawn{len(simplified)}.ndjson"
        r = invoke("data", "export-drawn", "--out", str(out), *simplified)
        assert r.exit_code == 0, r.output
        assert "skipped 3 stored drawings whose strokes are not valid (ids 2, 3, 4)" in r.output, r.output
        lines = out.read_text().splitlines()
        assert len(lines) == 1 and json.loads(lines[0])["key_id"] == str(ids[0])
        assert "NaN" not in out.read_text() and "Infinity" not in out.read_text()
    r = invoke("data", "drawn-report", "--run", str(rid), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["drawn"] == 4
    r = invoke("data", "info", "--data", str(tmp_path / "drawn1.ndjson"), "--json", "--strict")
    assert r.exit_code == 0 and json.loads(r.stdout)["total"] == 1, r.output  # every reader takes the export
