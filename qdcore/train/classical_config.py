"""ClassicalConfig: the options of a classical-baseline run (LightGBM or logistic regression on raw pixels)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.models.classical import CLASSICAL, resolve_classical

MODELS = tuple(CLASSICAL)  # lightgbm, logreg
_LGB, _LR = CLASSICAL["lightgbm"], CLASSICAL["logreg"]


def opt(default: Any, help: str, panel: str, *, choices: tuple[str, ...] | None = None, low: float | None = None,
        high: float | None = None, open_low: bool = False, open_high: bool = False, whole: bool = False,
        optional: bool = False) -> Any:
    """A config field whose help, panel, choices and bounds live in its metadata (CLI, files and forms read them).

    `low`/`high` are inclusive bounds unless `open_low`/`open_high`; `optional` fields may be None (unset).
    """
    meta = {"help": help, "panel": panel, "choices": choices, "min": low, "max": high, "open_min": open_low,
            "open_max": open_high, "whole": whole, "optional": optional}
    return field(default=default, metadata=meta)


@dataclass
class ClassicalConfig:
    """One classical-baseline run: model, data selection and split, the model's options, early stopping."""

    name: str = opt("", "run name (default: model and data)", "run")
    model: str = opt("lightgbm", "classical model: lightgbm (boosted trees) or logreg", "model", choices=MODELS)
    # data selection and split (the same as a classifier's)
    data: str = opt("demo", "data source: demo, a folder of .npy/.ndjson files, or a downloaded set", "data")
    categories: str | None = opt(None, "comma-separated categories (default: all in the data)", "data",
                                 optional=True)
    per_class: int | None = opt(None, "drawings per category (default: all)", "data", low=1, whole=True,
                                optional=True)
    seed: int = opt(0, "seed of the selection, the split and the model", "data", low=0, whole=True)
    imbalance: str | None = opt(None, "per-class ratios, e.g. cat=0.1", "data", optional=True)
    val: float = opt(0.1, "validation fraction (early stopping watches its loss)", "data", low=0, high=1,
                     open_high=True)
    test: float = opt(0.1, "test fraction", "data", low=0, high=1, open_high=True)
    # LightGBM
    n_rounds: int = opt(_LGB["n_rounds"], "most boosting rounds (each adds one tree per class)", "lightgbm",
                        low=1, whole=True)
    learning_rate: float = opt(_LGB["learning_rate"], "boosting shrinkage", "lightgbm", low=0, open_low=True)
    num_leaves: int = opt(_LGB["num_leaves"], "leaves per tree", "lightgbm", low=2, whole=True)
    min_data_in_leaf: int = opt(_LGB["min_data_in_leaf"], "fewest training drawings in a leaf", "lightgbm",
                                low=1, whole=True)
    feature_fraction: float = opt(_LGB["feature_fraction"], "fraction of pixels each tree may use", "lightgbm",
                                  low=0, high=1, open_low=True)
    lambda_l2: float = opt(_LGB["lambda_l2"], "L2 penalty on leaf values", "lightgbm", low=0)
    # logistic regression
    C: float = opt(_LR["C"], "inverse L2 regularisation strength", "logreg", low=0, open_low=True)
    max_iter: int = opt(_LR["max_iter"], "most L-BFGS iterations", "logreg", low=1, whole=True)
    iters_per_step: int = opt(5, "L-BFGS iterations between validation points (one step of the curve)", "logreg",
                              low=1, whole=True)
    # early stopping (monitor: validation loss; the training loss without a validation split)
    patience: int = opt(10, "stop after this many rounds/steps without a better validation loss; 0 = off",
                        "early stopping", low=0, whole=True)
    min_delta: float = opt(0.0, "smallest decrease of the validation loss that counts", "early stopping", low=0)
    # runtime
    threads: int = opt(0, "CPU threads for LightGBM and BLAS (0 = all)", "runtime", low=0, whole=True)
    checkpoint_seconds: float = opt(30.0, "seconds between resume checkpoints of LightGBM", "runtime", low=0)

    def model_options(self) -> dict[str, Any]:
        """The resolved options of the chosen model (qdcore.models.classical), seed included."""
        keys = CLASSICAL[self.model]
        return resolve_classical(self.model, **{k: getattr(self, k) for k in keys})

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored with the run)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "config") -> "ClassicalConfig":
        """Build from a dict (stored config, TOML table); unknown keys are an error."""
        return cls().replace(origin=origin, **d)

    def replace(self, origin: str = "option", **changes: Any) -> "ClassicalConfig":
        """A checked copy with some fields changed (dashes in names allowed)."""
        names = {f.name for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            k = key.replace("-", "_")
            if k not in names:
                raise ConfigError(f"{origin}: unknown option {key!r} for a classical run"
                                  f"{suggest(k, sorted(names))}; see 'qd train --help'")
            clean[k] = value
        cfg = dataclasses.replace(self, **clean)
        cfg.validate(origin)
        return cfg

    def validate(self, origin: str = "option") -> "ClassicalConfig":
        """Raise ConfigError (one line) on the first bad value, from each field's metadata."""
        for f in dataclasses.fields(self):
            check_field(f, getattr(self, f.name), origin)
        if self.val + self.test >= 1:
            raise ConfigError(f"{origin}: val={self.val} + test={self.test} leave no training data; "
                              "their sum must be below 1")
        try:
            self.model_options()
        except ConfigError as e:
            raise ConfigError(f"{origin}: {e}") from None
        return self


def check_field(f: dataclasses.Field, value: Any, origin: str) -> None:
    """ConfigError when `value` breaks the type, choices or bounds in field `f`'s metadata."""
    m, key = f.metadata, f.name
    if value is None and m.get("optional"):
        return
    if m.get("choices"):
        if not isinstance(value, str) or value not in m["choices"]:
            raise ConfigError(f"{origin}: {key}={value!r} must be one of {', '.join(m['choices'])}"
                              f"{suggest(str(value), list(m['choices']))}")
        return
    if str(f.type).startswith("str"):
        if not isinstance(value, str):
            raise ConfigError(f"{origin}: {key}={value!r} must be text")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{origin}: {key}={value!r} must be a number")
    if m.get("whole") and int(value) != value:
        raise ConfigError(f"{origin}: {key}={value!r} must be a whole number")
    low, high = m.get("min"), m.get("max")
    if low is not None and (value <= low if m.get("open_min") else value < low):
        raise ConfigError(f"{origin}: {key}={value!r} must be {'>' if m.get('open_min') else '>='} {low}")
    if high is not None and (value >= high if m.get("open_max") else value > high):
        raise ConfigError(f"{origin}: {key}={value!r} must be {'below' if m.get('open_max') else 'at most'} {high}")
