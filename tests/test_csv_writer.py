"""Every CSV qd writes goes through one writer that neutralises formula-like text (= + - @, tab, CR)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import fast_invoker
from hostile_cases import formula_cells

from qdcore.csvfile import csv_bytes, safe_text

invoke = fast_invoker()
# Category names a spreadsheet would run: each is a file stem, so it becomes a class name in every table.
HOSTILE = ["=cmd|' -C calc'!A0", "+SUM(1+1)", "@A1", "-2+3"]


def _cells(path: Path) -> list[str]:
    return [c for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))) for c in row]


def _assert_safe(path: Path, names: list[str]) -> None:
    assert not formula_cells(path.read_text(encoding="utf-8")), path.name
    assert any(c.lstrip("'") in names for c in _cells(path)), (path.name, "no class name in it")


def test_cells_are_neutralised_and_numbers_stay_numbers():
    rows = [{"name": n, "value": -0.5, "n": -3, "none": None, "nan": float("nan"), "list": [1, 2]}
            for n in HOSTILE + ["\tx", "\rx", "plain"]]
    text = csv_bytes(rows).decode()
    back = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in back] == ["'" + n for n in HOSTILE + ["\tx", "\rx"]] + ["plain"]
    assert {r["value"] for r in back} == {"-0.5"} and {r["n"] for r in back} == {"-3"}
    assert {r["none"] for r in back} == {""} == {r["nan"] for r in back}
    assert safe_text("=1") == "'=1" and safe_text("a=1") == "a=1"
    assert csv_bytes([{"=h": 1}]).decode().splitlines()[0] == "'=h"


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory):
    """A store with one classifier trained on classes named like formulas (demo drawings under those names)."""
    from qdcore.data.demo import generate

    home = tmp_path_factory.mktemp("csv-home")
    data = tmp_path_factory.mktemp("csv-data")
    for k, name in enumerate(HOSTILE):
        images, _ = generate(per_class=60, seed=k, classes=[["moon", "circle", "star", "cloud"][k]])
        np.save(data / f"{name}.npy", images.reshape(-1, 784))
    with pytest.MonkeyPatch.context() as mp:  # QD_HOME for the module, restored after
        mp.setenv("QD_HOME", str(home))
        r = invoke("train", "--data", str(data), "--epochs", "1", "--width", "2", "--no-amp", "--batch-size", "16",
                   "--test", "0.5")
        assert r.exit_code == 0, r.output
        yield home, data


def test_analyze_csvs_are_safe(hostile_home, tmp_path):
    out = tmp_path / "report"
    r = invoke("analyze", "last", "--out", str(out), "--features", "pixels")
    assert r.exit_code == 0, r.output
    for name in ("per_class.csv", "pairs.csv", "ranking.csv", "clusters.csv"):
        assert (out / name).exists(), sorted(p.name for p in out.iterdir())
        if name != "clusters.csv" or len(_cells(out / name)) > 10:
            _assert_safe(out / name, HOSTILE)


def test_study_report_csvs_are_safe(hostile_home, tmp_path):
    _, data = hostile_home
    spec = tmp_path / "s.toml"
    axis = json.dumps([",".join(HOSTILE[:2]), ",".join(HOSTILE[2:])])  # TOML reads these JSON strings as they are
    spec.write_text(f"[base]\ndata = {json.dumps(str(data))}\nepochs = 1\nwidth = 2\nbatch_size = 16\n"
                    f"amp = false\n[axes]\ncategories = {axis}\n", encoding="utf-8")
    r = invoke("study", "run", str(spec))
    assert r.exit_code == 0, r.output
    out = tmp_path / "rep"
    r = invoke("study", "report", "last", "--out", str(out))
    assert r.exit_code == 0, r.output
    for name in ("trials.csv", "aggregates.csv"):
        assert not formula_cells((out / name).read_text()), name
    assert any("=cmd" in c for c in _cells(out / "trials.csv") + _cells(out / "aggregates.csv"))


def test_runs_export_csv_is_the_same_writer(hostile_home, tmp_path):
    r = invoke("runs", "export", "1", "--out", str(tmp_path / "x"))  # the classifier the fixture trained
    assert r.exit_code == 0, r.output
    (folder,) = (tmp_path / "x").iterdir()
    back = list(csv.DictReader(io.StringIO((folder / "epochs.csv").read_text())))
    assert back and all(float(v) == float(v) for row in back for v in row.values() if v)


def test_qd_has_no_other_csv_writer():
    """A new CSV file must go through qdcore.csvfile: no module writes CSV with the csv module itself."""
    import re

    root = Path(__file__).resolve().parent.parent
    found = [str(p.relative_to(root)) for d in ("qdcore", "qdtui") for p in (root / d).rglob("*.py")
             if re.search(r"^\s*(import csv|from csv import)|csv\.(writer|DictWriter)\(", p.read_text(), re.M)]
    assert found == [], found
