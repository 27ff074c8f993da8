"""Study 003's classical baselines on raw pixels: logistic regression and gradient-boosted trees (scikit-learn)."""

from __future__ import annotations

from typing import Any

import numpy as np

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.models import options as op

# HistGradientBoostingClassifier stands in for the study's LightGBM (same histogram/leaf-wise idea, no new dependency).
CLASSICAL: dict[str, dict[str, Any]] = {
    "logreg": {"C": 1.0, "max_iter": 200, "seed": 0},
    "gbt": {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31, "l2_regularization": 0.0, "seed": 0},
}


def build_classical(name: str, **opts: Any):
    """A fresh scikit-learn estimator for `name` (fit on `to_features(images)`); sklearn is imported here only."""
    if name not in CLASSICAL:
        raise ConfigError(f"unknown classical model {name!r}{suggest(name, list(CLASSICAL))}; "
                          f"choose from {', '.join(CLASSICAL)}")
    r = op.resolve(name, CLASSICAL[name], opts)
    seed = op.pos_int("seed", r["seed"], minimum=0)
    max_iter = op.pos_int("max_iter", r["max_iter"])
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression

        est = LogisticRegression(C=op.positive("C", r["C"]), max_iter=max_iter, random_state=seed)
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier

        l2 = r["l2_regularization"]
        if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
            raise ConfigError(f"option l2_regularization={l2!r} must be a number >= 0")
        est = HistGradientBoostingClassifier(
            max_iter=max_iter, learning_rate=op.positive("learning_rate", r["learning_rate"]),
            max_leaf_nodes=op.pos_int("max_leaf_nodes", r["max_leaf_nodes"], minimum=2),
            l2_regularization=float(l2), random_state=seed)
    est.arch = {"name": name, **r}  # rebuild with build_classical(**est.arch)
    return est


def to_features(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or (N, 784) drawings -> float32 (N, 784) in [0, 1], the classical models' input."""
    x = np.asarray(images)
    return x.reshape(len(x), -1).astype(np.float32) / 255.0
