"""--label-noise p: a seeded share of training labels moved to another class; validation and test keep the truth."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import scaled_timeout

from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError
from qdcore.store import Store
from qdcore.train.config import TrainConfig
from qdcore.train.synthetic import training_splits

BASE = dict(data="demo", categories="circle,square,triangle,star", per_class=150, val=0.2, test=0.2)


def test_label_noise_flips_its_share_of_training_labels_only_and_the_same_ones_per_seed():
    clean = training_splits(TrainConfig(**BASE, seed=1))
    noisy = training_splits(TrainConfig(**BASE, seed=1, label_noise=0.3))
    assert np.array_equal(clean.train.images, noisy.train.images)
    moved = clean.train.labels != noisy.train.labels
    assert moved.sum() == round(0.3 * len(clean.train))  # exactly its share, none "moved" to its own class
    assert len(set(noisy.train.labels[moved].tolist())) == 4  # spread over the classes
    for part in ("val", "test"):
        assert np.array_equal(getattr(clean, part).labels, getattr(noisy, part).labels)
    assert any("label noise: " in n for n in noisy.train.notes)
    again = training_splits(TrainConfig(**BASE, seed=1, label_noise=0.3))
    assert np.array_equal(again.train.labels, noisy.train.labels)
    other = training_splits(TrainConfig(**BASE, seed=2, label_noise=0.3))
    other_clean = training_splits(TrainConfig(**BASE, seed=2))
    assert not np.array_equal(np.flatnonzero(other.train.labels != other_clean.train.labels), np.flatnonzero(moved))
    # Evaluation (load_splits, as qd eval reads a run's data) sees the true labels.
    assert np.array_equal(load_splits(TrainConfig(**BASE, seed=1, label_noise=0.3)).train.labels,
                          clean.train.labels)


@pytest.mark.parametrize("value", [1.0, -0.1, "0.2", float("nan")])
def test_a_label_noise_outside_0_to_1_is_one_line(value):
    with pytest.raises(ConfigError) as e:
        TrainConfig().replace(label_noise=value)
    assert "label_noise" in str(e.value) and "\n" not in str(e.value)


def _qd(*args: str, home) -> subprocess.CompletedProcess:
    env = dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=scaled_timeout(180))


def test_qd_train_records_its_label_noise_and_refuses_a_bad_one(home):
    bad = _qd("train", "--data", "demo", "--label-noise", "1.5", home=home)
    lines = bad.stderr.strip().splitlines()
    assert bad.returncode == 2 and len(lines) == 1 and "label" in lines[0] and lines[0].startswith("qd: error:")
    ok = _qd("train", "--data", "demo", "--categories", "circle,square", "--per-class", "40", "--epochs", "1",
             "--width", "2", "--label-noise", "0.25", "--json", home=home)
    assert ok.returncode == 0, ok.stderr
    with Store(home) as store:
        runs = store.list_runs()
        assert len(runs) == 1 and runs[0].config["label_noise"] == 0.25
    shown = json.loads(_qd("runs", "show", str(runs[0].id), "--json", home=home).stdout)
    assert "label_noise" in json.dumps(shown)
