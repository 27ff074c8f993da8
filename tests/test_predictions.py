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
