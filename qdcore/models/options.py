"""Checking and coercing model options (no torch): every bad value is a one-line ConfigError."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.options import option

POOL_KINDS = ("max", "avg", "none")
PADDINGS = ("valid", "same")
UPSAMPLES = ("transposed", "nearest")  # how a GAN generator doubles its maps

# One line per option, shown by `qd models show` and the README.
OPTION_DOCS: dict[str, str] = {
    "width": "channels of the first conv block (k); later blocks scale from it (alias: k)",
    "depth": "number of conv blocks (each: conv(s), pooling, optional BN/dropout)",
    "convs": "conv layers per block before its pooling: one int, or a list with one count per block (study 001's "
             "'doubled convs', '+2 convs')",
    "kernel": "conv kernel size: one int, or a list with one size per block",
    "padding": "conv padding: valid (Keras default, shrinks) or same (keeps size)",
    "pool": "pooling after each block: max, avg or none",
    "pool_size": "pooling window and stride (Keras pool_size)",
    "batch_norm": "add batch normalisation (after each conv, or where the study put it)",
    "dropout": "dropout rate after each conv block (0 = none)",
    "head_dropout": "dropout rate after flatten, before the dense layers (0 = none)",
    "dense": "hidden dense layer sizes before the output layer ([] = none; widthk: null = 8k)",
    "hidden": "hidden layer sizes of the fully connected net",
    "g_width": "generator base channels (dense 7x7x4w, convT 2w, w, 1)",
    "d_width": "discriminator base channels (conv w, 2w)",
    "upsample": "how the generator doubles its maps: transposed (stride-2 transposed convs) or nearest (nearest-"
                "neighbour upsampling, then a conv: no checkerboard dots)",
    "out_shift": "constant added to the generator's output before its tanh (negative: the canvas starts black)",
    "out_scale": "the generator's output is clamp(scale * tanh, -1, 1): above 1, pure black and full ink are reached",
    "spectral_norm": "spectral normalisation of the discriminator's weights (Miyato et al. 2018)",
    "patch": "a second discriminator head judging each 13x13-pixel patch real or fake (PatchGAN, Isola et al. 2017)",
    "C": "inverse L2 regularisation strength",
    "max_iter": "maximum solver iterations of logistic regression",
    "n_rounds": "maximum boosting rounds (each adds one tree per class)",
    "learning_rate": "boosting shrinkage",
    "num_leaves": "leaves per tree",
    "min_data_in_leaf": "fewest training drawings in a leaf",
    "feature_fraction": "fraction of pixels each tree may split on (1 = all)",
    "lambda_l2": "L2 penalty on leaf values",
    "seed": "random state of the estimator",
}

ALIASES = {"k": "width"}


def cnn_defaults(**over: Any) -> dict[str, Any]:
    """The options every zoo CNN understands, with `over` as one model's defaults."""
    base = {"width": 32, "depth": 3, "convs": 1, "kernel": 3, "padding": "valid", "pool": "max", "pool_size": 2,
            "batch_norm": False, "dropout": 0.0, "head_dropout": 0.0, "dense": [512]}
    base.update(over)
    return base


def resolve(model: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `given` (aliases mapped, names checked, values coerced; None = default)."""
    out = copy.deepcopy(defaults)
    for raw_key, value in given.items():
        key = ALIASES.get(raw_key, raw_key)
        if key not in defaults and value is None:
            continue  # an unset generic flag (e.g. the engine's --width) for a model without that option
        if key not in defaults:
            raise ConfigError(f"model {model!r} has no option {raw_key!r}{suggest(raw_key, list(defaults))}; "
                              f"its options: {', '.join(defaults) or 'none'}")
        value = coerce(key, value, defaults[key])
        if value is not None or defaults[key] is None:  # None means "the default"
            out[key] = value
    return out


def coerce(key: str, value: Any, default: Any) -> Any:
    """Turn CLI strings into the option's type, keyed on the default's type."""
    if isinstance(value, str) and not isinstance(default, str):
        text = value.strip()
        low = text.lower()
        if low in ("none", "null", ""):
            return None
        if isinstance(default, bool):
            if low in ("true", "yes", "on", "1"):
                return True
            if low in ("false", "no", "off", "0"):
                return False
            raise ConfigError(f"option {key}={value!r} must be true or false")
        if isinstance(default, (list, tuple)) or "," in text or text.startswith("["):
            return [_number(key, p) for p in text.strip("[]()").split(",") if p.strip()]
        return _number(key, text)
    if isinstance(value, tuple):
        return list(value)
    return value


def _number(key: str, text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise ConfigError(f"option {key}={text!r} is not a number") from None


def pos_int(key: str, value: Any, minimum: int = 1) -> int:
    """An int >= minimum, or ConfigError naming the option."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or value < minimum:
        raise ConfigError(f"option {key}={value!r} must be a whole number >= {minimum}")
    return int(value)


def rate(key: str, value: Any) -> float:
    """A dropout-like rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"option {key}={value!r} must be a rate in [0, 1)")
    return float(value)


def positive(key: str, value: Any) -> float:
    """A float > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"option {key}={value!r} must be a number > 0")
    return float(value)


def number(key: str, value: Any) -> float:
    """Any finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        raise ConfigError(f"option {key}={value!r} must be a finite number")
    return float(value)


def at_least(key: str, value: Any, low: float) -> float:
    """A finite number >= low."""
    if number(key, value) < low:
        raise ConfigError(f"option {key}={value!r} must be a number >= {low:g}")
    return float(value)


def flag(key: str, value: Any) -> bool:
    """A real boolean."""
    if not isinstance(value, bool):
        raise ConfigError(f"option {key}={value!r} must be true or false")
    return value


def choice(key: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of `choices` (case-insensitive)."""
    if not isinstance(value, str) or value.lower() not in choices:
        raise ConfigError(f"option {key}={value!r} must be one of {', '.join(choices)}"
                          f"{suggest(str(value), list(choices))}")
    return value.lower()


def int_list(key: str, value: Any, allow_empty: bool = True) -> list[int]:
    """A list of ints >= 1 (a single int becomes a one-item list)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or (not value and not allow_empty):
        raise ConfigError(f"option {key}={value!r} must be a list of whole numbers >= 1")
    return [pos_int(key, v) for v in value]


def per_block(key: str, value: Any, depth: int, given: bool) -> int | list[int]:
    """An int, or a list with one entry per block; a default list follows depth, a given one must match."""
    if isinstance(value, (list, tuple)):
        values = int_list(key, value, allow_empty=False)
        if len(values) != depth:
            if given:
                raise ConfigError(f"option {key}={values} needs {depth} entries, one per block (depth={depth}), "
                                  "or a single number")
            values = (values + [values[-1]] * depth)[:depth]
        return values
    return pos_int(key, value)


def at(value: int | list[int], i: int) -> int:
    """Entry i of a per-block option."""
    return value[i] if isinstance(value, list) else value


@dataclass
class ModelName:
    """The model `qd models show` describes."""

    name: str = option("", help="Model name (see 'qd models list').", argument=True, metavar="NAME")


@dataclass
class LayerTableOptions:
    """The model `qd models show` builds for its layer table: classes and model options."""

    classes: int = option(10, help="Number of output classes.", short="-n", min=1, max=100_000)
    opt: list[str] = option(factory=list, help="Model option key=value (repeatable), e.g. --opt width=16.",
                            short="-o", metavar="KEY=VALUE")
