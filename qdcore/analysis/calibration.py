"""Calibration of a classifier's confidence: reliability-diagram bins and expected calibration error (ECE)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ReliabilityBin:
    """Drawings whose top-1 confidence falls in (lo, hi] (the first bin includes 0)."""

    lo: float
    hi: float
    count: int
    confidence: float | None  # mean top-1 probability in the bin; None when empty
    accuracy: float | None  # share right in the bin; None when empty


@dataclass(frozen=True)
class Calibration:
    """Reliability bins, ECE (count-weighted mean |accuracy - confidence|) and MCE (the largest bin gap)."""

    bins: list[ReliabilityBin]
    ece: float
    mce: float
    n: int
    confidence: float  # mean top-1 probability over all drawings
    accuracy: float  # top-1 accuracy over all drawings

    def to_dict(self) -> dict:
        """Plain data for JSON."""
        return {"ece": self.ece, "mce": self.mce, "n": self.n, "confidence": self.confidence,
                "accuracy": self.accuracy, "bins": [asdict(b) for b in self.bins]}


def calibration(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> Calibration:
    """Equal-width bins over the top-1 confidence, as in Guo et al. 2017 (15 bins by default)."""
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n = int(labels.shape[0])
    conf = probs.max(axis=1) if n else np.zeros(0)
    right = (probs.argmax(axis=1) == labels) if n else np.zeros(0, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin b holds (edges[b], edges[b+1]]; confidences of exactly 0 go to the first bin
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    out, ece, mce = [], 0.0, 0.0
    for b in range(bins):
        mask = which == b
        k = int(mask.sum())
        c: float | None = None
        a: float | None = None
        if k:
            c, a = float(conf[mask].mean()), float(right[mask].mean())
            gap = abs(a - c)
            ece += k / n * gap
            mce = max(mce, gap)
        out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), k, c, a))
    return Calibration(out, float(ece), float(mce), n, float(conf.mean()) if n else 0.0,
                       float(right.mean()) if n else 0.0)
