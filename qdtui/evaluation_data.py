"""Blocking reads behind the evaluation screen: a run's predictions and metrics, its model, evaluating it. No Textual."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qdcore.artifacts import MODEL_FILE, MODEL_FILES  # torch-free, unlike checkpoint/engine
from qdcore.predictions import run_file as predictions_file
from qdtui.loaders import user_message

MAX_PAIRS = 300  # rows of the confused-pairs table (C = 345 would give 59,000 pairs)


@dataclass
class EvalData:
    """What the evaluation screen shows of one run; `pred` is None when the run has no (readable) predictions."""

    run_id: int
    name: str
    kind: str
    status: str
    data_spec: str
    synthetic: bool
    run_dir: Path
    has_model: bool
    pred: Any = None  # qdcore.predictions.Predictions
    predicted: np.ndarray | None = None  # top-1 class per drawing (cached argmax)
    summary: dict[str, Any] = field(default_factory=dict)  # qdcore.analysis.metrics.summarize
    calibration: Any = None  # qdcore.analysis.calibration.Calibration
    pairs: list[Any] = field(default_factory=list)  # qdcore.analysis.pairs.ConfusedPair
    missing: str = ""  # why there are no predictions
    baseline: Any = None  # qdcore.quiz.report.Baseline: people on the same test drawings
    baseline_note: str = ""  # why there is no baseline
    config: dict[str, Any] = field(default_factory=dict)  # the run's stored options

    @property
    def ok(self) -> bool:
        """Predictions were read."""
        return self.pred is not None

    @property
    def can_evaluate(self) -> bool:
        """The run's model is there to compute predictions from (and the run is not still writing it)."""
        from qdcore.runs.kinds import can_evaluate

        return self.has_model and can_evaluate(self.kind) and self.status != "running"

    def cell(self, truth: int, pred: int) -> np.ndarray:
        """Indices of the drawings of class `truth` predicted as `pred`."""
        return np.flatnonzero((np.asarray(self.pred.labels) == truth) & (self.predicted == pred)).astype(np.int64)

    def p_pred(self, i: int) -> float:
        """Probability of the predicted class of drawing i."""
        return float(self.pred.probs[i, self.predicted[i]])

    def p_true(self, i: int) -> float:
        """Probability of the true class of drawing i."""
        return float(self.pred.probs[i, int(self.pred.labels[i])])

    def describe(self, i: int) -> str:
        """'#12 · truth cat (p 0.03) · predicted dog (p 0.91) · file.npy#4' for a detail line."""
        classes = self.pred.classes
        t, p = int(self.pred.labels[i]), int(self.predicted[i])
        prov = self.pred.provenance[i] if i < len(self.pred.provenance) else ""
        mark = "right" if t == p else "wrong"
        return (f"#{i} · {mark} · truth {classes[t]} (p {self.p_true(i):.2f}) · "
                f"predicted {classes[p]} (p {self.p_pred(i):.2f}) · {prov}")


def _model_present(run_dir: Path) -> bool:
    # a description beside its weights: model.json with model.safetensors or LightGBM's model.txt, or a stroke model's
    return any((run_dir / meta).is_file() and (run_dir / weights).is_file() for meta, weights in MODEL_FILES)


def load_eval(store: Any, run_id: int) -> EvalData:
    """A run's predictions, metrics and confused pairs (raises StoreError for a run that does not exist)."""
    from qdcore.predictions import Predictions

    rec = store.get_run(run_id)
    run_dir = store.run_dir(run_id, create=False)
    config = rec.config or {}
    data = EvalData(run_id=rec.id, name=rec.name or "", kind=rec.kind, status=rec.status,
                    data_spec=str(config.get("data", "") or ""), synthetic=bool((rec.summary or {}).get("synthetic")),
                    run_dir=run_dir, has_model=_model_present(run_dir), config=dict(config))
    from qdtui.kind_screens import shows_predictions

    if not shows_predictions(rec.kind):
        data.missing = f"run {run_id} is a {rec.kind} run; the evaluation screen shows runs with predictions"
        return data
    path = predictions_file(run_dir)
    if not path.exists():
        data.missing = f"run {run_id} has no predictions ({path.name} is missing)"
        if rec.status == "running":
            data.missing += "; it is still training and writes them when it finishes"
        return data
    try:
        pred = Predictions.load(path)
    except Exception as e:  # noqa: BLE001 - a corrupt file is offered for re-evaluation like a missing one
        data.missing = user_message(e)
        return data
    fill(data, pred)
    data.baseline, data.baseline_note = _baseline(store, run_id)
    return data


def fill(data: EvalData, pred) -> EvalData:
    """Metrics (with intervals), calibration and confused pairs of predictions, into data."""
    from qdcore.analysis.calibration import calibration
    from qdcore.analysis.metrics import summarize
    from qdcore.analysis.pairs import confused_pairs

    data.pred = pred
    data.predicted = np.asarray(pred.predicted)
    data.summary = summarize(pred)
    data.calibration = calibration(pred.probs, pred.labels)
    data.pairs = confused_pairs(pred, top=MAX_PAIRS)
    data.missing = ""
    return data


def _baseline(store, run_id: int) -> tuple[Any, str]:
    """Human accuracy on the run's test drawings from the quiz answers (None and a note when there are none)."""
    from qdcore.quiz.report import human_baseline

    try:
        base = human_baseline(store, run=run_id)
    except Exception as e:  # noqa: BLE001 - the baseline is a bonus, never a failure of the screen
        return None, f"human baseline unavailable: {user_message(e)}"
    if base is None:
        return None, "no quiz answers on these drawings yet (the quiz is on the home screen)"
    return base, ""


class ModelCache:
    """A run's model, loaded once on the CPU by whichever worker asks first; `use` serialises hooks on it."""

    def __init__(self, run_dir: Path, kind: str = "", config: dict[str, Any] | None = None) -> None:
        self.run_dir, self.kind, self.config = run_dir, kind, config or {}
        self._inputs: Any = None  # provenances -> the images the model reads (a raster CNN draws them itself)
        self.use = threading.Lock()  # forward hooks of two workers on one model would see each other's passes
        self._load = threading.Lock()
        self._model: Any = None
        self._meta: dict[str, Any] | None = None
        self._error = ""

    def get(self) -> tuple[Any, dict[str, Any]]:
        """(model, meta), loading on first use; raises StoreError-like errors with one line."""
        from qdcore.errors import StoreError

        with self._load:
            if self._model is None and not self._error:
                from qdcore.runs.kinds import JUDGE, can, find_kind

                network = getattr(find_kind(self.kind), "network", None) if self.kind else None
                if network is not None:  # a CNN inside another kind's model (raster-<CNN>): the kind hands it over
                    try:
                        self._model, self._meta, self._inputs = network(self.run_dir, self.config)
                    except Exception as e:  # noqa: BLE001 - kept so every tab shows the same line
                        self._error = user_message(e)
                elif self.kind and not can(self.kind, JUDGE):  # a CNN's layers over the bitmap: others have none
                    self._error = (f"this view needs a network that reads the 28x28 bitmap (its layers' maps); a "
                                   f"{self.kind} run's model does not")
                elif not _model_present(self.run_dir):
                    self._error = (f"the model file is missing ({self.run_dir / MODEL_FILE}); "
                                   "this view needs the model: resume or retrain the run")
                else:
                    try:
                        from qdcore.train.checkpoint import load_model

                        self._model, self._meta = load_model(self.run_dir, "cpu")
                    except Exception as e:  # noqa: BLE001 - kept so every tab shows the same line
                        self._error = user_message(e)
            if self._error:
                raise StoreError(self._error)
            return self._model, self._meta or {}

    def inputs(self, pred: Any, idx: Any) -> np.ndarray:
        """What the model reads of the drawings `idx` of `pred`: their bitmaps, or the channels a raster CNN draws."""
        self.get()
        idx = np.asarray(idx, np.int64)
        if self._inputs is None:
            return np.asarray(pred.images)[idx]
        return self._inputs([pred.provenance[int(i)] for i in idx])
