"""Accuracy statistics: confusion counts, top-k hits, Wilson intervals and McNemar's test (numpy only: training,
analysis and the quiz count with the same functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% (by default) Wilson score interval for k successes in n trials."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"successes {k} outside 0..{n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact ends at k = 0 and k = n (rounding would leave 1e-17 off them, outside-looking intervals)
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


@dataclass(frozen=True)
class McNemar:
    """McNemar's test on the discordant pairs b (only people right) and c (only model right)."""

    b: int
    c: int
    statistic: float
    p_value: float
    exact: bool


def mean_interval(values: np.ndarray, z: float = 1.959963984540054) -> tuple[float, float, float]:
    """The mean of `values` and its normal-approximation 95% interval (mean +- z standard errors)."""
    v = np.asarray(values, np.float64).ravel()
    m = float(v.mean()) if v.size else float("nan")
    half = z * float(v.std(ddof=1)) / np.sqrt(v.size) if v.size > 1 else float("nan")
    return m, float(m - half), float(m + half)


def mcnemar(b: int, c: int, exact: bool | None = None) -> McNemar:
    """Exact binomial test when b + c < 25 (or exact=True), else chi-square with continuity correction."""
    n = b + c
    if exact is None:
        exact = n < 25
    if n == 0:
        return McNemar(b, c, 0.0, 1.0, bool(exact))
    if exact:
        k = min(b, c)
        tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n
        return McNemar(b, c, float(k), min(1.0, 2 * tail), True)
    stat = (abs(b - c) - 1) ** 2 / n
    # Chi-square with 1 degree of freedom: survival function = erfc(sqrt(x / 2)).
    return McNemar(b, c, stat, math.erfc(math.sqrt(stat / 2)), False)


def confusion_matrix(labels: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """Counts int64 (n, n): rows are the true class, columns the predicted one."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    pred = np.asarray(pred, dtype=np.int64).ravel()
    if labels.shape != pred.shape:
        raise ValueError(f"labels {labels.shape} and predictions {pred.shape} differ in length")
    # one bincount over flat indices is much faster than a Python loop or np.add.at
    flat = np.bincount(labels * n + pred, minlength=n * n)
    return flat[: n * n].reshape(n, n).astype(np.int64)


def topk_hits(probs: np.ndarray, labels: np.ndarray, k: int) -> int:
    """Rows whose true class is among the k highest scores (k clipped to the class count)."""
    probs = np.asarray(probs)
    labels = np.asarray(labels, dtype=np.int64)
    n = labels.shape[0]
    if n == 0:
        return 0
    k = max(1, min(int(k), probs.shape[1]))
    if k == 1:
        return int((probs.argmax(axis=1) == labels).sum())
    # rank = number of classes scoring strictly higher than the truth; ties count in the model's favour
    true_score = probs[np.arange(n), labels]
    rank = (probs > true_score[:, None]).sum(axis=1)
    return int((rank < k).sum())
