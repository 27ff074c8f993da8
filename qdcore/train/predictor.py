"""A finished run's model as one thing that turns 28x28 drawings into class probabilities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qdcore.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from qdcore.store import Store

# Run kinds whose finished runs hold a model that classifies drawings.
PREDICTING_KINDS = ("classifier",)


@dataclass
class Predictor:
    """A run's classes and `probs(images)`: uint8 (N, 28, 28) -> float32 (N, C) softmax."""

    run_id: int
    name: str
    classes: list[str]
    probs: Callable[[np.ndarray], np.ndarray]

    def top(self, image: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable classes of one drawing, most probable first."""
        p = self.probs(np.asarray(image, np.uint8).reshape(1, 28, 28))[0]
        order = np.argsort(-p, kind="stable")[:k]
        return [(self.classes[i], float(p[i])) for i in order]


def load_predictor(store: "Store", run_id: int, device: str = "auto") -> Predictor:
    """The model of a run in the store (the one loader `qd predict` and the draw screen use)."""
    from qdcore.train.checkpoint import load_model
    from qdcore.train.device import resolve
    from qdcore.train.evaluate import predict_probs

    rec = store.get_run(int(run_id))
    if rec.kind not in PREDICTING_KINDS:
        raise ConfigError(f"run {rec.id} is a {rec.kind} run, which has no model that classifies drawings; "
                          "choose a classifier run (see 'qd runs list')")
    rt = resolve(device or "auto", None)
    model, meta = load_model(store.run_dir(rec.id, create=False), rt.device)
    return Predictor(rec.id, rec.name, list(meta["classes"]), lambda images: predict_probs(model, images, rt))


def latest_model_run(store: "Store") -> int:
    """The newest finished run that holds a model; StoreError saying how to make one when there is none."""
    for kind in PREDICTING_KINDS:
        runs = store.list_runs(kind=kind, status="done", limit=1)
        if runs:
            return runs[0].id
    raise StoreError(f"there is no finished classifier run in {store.home} yet: train one with 'qd train' "
                     "or press t on the home screen")
