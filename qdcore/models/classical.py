"""Study 003's classical baselines on raw pixels: LightGBM boosted trees and logistic regression (scikit-learn)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.models import options as op

if TYPE_CHECKING:
    import numpy as np

# The defaults are LightGBM's and scikit-learn's own (study 003 names no settings for its LightGBM baseline).
CLASSICAL: dict[str, dict[str, Any]] = {
    "logreg": {"C": 1.0, "max_iter": 100, "seed": 0},
    "lightgbm": {"n_rounds": 100, "learning_rate": 0.1, "num_leaves": 31, "min_data_in_leaf": 20,
                 "feature_fraction": 1.0, "lambda_l2": 0.0, "seed": 0},
}


def resolve_classical(name: str, **opts: Any) -> dict[str, Any]:
    """A classical model's options: defaults overlaid with `opts`, each checked (ConfigError naming the option)."""
    if name not in CLASSICAL:
        raise ConfigError(f"unknown classical model {name!r}{suggest(name, list(CLASSICAL))}; "
                          f"choose from {', '.join(CLASSICAL)}")
    r = op.resolve(name, CLASSICAL[name], opts)
    r["seed"] = op.pos_int("seed", r["seed"], minimum=0)
    if name == "logreg":
        r["C"] = op.positive("C", r["C"])
        r["max_iter"] = op.pos_int("max_iter", r["max_iter"])
        return r
    r["n_rounds"] = op.pos_int("n_rounds", r["n_rounds"])
    r["learning_rate"] = op.positive("learning_rate", r["learning_rate"])
    r["num_leaves"] = op.pos_int("num_leaves", r["num_leaves"], minimum=2)
    r["min_data_in_leaf"] = op.pos_int("min_data_in_leaf", r["min_data_in_leaf"], minimum=1)
    ff = r["feature_fraction"]
    if isinstance(ff, bool) or not isinstance(ff, (int, float)) or not 0 < ff <= 1:
        raise ConfigError(f"option feature_fraction={ff!r} must be in (0, 1]")
    r["feature_fraction"] = float(ff)
    l2 = r["lambda_l2"]
    if isinstance(l2, bool) or not isinstance(l2, (int, float)) or l2 < 0:
        raise ConfigError(f"option lambda_l2={l2!r} must be a number >= 0")
    r["lambda_l2"] = float(l2)
    return r


def lightgbm_params(r: dict[str, Any], num_class: int, threads: int = 0) -> dict[str, Any]:
    """LightGBM's native training parameters for resolved options `r` (deterministic, quiet, multiclass)."""
    return {"objective": "multiclass", "num_class": int(num_class), "metric": ["multi_logloss", "multi_error"],
            "learning_rate": r["learning_rate"], "num_leaves": r["num_leaves"],
            "min_data_in_leaf": r["min_data_in_leaf"], "feature_fraction": r["feature_fraction"],
            "lambda_l2": r["lambda_l2"], "seed": r["seed"], "deterministic": True, "force_col_wise": True,
            "num_threads": int(threads), "verbosity": -1}


def build_classical(name: str, **opts: Any):
    """A fresh estimator for `name` (LGBMClassifier or LogisticRegression), fit on `to_features(images)`."""
    r = resolve_classical(name, **opts)
    if name == "logreg":
        from sklearn.linear_model import LogisticRegression  # lazy: scikit-learn (~1 s) is loaded only when used

        est = LogisticRegression(C=r["C"], max_iter=r["max_iter"], random_state=r["seed"])
    else:
        import lightgbm  # lazy: LightGBM (~1.2 s) is loaded only when used

        est = lightgbm.LGBMClassifier(n_estimators=r["n_rounds"], learning_rate=r["learning_rate"],
                                      num_leaves=r["num_leaves"], min_child_samples=r["min_data_in_leaf"],
                                      colsample_bytree=r["feature_fraction"], reg_lambda=r["lambda_l2"],
                                      random_state=r["seed"], deterministic=True, force_col_wise=True, verbosity=-1)
    est.arch = {"name": name, **r}  # rebuild with build_classical(**est.arch)
    return est


def to_features(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) or (N, 784) drawings -> float32 (N, 784) in [0, 1], the classical models' input."""
    import numpy as np  # lazy: qd --help reads this module's model table, and numpy is ~0.1 s of its 0.45 s CPU

    x = np.asarray(images)
    return x.reshape(len(x), 784).astype(np.float32) / 255.0
