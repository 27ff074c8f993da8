"""--balanced-test N: a balanced test split set aside before sampling, disjoint from train/val, shared by trials."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import scaled_timeout

from qdcore.data.selection import select_splits
from qdcore.store import Store
from qdcore.train.config import TrainConfig


def _rows(ds) -> set[str]:
    return {ds.provenance(i) for i in range(len(ds))}


def test_balanced_test_is_balanced_disjoint_and_the_same_for_every_ratio_and_seed():
    base = dict(data="demo", categories="circle,square", per_class=300, val=0.2, test=0.3, balanced_test=50)
    tests = []
    for ratio, seed in ((0.02, 0), (0.5, 0), (1.0, 0), (0.5, 3)):
        sp = select_splits(TrainConfig(**base, imbalance=f"square={ratio}", seed=seed))
        assert np.bincount(sp.test.labels).tolist() == [50, 50]
        assert _rows(sp.test).isdisjoint(_rows(sp.train) | _rows(sp.val))
        square = sp.train.classes.index("square")
        n_square = int(np.sum(sp.train.labels == square) + np.sum(sp.val.labels == square))
        assert n_square == max(1, round(300 * ratio))  # the imbalance applies to training data only
        tests.append((sp.test.images.tobytes(), sp.test.labels.tobytes(), sorted(_rows(sp.test))))
    assert all(t == tests[0] for t in tests[1:])
    # Without a balanced test the --test fraction splits the (imbalanced) selection as before.
    plain = select_splits(TrainConfig(**{**base, "balanced_test": None}, imbalance="square=0.1"))
    assert np.bincount(plain.test.labels).tolist() == [90, 9]


def _cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=scaled_timeout(120), cwd=cwd)


@pytest.mark.parametrize("args", [
    ["train", "--data", "demo", "--categories", "circle,square", "--per-class", "1500", "--balanced-test", "600"],
    ["study", "run", "spec.json"],
])
def test_a_balanced_test_the_data_cannot_fill_is_one_line_and_writes_nothing(home, tmp_path, args):
    spec = {"name": "bt", "minority": "square",
            "base": {"data": "demo", "categories": "circle,square", "per_class": 1500, "balanced_test": 600,
                     "epochs": 1}, "axes": {"imbalance": [0.1, 1.0]}}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    p = _cli(*args, home=home, cwd=tmp_path)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("qd: error: "), p.stderr
    assert "'circle'" in lines[0] and "--balanced-test 600" in lines[0]
    with Store(home) as store:
        assert store.list_runs() == []
    assert not any((Path(home) / "runs").glob("*"))


def test_imbalance_named_study_tests_every_ratio_on_one_balanced_set(home):
    from qdcore.studies.named import named_spec
    from qdcore.studies.spec import expand

    spec, _ = named_spec("imbalance", quick=True)
    trials = expand(spec)
    ratios = {t.options["imbalance"] for t in trials}
    assert len(ratios) > 1 and len(trials) == len(ratios) * len(spec.seeds)  # every ratio once per seed
    assert len({(t.options["imbalance"], t.options.get("seed")) for t in trials}) == len(trials)
    balanced = {t.options["balanced_test"] for t in trials}
    assert len(balanced) == 1 and min(balanced) >= 100  # one balanced test set, large enough per class
    first, second = spec.base["categories"].split(",")
    assert [f"test_top1[{first}]", f"test_top1[{second}]"] == [k for k in spec.paper["show"] if "[" in k]


def test_study_table_reports_each_class_on_the_balanced_set(home, tmp_path):
    from qdcore.kinds.study import StudyConfig
    from qdcore.predictions import Predictions
    from qdcore.studies.results import study_table
    from qdcore.studies.runner import create_study, run_study

    spec = {"name": "bt", "minority": "square", "axes": {"imbalance": [0.2, 1.0]},
            "base": {"data": "demo", "categories": "circle,square", "per_class": 40, "balanced_test": 30,
                     "epochs": 1, "batch_size": 32, "val": 0.0, "test": 0.0, "model": "widthk", "width": 2}}
    (tmp_path / "bt.json").write_text(json.dumps(spec))
    with Store(home) as store:
        sid = create_study(store, StudyConfig().replace(spec=str(tmp_path / "bt.json")))
        run_study(store, sid)
        table = study_table(store, sid)
        for row in table.rows:
            p = Predictions.load(store.home / "runs" / str(row["run"]) / "predictions.npz")
            assert np.bincount(p.labels).tolist() == [30, 30]
            for i, c in enumerate(p.classes):
                mine = p.labels == i
                assert row[f"test_top1[{c}]"] == pytest.approx(np.mean(p.predicted[mine] == i))
            assert row["top1_minority"] == row["test_top1[square]"]
    shown = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "show", str(sid), "--no-plot"],
                           env=dict(os.environ, QD_HOME=str(home), COLUMNS="200"), capture_output=True, text=True,
                           timeout=scaled_timeout(120))
    # headers are not markup (their underscores become spaces where qd study show wraps them)
    assert "top1[circle]" in shown.stdout and "top1[square]" in shown.stdout
