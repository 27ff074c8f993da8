"""A finished run's model as one thing that turns 28x28 drawings into class probabilities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qdcore.data.drawings import Drawings
from qdcore.runs.kinds import all_kinds, predictor_of
from qdcore.runs.refs import best_model_run

if TYPE_CHECKING:
    from qdcore.store import Store


@dataclass
class Predictor:
    """A run's classes and `probs(drawings)`: Drawings or uint8 (N, 28, 28) -> float32 (N, C) softmax."""

    run_id: int
    name: str
    classes: list[str]
    probs: Callable[[Drawings | np.ndarray], np.ndarray]

    def top(self, image: np.ndarray, k: int = 5, strokes=None) -> list[tuple[str, float]]:
        """The k most probable classes of one drawing (its bitmap, and its strokes where known), most probable first."""
        bitmap = np.asarray(image, np.uint8).reshape(1, 28, 28)
        p = self.probs(Drawings(bitmap, None if strokes is None else [strokes]))[0]
        order = np.argsort(-p, kind="stable")[:k]
        return [(self.classes[i], float(p[i])) for i in order]


def predicting_kinds() -> list[str]:
    """Kinds whose finished runs hold a model that classifies drawings."""
    return [k.name for k in all_kinds() if k.predictor is not None]


def load_predictor(store: Store, run_id: int, device: str | None = None) -> Predictor:
    """The model of a run, rebuilt by its kind (qdcore.runs.kinds.predictor_of, which `qd predict` uses too)."""
    rec = store.get_run(int(run_id))
    probs, classes = predictor_of(store, rec.id, device)
    return Predictor(rec.id, rec.name, list(classes), probs)


def latest_model_run(store: Store) -> int:
    """The app's default model: the best finished top-level classifier (qdcore.runs.refs.best_model_run)."""
    return best_model_run(store)
