"""ClassicalConfig: the options of a classical-baseline run (LightGBM or logistic regression on raw pixels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qdcore.errors import ConfigError
from qdcore.models.classical import CLASSICAL, resolve_classical
from qdcore.options import RunConfig, option

MODELS = tuple(CLASSICAL)  # lightgbm, logreg
_LGB, _LR = CLASSICAL["lightgbm"], CLASSICAL["logreg"]
_MODEL, _TREES, _LINEAR, _CB, _RUN = "Model", "LightGBM", "Logistic regression", "Callbacks", "Runtime"


@dataclass
class ClassicalConfig(RunConfig):
    """One classical-baseline run: data selection (shared), the model and its options, early stopping."""

    model: str = option("lightgbm", help="Classical model: lightgbm (boosted trees) or logreg.", panel=_MODEL,
                        short="-m", choices=MODELS, form="Model", metavar="NAME")
    # LightGBM (its own defaults; study 003 names no settings)
    n_rounds: int = option(_LGB["n_rounds"], help="LightGBM: most boosting rounds (each adds one tree per class).",
                           panel=_TREES, min=1, max=100_000, form="Rounds")
    lr: float = option(_LGB["learning_rate"], help="LightGBM: learning rate (shrinkage per round).", panel=_TREES,
                       min=0, max=100, min_open=True, form="LR")
    num_leaves: int = option(_LGB["num_leaves"], help="LightGBM: leaves per tree.", panel=_TREES, min=2,
                             max=131_072)
    min_data_in_leaf: int = option(_LGB["min_data_in_leaf"], help="LightGBM: fewest training drawings in a leaf.",
                                   panel=_TREES, min=1, max=10_000_000)
    feature_fraction: float = option(_LGB["feature_fraction"], help="LightGBM: fraction of pixels each tree may use.",
                                     panel=_TREES, min=0, max=1, min_open=True)
    lambda_l2: float = option(_LGB["lambda_l2"], help="LightGBM: L2 penalty on leaf values.", panel=_TREES, min=0,
                              max=1e6)
    # logistic regression (scikit-learn, L-BFGS, warm-started between points of the curve)
    C: float = option(_LR["C"], help="Logistic regression: inverse L2 regularisation strength.", panel=_LINEAR,
                      min=0, max=1e12, min_open=True)
    max_iter: int = option(_LR["max_iter"], help="Logistic regression: most L-BFGS iterations.", panel=_LINEAR,
                           min=1, max=1_000_000, form="Iterations")
    iters_per_step: int = option(5, help="Logistic regression: L-BFGS iterations per point of the curve.",
                                 panel=_LINEAR, min=1, max=10_000)
    # early stopping (monitor: validation loss; the training loss without a validation split)
    patience: int = option(10, help="Early stopping: rounds or points without val-loss improvement (0 = off).",
                           panel=_CB, min=0, max=100_000)
    min_delta: float = option(0.0, help="Smallest val-loss drop that counts as improvement.", panel=_CB, min=0,
                              max=1e6)
    # runtime
    threads: int = option(0, help="CPU threads of LightGBM and BLAS (0 = all).", panel=_RUN, min=0, max=1024)
    checkpoint_seconds: float = option(30.0, help="Seconds between LightGBM's resume checkpoints.", panel=_RUN,
                                       min=0, max=86_400)

    def model_options(self) -> dict[str, Any]:
        """The resolved options of the chosen model (qdcore.models.classical), seed included."""
        names = {"learning_rate": "lr"}
        return resolve_classical(self.model, **{k: getattr(self, names.get(k, k)) for k in CLASSICAL[self.model]})

    def validate(self, origin: str = "option") -> ClassicalConfig:
        """Checks across fields; single values are checked by their declarations."""
        super().validate(origin)
        try:
            self.model_options()
        except ConfigError as e:
            raise ConfigError(f"{origin}: {e}") from None
        return self
