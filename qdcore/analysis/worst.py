"""Worst drawings (study 003's "5% worst"): every drawing ranked from most to least confusing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qdcore.errors import ConfigError

RANK_BY = ("prob", "loss", "margin")


@dataclass
class Ranking:
    """Drawing indices ordered worst first, with the score each was ranked by."""

    order: np.ndarray  # int64 (N,) drawing indices, most confusing first
    score: np.ndarray  # float64 (N,) per drawing (indexed by drawing, not by rank)
    by: str

    def __len__(self) -> int:
        return int(self.order.shape[0])

    def rank_of(self) -> np.ndarray:
        """Rank (0 = worst) of every drawing."""
        r = np.empty_like(self.order)
        r[self.order] = np.arange(self.order.size)
        return r


def true_class_prob(pred) -> np.ndarray:
    """Probability the model gave each drawing's true class."""
    labels = np.asarray(pred.labels, dtype=np.int64)
    return np.asarray(pred.probs, dtype=np.float64)[np.arange(labels.size), labels]


def rank_drawings(pred, by: str = "prob") -> Ranking:
    """Rank all drawings worst first: by true-class probability (low first), cross-entropy loss (high first)
    or margin p(true) - max p(other) (low first)."""
    if by not in RANK_BY:
        raise ConfigError(f"unknown ranking {by!r}; use one of {', '.join(RANK_BY)}")
    p_true = true_class_prob(pred)
    if by == "prob":
        score = p_true
        key = score
    elif by == "loss":
        score = -np.log(np.clip(p_true, 1e-12, 1.0))
        key = -score
    else:
        probs = np.array(pred.probs, dtype=np.float64, copy=True)
        probs[np.arange(p_true.size), np.asarray(pred.labels, dtype=np.int64)] = -np.inf
        score = p_true - probs.max(axis=1) if probs.shape[1] > 1 else p_true
        key = score
    # stable sort keeps file order among ties, so the ranking is reproducible
    order = np.argsort(key, kind="stable").astype(np.int64)
    return Ranking(order=order, score=score, by=by)


def around_percentile(ranking: Ranking, pct: float, n: int = 48) -> np.ndarray:
    """Drawing indices of the n drawings centred on the pct% worst position (0 = the very worst)."""
    if not 0 <= pct <= 100:
        raise ConfigError(f"percentile {pct} is outside 0..100")
    if n < 1:
        raise ConfigError(f"number of drawings must be at least 1, got {n}")
    total = len(ranking)
    if total == 0:
        return np.zeros(0, np.int64)
    n = min(n, total)
    centre = int(round(pct / 100 * (total - 1)))
    start = min(max(0, centre - n // 2), total - n)
    return ranking.order[start: start + n]


def percentile_of(ranking: Ranking, index: int) -> float:
    """Where one drawing sits, as a percentage from the worst (0) to the best (100)."""
    total = len(ranking)
    pos = int(np.flatnonzero(ranking.order == index)[0])
    return 100.0 * pos / max(1, total - 1)


def ranking_rows(pred, ranking: Ranking, limit: int | None = None) -> list[dict[str, Any]]:
    """Table rows (rank, index, truth, predicted, probabilities, loss, provenance), worst first."""
    labels = np.asarray(pred.labels, dtype=np.int64)
    predicted = np.asarray(pred.predicted)
    probs = np.asarray(pred.probs)
    p_true = true_class_prob(pred)
    idx = ranking.order if limit is None else ranking.order[:limit]
    rows = []
    for rank, i in enumerate(idx.tolist()):
        rows.append({
            "rank": rank, "index": i, "truth": pred.classes[labels[i]], "predicted": pred.classes[predicted[i]],
            "p_true": float(p_true[i]), "p_pred": float(probs[i, predicted[i]]),
            "loss": float(-np.log(max(p_true[i], 1e-12))), "correct": bool(labels[i] == predicted[i]),
            "provenance": pred.provenance[i] if i < len(pred.provenance) else "",
        })
    return rows


def summary(pred, ranking: Ranking, pcts: tuple[float, ...] = (1, 5, 10, 25, 50)) -> dict[str, Any]:
    """True-class probability at chosen worst-percentiles and how many drawings are wrong."""
    p_true = true_class_prob(pred)
    ordered = p_true[ranking.order]
    total = ordered.size
    wrong = int((np.asarray(pred.predicted) != np.asarray(pred.labels)).sum())
    at = {}
    for p in pcts:
        if total:
            at[str(p)] = float(ordered[min(total - 1, int(round(p / 100 * (total - 1))))])
    return {"n": int(total), "wrong": wrong, "wrong_share": wrong / total if total else 0.0,
            "by": ranking.by, "p_true_at_worst_pct": at}
