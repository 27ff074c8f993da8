"""Evaluation metrics on predictions: confusion matrix, per-class P/R/F1, macro averages, top-k, with 95% intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qdcore.stats import confusion_matrix, topk_hits, wilson_interval

if TYPE_CHECKING:
    from qdcore.train.evaluate import RunEvaluation


def per_class_metrics(labels: np.ndarray, pred: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support per class (0 where undefined, like scikit-learn's zero_division=0)."""
    cm = confusion_matrix(labels, pred, len(classes))
    return rows_from_confusion(cm, classes)


def rows_from_confusion(cm: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    """Per-class rows from an existing confusion matrix."""
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    return [
        {"class": c, "precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
         "support": int(support[i]), "recall_ci": rate_interval(int(tp[i]), int(support[i]))}
        for i, c in enumerate(classes)
    ]


def rate_interval(k: int, n: int) -> list[float] | None:
    """Wilson 95% interval [lo, hi] of k right out of n (the quiz's implementation); None when n is 0."""
    return list(wilson_interval(int(k), int(n))) if n > 0 else None


def macro_average(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Unweighted mean of precision, recall and F1 over classes, plus total support."""
    if not rows:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    return {
        "precision": float(np.mean([r["precision"] for r in rows])),
        "recall": float(np.mean([r["recall"] for r in rows])),
        "f1": float(np.mean([r["f1"] for r in rows])),
        "support": int(sum(r["support"] for r in rows)),
    }


def topk_accuracy(probs: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of rows whose true class is among the k highest scores (k clipped to the class count)."""
    n = np.asarray(labels).shape[0]
    return topk_hits(probs, labels, k) / n if n else 0.0


def summarize(pred) -> dict[str, Any]:
    """Top-1, top-5 (with Wilson 95% intervals), per-class rows, macro averages and the confusion matrix of a
    Predictions: over every drawing evaluated where it keeps only a sample of them (its totals); `kept` says how
    many drawings the per-drawing views hold."""
    n_cls = len(pred.classes)
    if pred.totals is not None:
        cm = np.asarray(pred.totals.confusion, np.int64)
        n, hit1, hit5 = pred.totals.n, pred.totals.top1, pred.totals.top5
    else:
        cm = confusion_matrix(pred.labels, pred.predicted, n_cls)
        n = int(len(pred.labels))
        hit1, hit5 = topk_hits(pred.probs, pred.labels, 1), topk_hits(pred.probs, pred.labels, 5)
    rows = rows_from_confusion(cm, list(pred.classes))
    return {
        "n": n,
        "kept": int(len(pred.labels)),
        "classes": list(pred.classes),
        "top1": hit1 / n if n else 0.0,
        "top5": hit5 / n if n else 0.0,
        "top1_ci": rate_interval(hit1, n),
        "top5_ci": rate_interval(hit5, n),
        "per_class": rows,
        "macro": macro_average(rows),
        "confusion": cm.tolist(),
    }


def summary_intervals(summary: dict[str, Any]) -> dict[str, list[float] | None]:
    """Wilson 95% intervals of a run summary's test_top1 / test_top5 over its num_test drawings (None if unknown)."""
    n = summary.get("num_test")
    out: dict[str, list[float] | None] = {}
    for key in ("test_top1", "test_top5"):
        v = summary.get(key)
        ok = isinstance(n, int) and n > 0 and isinstance(v, (int, float)) and 0 <= v <= 1
        out[key] = rate_interval(round(v * n), n) if isinstance(n, int) and isinstance(v, (int, float)) and ok else None
    return out


def evaluation_metrics(ev: RunEvaluation) -> dict[str, Any]:
    """run_id, data, synthetic and summarize's figures of a run's evaluation, per-class rows and macro over its classes."""
    out = summarize(ev.predictions)
    if list(ev.data_classes) != list(ev.predictions.classes):
        # Other data with a subset of the classes: per-class rows and macro averages over the classes it has.
        present = set(ev.data_classes)
        out["per_class"] = [r for r in out["per_class"] if r["class"] in present]
        out["macro"] = macro_average(out["per_class"])
    return {"run_id": ev.run_id, "data": ev.where, "synthetic": ev.synthetic, **out}
