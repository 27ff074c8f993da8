"""Pure analysis functions on a run's predictions and model: metrics, confused pairs, worst drawings,
clusters of mistakes, Grad-CAM, hidden layers, data quality and report export. Heavy libraries
(torch, scikit-learn, Pillow) are imported inside the functions that need them."""

from qdcore.analysis.cam import grad_cam, grad_cam_batch, overlay
from qdcore.analysis.clusters import (
    Cluster,
    ClusterResult,
    cluster_misclassified,
    misclassified_as,
    penultimate_features,
)
from qdcore.analysis.hidden import feature_maps
from qdcore.analysis.labelnoise import likely_label_errors, near_duplicates
from qdcore.analysis.metrics import (
    confusion_matrix,
    macro_average,
    per_class_metrics,
    summarize,
    topk_accuracy,
)
from qdcore.analysis.pairs import ConfusedPair, confused_pairs
from qdcore.analysis.worst import Ranking, around_percentile, rank_drawings

__all__ = [
    "Cluster", "ClusterResult", "ConfusedPair", "Ranking", "around_percentile", "cluster_misclassified",
    "confused_pairs", "confusion_matrix", "feature_maps", "grad_cam", "grad_cam_batch", "likely_label_errors",
    "macro_average", "misclassified_as", "near_duplicates", "overlay", "penultimate_features", "per_class_metrics",
    "rank_drawings", "summarize", "topk_accuracy",
]
