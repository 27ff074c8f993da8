"""Confused pairs (study 003's table): how often class A is read as B and B as A."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qdcore.stats import confusion_matrix


@dataclass
class ConfusedPair:
    """Two classes the model mixes up, with the drawings of both directions."""

    a: str
    b: str
    a_as_b: int  # drawings of a predicted as b
    b_as_a: int
    n_a: int  # test drawings of a
    n_b: int
    share: float  # (a_as_b + b_as_a) / (n_a + n_b)
    ia: int = -1  # class indices
    ib: int = -1
    idx_a_as_b: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)
    idx_b_as_a: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False, compare=False)

    @property
    def confused(self) -> int:
        """Drawings confused in either direction."""
        return self.a_as_b + self.b_as_a

    def to_dict(self, with_indices: bool = False) -> dict[str, Any]:
        """JSON-ready row."""
        d: dict[str, Any] = {"a": self.a, "b": self.b, "a_as_b": self.a_as_b, "b_as_a": self.b_as_a,
                             "n_a": self.n_a, "n_b": self.n_b, "share": self.share}
        if with_indices:
            d["idx_a_as_b"] = self.idx_a_as_b.tolist()
            d["idx_b_as_a"] = self.idx_b_as_a.tolist()
        return d


def confused_pairs(pred, top: int | None = None, include_zero: bool = False) -> list[ConfusedPair]:
    """All class pairs sorted by the share of their drawings confused (largest first), optionally the top N.

    Within a pair, `a` is the class more often taken for the other one (ties: lower class index).
    """
    labels = np.asarray(pred.labels, dtype=np.int64)
    predicted = np.asarray(pred.predicted, dtype=np.int64)
    classes = list(pred.classes)
    c = len(classes)
    cm = confusion_matrix(labels, predicted, c)
    support = cm.sum(axis=1)
    sym = cm + cm.T
    iu, ju = np.triu_indices(c, k=1)
    totals = support[iu] + support[ju]
    confused = sym[iu, ju]
    keep = (confused > 0) | include_zero
    iu, ju, totals, confused = iu[keep], ju[keep], totals[keep], confused[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(totals > 0, confused / np.maximum(totals, 1), 0.0)
    # share desc, then more confusions, then class order: a deterministic table
    order = np.lexsort((ju, iu, -confused, -share))
    if top is not None:
        order = order[: max(0, int(top))]
    groups = _cells(labels, predicted, c, set(zip(iu[order].tolist(), ju[order].tolist())))
    out = []
    for o in order:
        i, j = int(iu[o]), int(ju[o])
        if cm[j, i] > cm[i, j]:
            i, j = j, i
        out.append(ConfusedPair(a=classes[i], b=classes[j], a_as_b=int(cm[i, j]), b_as_a=int(cm[j, i]),
                                n_a=int(support[i]), n_b=int(support[j]), share=float(share[o]), ia=i, ib=j,
                                idx_a_as_b=groups.get((i, j), np.zeros(0, np.int64)),
                                idx_b_as_a=groups.get((j, i), np.zeros(0, np.int64))))
    return out


def _cells(labels: np.ndarray, predicted: np.ndarray, c: int, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], np.ndarray]:
    """Indices of the drawings in each off-diagonal cell (truth, prediction) of the wanted pairs."""
    wrong = np.flatnonzero(labels != predicted)
    if wrong.size == 0 or not pairs:
        return {}
    key = labels[wrong] * c + predicted[wrong]
    order = np.argsort(key, kind="stable")
    key_sorted, idx_sorted = key[order], wrong[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    ends = np.r_[starts[1:], key_sorted.size]
    out = {}
    for s, e in zip(starts, ends):
        t, p = divmod(int(key_sorted[s]), c)
        if (min(t, p), max(t, p)) in pairs:
            out[(t, p)] = idx_sorted[s:e].astype(np.int64)
    return out
