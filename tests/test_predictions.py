"""predictions.npz: one writer, one reader, light readers that skip the drawings."""

from __future__ import annotations

import numpy as np
import pytest

from qdcore import predictions
from qdcore.errors import StoreError
from qdcore.predictions import Predictions


def _sample() -> Predictions:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=5).astype(np.float32)
    return Predictions(probs, np.array([0, 1, 2, 1, 0]), ["cat", "dog", "sea turtle"],
                       rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), [f"cat.npy#{i}" for i in range(5)])


def test_round_trip_and_light_readers(tmp_path) -> None:
    p = _sample()
    path = predictions.run_file(tmp_path)
    p.save(path)
    back = Predictions.load(path)
    assert np.array_equal(back.probs, p.probs) and np.array_equal(back.images, p.images)
    assert back.classes == p.classes and back.provenance == p.provenance
    assert predictions.count(path) == 5
    assert predictions.provenance(path) == p.provenance
    classes, labels, predicted, prov = predictions.outcomes(path)
    assert classes == p.classes and labels.tolist() == [0, 1, 2, 1, 0]
    assert predicted.tolist() == p.probs.argmax(axis=1).tolist() and prov == p.provenance


def test_missing_and_unreadable_files_name_the_file(tmp_path) -> None:
    with pytest.raises(StoreError, match="no predictions at"):
        predictions.count(tmp_path / "predictions.npz")
    bad = tmp_path / "predictions.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(StoreError, match="not a readable predictions file"):
        Predictions.load(bad)


def test_whole_split_counts_round_trip_and_bad_ones_are_refused(tmp_path) -> None:
    p = _sample()
    cm = np.array([[30, 2, 0], [1, 40, 5], [0, 3, 19]])
    p.totals = predictions.Totals(cm, 97)
    path = predictions.run_file(tmp_path)
    p.save(path)
    back = Predictions.load(path)
    assert np.array_equal(back.totals.confusion, cm) and back.totals.top5 == 97
    assert (back.totals.n, back.totals.top1) == (100, 89)
    assert predictions.count(path) == 5  # the drawings kept, not the split
    for confusion, top5, why in ((cm[:2, :2], 97, "whole-split counts of shape"), (-cm, 97, "whole-split counts"),
                                 (np.zeros((3, 3), int), 0, "whole-split counts"),  # fewer than the kept rows
                                 (cm, 88, "top-5 count"), (cm, 101, "top-5 count")):
        p.totals = predictions.Totals(confusion, top5)
        p.save(path)
        with pytest.raises(StoreError, match=why):
            Predictions.load(path)


def test_kept_rows_are_all_up_to_keep_then_a_fixed_sorted_sample() -> None:
    assert predictions.kept_rows(10, keep=10) is None
    rows = predictions.kept_rows(1000, keep=100)
    assert len(rows) == 100 and np.all(np.diff(rows) > 0) and rows.max() < 1000
    assert np.array_equal(rows, predictions.kept_rows(1000, keep=100))  # re-evaluating keeps the same drawings
