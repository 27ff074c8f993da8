"""Pure analysis functions on a run's predictions and model: metrics, confused pairs, worst drawings,
clusters of mistakes, Grad-CAM, hidden layers, data quality and report export. Heavy libraries
(torch, scikit-learn, Pillow) are imported inside the functions that need them.

The names below load their module on first use (PEP 562), so importing a light part of the package
(`qdcore.analysis.options`, read by `qd --help`) does not load the others."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "grad_cam": "cam", "grad_cam_batch": "cam", "overlay": "cam",
    "Cluster": "clusters", "ClusterResult": "clusters", "cluster_misclassified": "clusters",
    "misclassified_as": "clusters", "penultimate_features": "clusters",
    "feature_maps": "hidden",
    "likely_label_errors": "labelnoise", "near_duplicates": "labelnoise",
    "confusion_matrix": "metrics", "macro_average": "metrics", "per_class_metrics": "metrics", "summarize": "metrics",
    "topk_accuracy": "metrics",
    "ConfusedPair": "pairs", "confused_pairs": "pairs",
    "Ranking": "worst", "around_percentile": "worst", "rank_drawings": "worst",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'qdcore.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"qdcore.analysis.{module}"), name)
