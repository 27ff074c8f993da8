"""A test split or `qd eval --data` selection over predictions.KEEP drawings: every drawing counted, a fixed
random sample of them kept per drawing (at 345 categories the whole split is 5 million rows of probabilities)."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
from helpers import npy_folder
from typer.testing import CliRunner

from qdcore import predictions
from qdcore.analysis.metrics import summarize
from qdcore.cli.main import app
from qdcore.data import mapped
from qdcore.predictions import Predictions
from qdcore.store import Store

CATS = ("apple", "cat", "fish", "house")
TRAIN = ["--per-class", "150", "--epochs", "1", "--width", "2", "--batch-size", "32", "--no-amp", "--device", "cpu",
         "--val", "0.1", "--test", "0.3"]


def _qd(*args: str) -> dict:
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    return json.loads(r.stdout)


def _same_counts(a: dict, b: dict) -> None:
    for key in ("n", "top1", "top5", "top1_ci", "per_class", "macro", "confusion"):
        assert a[key] == b[key], key


def test_a_test_split_over_keep_is_counted_whole_and_a_fixed_sample_kept(home, tmp_path, monkeypatch):
    data = npy_folder(tmp_path, CATS, 160)
    run = _qd("train", "--data", data, *TRAIN)
    store = Store(home)
    whole = Predictions.load(store.run_dir(run["run_id"]) / "predictions.npz")
    n = len(whole)
    assert n == 180 and whole.totals is None  # 4 x 45 test drawings, all kept

    monkeypatch.setattr(predictions, "KEEP", 50)
    sampled_run = _qd("train", "--data", data, *TRAIN)  # the same seed: the same model and split
    kept = Predictions.load(store.run_dir(sampled_run["run_id"]) / "predictions.npz")
    rows = predictions.kept_rows(n)
    assert len(kept) == 50 and kept.totals is not None and kept.totals.n == n
    assert np.allclose(kept.probs, whole.probs[rows], atol=1e-6)
    assert np.array_equal(kept.images, whole.images[rows]) and kept.provenance == [whole.provenance[i] for i in rows]
    # The metrics are those of every test drawing: the summary's, and the analysis views' headline.
    assert sampled_run["test_top1"] == pytest.approx(run["test_top1"])
    s_kept, s_whole = summarize(kept), summarize(whole)
    _same_counts(s_kept, s_whole)
    assert (s_kept["kept"], s_whole["kept"]) == (50, n)

    # qd eval rebuilds the split and writes the same sample; other data is read a chunk at a time.
    ev = _qd("eval", str(sampled_run["run_id"]))
    assert ev["n"] == n and ev["kept"] == 50 and ev["top1"] == pytest.approx(run["test_top1"])
    shown = CliRunner().invoke(app, ["eval", str(sampled_run["run_id"])])
    assert "180 drawings (the drawing views hold a random 50 of them)" in " ".join(shown.stdout.split())
    again = Predictions.load(store.run_dir(sampled_run["run_id"]) / "predictions.npz")
    assert again.provenance == kept.provenance and np.array_equal(again.totals.confusion, kept.totals.confusion)
    monkeypatch.setattr(mapped, "CHUNK", 64)  # several chunks, the sample's rows spread over them
    other = _qd("eval", str(sampled_run["run_id"]), "--data", data, "--per-class", "70")
    monkeypatch.setattr(predictions, "KEEP", 10_000)
    other_whole = _qd("eval", str(sampled_run["run_id"]), "--data", data, "--per-class", "70")
    _same_counts(other, other_whole)
    assert (other["kept"], other_whole["kept"]) == (50, 280)


def test_qd_eval_of_a_mapped_selection_never_holds_it_whole(home, tmp_path, monkeypatch):
    per_file = 8000
    data = npy_folder(tmp_path, CATS, per_file)
    run = _qd("train", "--data", data, *TRAIN)
    monkeypatch.setattr(predictions, "KEEP", 200)
    monkeypatch.setattr(mapped, "CHUNK", 1024)
    monkeypatch.setattr(mapped, "READERS", 2)  # chunks read ahead: the same on every machine
    _qd("eval", str(run["run_id"]), "--data", data, "--per-class", "100")  # imports and first-call caches
    tracemalloc.start()
    try:
        ev = _qd("eval", str(run["run_id"]), "--data", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    selection = len(CATS) * per_file * 784  # 25.1 MB of pixels
    assert ev["n"] == len(CATS) * per_file and ev["kept"] == 200
    # A chunk of drawings and its probabilities, index arrays, the kept sample: a few MB, not a copy.
    assert peak < selection / 3, f"peak {peak / 1e6:.1f} MB for a {selection / 1e6:.1f} MB selection"
