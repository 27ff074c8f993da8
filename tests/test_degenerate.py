"""Degenerate trials: a run that predicts one class is flagged "not trained" and left out of fits and claims."""

from __future__ import annotations

import json

import pytest

from qdcore.errors import ConfigError
from qdcore.kinds.study import StudyConfig
from qdcore.store import Store
from qdcore.studies.degenerate import train_shares, untrained_reason
from qdcore.studies.fit import fit
from qdcore.studies.results import aggregate, study_table
from qdcore.studies.runner import create_study, run_study


def test_reasons_from_numbers():
    shares = train_shares({"categories": "fork,hammer", "imbalance": "hammer=0.02"})
    assert shares == pytest.approx([1 / 1.02, 0.02 / 1.02])
    assert untrained_reason({"train_top1": 0.9, "train_loss": 0.2}, shares, 1) == "predicts one class"
    assert "majority share" in untrained_reason({"train_top1": 400 / 408, "train_loss": 0.05}, shares, 2)
    assert "test loss 1.090 ≈ ln k" in untrained_reason({"train_top1": 0.4, "test_loss": 1.09}, [1 / 3] * 3, 3)
    assert untrained_reason({"train_top1": 0.8, "test_loss": 0.5, "val_loss": 1.1}, [1 / 3] * 3, 3) is None
    assert "val loss" in untrained_reason({"train_top1": 0.8, "val_loss": 1.1}, [1 / 3] * 3, 3)
    assert "≈ ln k" in untrained_reason({"test_loss": 0.69}, shares, 2, balanced_test=True)


def test_no_better_than_guessing_is_flagged_and_an_overfit_loss_is_not():
    # A 1-epoch stroke GRU on 4 balanced classes: loss 3.59 (ln 4 = 1.39), 24 of 100 right: chance.
    four = [0.25] * 4
    why = untrained_reason({"test_top1": 0.24, "test_loss": 3.59}, four, 3, 4)
    assert why == "test top-1 0.240 at or below chance 0.250"
    # Double descent's peak: the loss far above ln k, the accuracy well above chance: a finding, not a flag.
    assert untrained_reason({"test_top1": 0.55, "test_loss": 3.59}, four, 4, 4) is None
    # Above chance, if not surely so on a small test set: no flag (the claims' intervals carry that doubt).
    assert untrained_reason({"test_top1": 0.30, "test_loss": 1.2}, four, 4, 4) is None
    # An imbalanced test set: accuracy under the majority's share may still hide a learned minority.
    assert untrained_reason({"test_top1": 0.45, "test_loss": 0.2}, [0.9, 0.1], 2, 2) is None
    assert "chance 0.500" in untrained_reason({"test_top1": 0.45, "test_loss": 0.2}, [0.9, 0.1], 2, 2,
                                              balanced_test=True)


def test_a_run_that_predicts_one_class_is_flagged(home, tmp_path):
    # SGD at lr 50 kills every ReLU in a step: the output is the bias alone, the same class for every drawing
    spec = {"name": "stuck", "seeds": [0, 1], "minority": "square",
            "base": {"data": "demo", "categories": "circle,square", "per_class": 60, "epochs": 1, "batch_size": 32,
                     "val": 0.2, "test": 0.2, "model": "fc", "optimizer": "sgd", "lr": 50.0,
                     "log_every": 5},
            "axes": {"imbalance": [0.1]}}
    path = tmp_path / "stuck.json"
    path.write_text(json.dumps(spec))
    with Store(home) as store:
        sid = create_study(store, StudyConfig().replace(spec=str(path)))
        run_study(store, sid)
        table = study_table(store, sid)
    flags = [r["not_trained"] for r in table.rows]
    assert flags == ["predicts one class"] * 2, flags
    assert aggregate(table) == [] and aggregate(table, include_untrained=True)[0]["n"] == 2
    with pytest.raises(ConfigError, match="no finished trained trials"):
        fit(table, "test_top1 ~ imbalance")
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    r = CliRunner().invoke(app, ["study", "show", str(sid), "--no-plot"], catch_exceptions=False)
    assert r.exit_code == 0
    r2 = CliRunner().invoke(app, ["study", "show", str(sid), "--json"], catch_exceptions=False)
    assert json.loads(r2.stdout)["trials"][0]["not_trained"] == "predicts one class"
    assert "2 trials flagged 'not trained'" in r.stdout + r.stderr
