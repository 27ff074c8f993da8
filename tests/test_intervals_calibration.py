"""Honest numbers: Wilson intervals on model metrics and the calibration view, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from qdcore.analysis.calibration import calibration
from qdcore.analysis.metrics import summarize
from qdcore.predictions import Predictions


def _pred(probs, labels, classes=("a", "b", "c")) -> Predictions:
    probs = np.asarray(probs, np.float32)
    n = len(labels)
    return Predictions(probs, np.asarray(labels), list(classes), np.zeros((n, 28, 28), np.uint8),
                       [f"x#{i}" for i in range(n)])


def test_top1_top5_and_recall_intervals_match_statsmodels() -> None:
    proportion_confint = pytest.importorskip("statsmodels.stats.proportion").proportion_confint
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 8, 300)
    logits = rng.normal(size=(300, 8))
    logits[np.arange(300), labels] += 1.2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    s = summarize(_pred(probs, labels, [f"c{i}" for i in range(8)]))
    right1 = int((probs.argmax(axis=1) == labels).sum())
    assert s["top1_ci"] == pytest.approx(proportion_confint(right1, 300, alpha=0.05, method="wilson"), abs=1e-9)
    right5 = round(s["top5"] * 300)
    assert s["top5_ci"] == pytest.approx(proportion_confint(right5, 300, alpha=0.05, method="wilson"), abs=1e-9)
    for i, row in enumerate(s["per_class"]):
        mine = labels == i
        k = int((probs[mine].argmax(axis=1) == i).sum())
        assert row["recall"] == pytest.approx(k / mine.sum())
        assert row["recall_ci"] == pytest.approx(proportion_confint(k, int(mine.sum()), method="wilson"), abs=1e-9)


def test_a_class_with_no_drawings_has_no_interval() -> None:
    s = summarize(_pred([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]], [0, 1]))
    assert s["per_class"][2]["support"] == 0 and s["per_class"][2]["recall_ci"] is None
    assert s["top1_ci"][0] < 1.0 == s["top1"]  # two right out of two is not certainty


def test_ece_by_hand() -> None:
    # Top-1 confidences 0.95, 0.9, 0.6, 0.55, 0.4; with 2 bins: (0, .5] and (.5, 1].
    probs = [[0.95, 0.05, 0.0], [0.9, 0.1, 0.0], [0.4, 0.6, 0.0], [0.55, 0.45, 0.0], [0.3, 0.3, 0.4]]
    labels = [0, 1, 1, 1, 2]
    cal = calibration(np.array(probs), np.array(labels), bins=2)
    # bin 2: 0.95 right, 0.9 wrong, 0.6 right, 0.55 wrong -> conf 0.75, acc 0.5; bin 1: 0.4 right -> conf 0.4, acc 1
    assert [b.count for b in cal.bins] == [1, 4]
    assert cal.bins[1].confidence == pytest.approx(0.75) and cal.bins[1].accuracy == pytest.approx(0.5)
    assert cal.bins[0].confidence == pytest.approx(0.4) and cal.bins[0].accuracy == pytest.approx(1.0)
    assert cal.ece == pytest.approx(4 / 5 * 0.25 + 1 / 5 * 0.6)
    assert cal.mce == pytest.approx(0.6)
    assert cal.accuracy == pytest.approx(3 / 5) and cal.confidence == pytest.approx(np.mean([.95, .9, .6, .55, .4]))


def test_perfectly_calibrated_and_empty_bins() -> None:
    probs = np.array([[1.0, 0.0]] * 4)
    cal = calibration(probs, np.zeros(4, int), bins=10)
    assert cal.ece == 0.0 and sum(b.count for b in cal.bins) == 4 and cal.bins[-1].count == 4
    assert cal.bins[0].confidence is None and cal.bins[0].accuracy is None
