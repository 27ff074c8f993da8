"""A trained classical baseline on disk, without pickle: LightGBM's text model or logistic regression as safetensors.

runs/<id>/model.json names the model, its classes and preprocessing; beside it LightGBM writes model.txt
(its own text format) and logistic regression model.safetensors (coef (C, 784), intercept (C,)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save

from qdcore.artifacts import LGB_MODEL_FILE as LGB_MODEL
from qdcore.artifacts import MODEL_FILE, MODEL_META, read_model_json
from qdcore.errors import DataError, StoreError
from qdcore.models.classical import to_features
from qdcore.paths import atomic_write_bytes, regular_file

FORMAT = "qd-classical/1"

PREPROCESSING = {
    "input": "float32 (N, 784): the 28 x 28 drawing flattened row by row",
    "pixels": "uint8 0..255 divided by 255",
    "ink": "white ink (255) on black (0), Google's numpy_bitmap layout",
    "size": 28,
    "output": "probabilities (N, C); class i is classes[i]",
}


@dataclass
class ClassicalModel:
    """A rebuilt classical model: `estimator` is a lightgbm.Booster or a sklearn LogisticRegression."""

    name: str  # lightgbm | logreg
    estimator: Any
    classes: list[str]
    meta: dict[str, Any]

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, C) probabilities for uint8 drawings (N, 28, 28) or (N, 784)."""
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise DataError(f"drawings must be uint8 0..255, got {images.dtype}")
        if len(images) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        x = to_features(images)
        if self.name == "lightgbm":
            p = self.estimator.predict(x)
        else:
            p = self.estimator.predict_proba(x)
        return np.asarray(p, np.float32).reshape(len(x), len(self.classes))


def _write_meta(run_dir: Path, name: str, arch: dict[str, Any], classes: list[str], extra: dict[str, Any]) -> None:
    doc = {"format": FORMAT, "kind": "classical", "arch": {"name": name, **arch}, "classes": list(classes),
           "preprocessing": PREPROCESSING, **extra}
    atomic_write_bytes(run_dir / MODEL_META, (json.dumps(doc, indent=2) + "\n").encode())


def save_lightgbm(run_dir: str | Path, model_text: str, arch: dict[str, Any], classes: list[str],
                  extra: dict[str, Any]) -> Path:
    """Write model.txt (LightGBM text format) and model.json atomically; the text goes first."""
    run_dir = Path(run_dir)
    atomic_write_bytes(run_dir / LGB_MODEL, model_text.encode("utf-8"))
    _write_meta(run_dir, "lightgbm", arch, classes, extra)
    return run_dir / LGB_MODEL


def save_logreg(run_dir: str | Path, coef: np.ndarray, intercept: np.ndarray, arch: dict[str, Any],
                classes: list[str], extra: dict[str, Any]) -> Path:
    """Write model.safetensors (coef, intercept as float64) and model.json atomically."""
    run_dir = Path(run_dir)
    tensors = {"coef": np.ascontiguousarray(coef, np.float64), "intercept": np.ascontiguousarray(intercept, np.float64)}
    atomic_write_bytes(run_dir / MODEL_FILE, save(tensors, metadata={"format": FORMAT}))
    _write_meta(run_dir, "logreg", arch, classes, extra)
    return run_dir / MODEL_FILE


def read_classical_meta(run_dir: str | Path) -> dict[str, Any]:
    """model.json of a classical run (StoreError when missing, unreadable or not a classical model)."""
    path = Path(run_dir) / MODEL_META
    meta = read_model_json(run_dir, "the run ended before it saved one: resume or retrain it")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or not isinstance(meta.get("classes"), list):
        raise StoreError(f"{path} is not a qd classical model (format {FORMAT})")
    return meta


def load_classical(run_dir: str | Path) -> ClassicalModel:
    """Rebuild a run's classical model from its text / safetensors files (never unpickles anything)."""
    run_dir = Path(run_dir)
    meta = read_classical_meta(run_dir)
    classes = [str(c) for c in meta["classes"]]
    name = str(meta.get("arch", {}).get("name"))
    if name == "lightgbm":
        return ClassicalModel(name, _load_booster(run_dir / LGB_MODEL, len(classes)), classes, meta)
    if name == "logreg":
        return ClassicalModel(name, _load_logreg(run_dir / MODEL_FILE, classes, meta["arch"]), classes, meta)
    raise StoreError(f"{run_dir / MODEL_META} names an unknown classical model {name!r}")


def _load_booster(path: Path, n_classes: int):
    import lightgbm  # lazy: LightGBM (~1.2 s) is loaded only when used

    if not path.exists():
        raise StoreError(f"no LightGBM model at {path}; retrain the run")

    try:
        regular_file(path, "a LightGBM model", limit=1 << 30)
    except DataError as e:
        raise StoreError(str(e)) from None
    try:
        text = path.read_text("utf-8")
        booster = lightgbm.Booster(model_str=text)
    except (OSError, UnicodeDecodeError, lightgbm.basic.LightGBMError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StoreError(f"{path} is not a readable LightGBM model ({first}); retrain the run") from None
    if booster.num_model_per_iteration() != n_classes:
        raise StoreError(f"{path} predicts {booster.num_model_per_iteration()} classes, model.json names {n_classes}")
    return booster


def _load_logreg(path: Path, classes: list[str], arch: dict[str, Any]):
    if not path.exists():
        raise StoreError(f"no logistic regression weights at {path}; retrain the run")
    try:
        t = load_file(str(path))
        coef, intercept = t["coef"], t["intercept"]
    except (SafetensorError, KeyError, OSError) as e:
        raise StoreError(f"{path} is not valid logistic regression weights ({type(e).__name__}); "
                         "retrain the run") from None
    rows = 1 if len(classes) == 2 else len(classes)  # scikit-learn keeps one row for two classes
    if coef.shape != (rows, 784) or intercept.shape != (rows,):
        raise StoreError(f"{path} holds coef {coef.shape} and intercept {intercept.shape}; "
                         f"expected ({rows}, 784) and ({rows},)")
    return logreg_estimator(coef, intercept, len(classes), arch)


def logreg_estimator(coef: np.ndarray, intercept: np.ndarray, n_classes: int, arch: dict[str, Any]):
    """A fitted scikit-learn LogisticRegression rebuilt from its coefficients (nothing else is needed to predict)."""
    from sklearn.linear_model import LogisticRegression  # lazy: scikit-learn (~1 s) is loaded only when used

    est = LogisticRegression(C=float(arch.get("C", 1.0)), max_iter=int(arch.get("max_iter", 100)))
    est.coef_, est.intercept_ = np.asarray(coef, np.float64), np.asarray(intercept, np.float64)
    est.classes_ = np.arange(n_classes)
    est.n_features_in_ = est.coef_.shape[1]
    return est
