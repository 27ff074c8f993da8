"""TrainConfig: every option of a classifier training run, its checks, presets and TOML files."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcore.checks import finite_number
from qdcore.data.categories import suggest
from qdcore.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    """One classifier training run: model, data selection, optimisation, callbacks, augmentation, runtime."""

    name: str = ""
    # model (None = the zoo's default for that model)
    model: str = "widthk"
    width: int | None = None
    kernel: int | None = None
    pooling: str | None = None  # max | avg | none
    batch_norm: bool | None = None
    dropout: float | None = None
    model_opts: dict[str, Any] = field(default_factory=dict)  # any other build_model option (depth, dense, ...)
    # data selection and split
    data: str = "demo"
    categories: str | None = None
    per_class: int | None = None
    seed: int = 0
    imbalance: str | None = None
    val: float = 0.1
    test: float = 0.1
    # optimisation
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "adam"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    nesterov: bool = False
    alpha: float = 0.99  # RMSprop smoothing
    eps: float = 1e-8
    weight_decay: float = 0.0  # L2 (decoupled for adamw)
    label_smoothing: float = 0.0
    schedule: str = "constant"  # constant | cosine (per step, after warmup)
    warmup_epochs: float = 0.0
    # callbacks (monitor: validation loss)
    patience: int = 0  # early stopping after this many epochs without improvement; 0 = off
    min_delta: float = 0.0
    plateau_patience: int = 0  # reduce the lr after this many epochs without improvement; 0 = off
    plateau_factor: float = 0.5
    min_lr: float = 1e-6
    # augmentation, on the device
    hflip: bool = False
    vflip: bool = False
    rotate: float = 0.0  # degrees, uniform in [-rotate, rotate]
    shift: float = 0.0  # pixels, uniform in [-shift, shift] on each axis
    # runtime
    amp: bool | None = None  # None = auto (CUDA; CPUs with native bf16)
    compile: bool = False
    device: str = "auto"
    log_every: int = 50
    deterministic: bool = False
    eval_batch_size: int = 1024

    def model_options(self) -> dict[str, Any]:
        """Options for build_model: the explicit fields that are set, then model_opts."""
        opts = {"width": self.width, "kernel": self.kernel, "pool": self.pooling,
                "batch_norm": self.batch_norm, "dropout": self.dropout}
        out = {k: v for k, v in opts.items() if v is not None}
        out.update(self.model_opts or {})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored with the run)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "config") -> "TrainConfig":
        """Build from a dict (stored config, TOML table); unknown keys are an error."""
        return cls().replace(origin=origin, **d)

    def replace(self, origin: str = "option", **changes: Any) -> "TrainConfig":
        """A checked copy with some fields changed (dashes in names allowed)."""
        names = {f.name for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            k = key.replace("-", "_")
            if k not in names:
                raise ConfigError(f"{origin}: unknown training option {key!r}{suggest(k, sorted(names))}; "
                                  "see 'qd train --help'")
            clean[k] = value
        if "betas" in clean and clean["betas"] is not None:
            b = clean["betas"]
            if not isinstance(b, (list, tuple)) or len(b) != 2:
                raise ConfigError(f"{origin}: betas={b!r} must be two numbers, e.g. [0.9, 0.999]")
            clean["betas"] = (float(b[0]), float(b[1]))
        if "model_opts" in clean and clean["model_opts"] is None:
            clean["model_opts"] = {}
        cfg = dataclasses.replace(self, **clean)
        cfg.validate(origin)
        return cfg

    def validate(self, origin: str = "option") -> "TrainConfig":
        """Raise ConfigError (one line) on the first bad value."""
        def bad(what: str) -> ConfigError:
            return ConfigError(f"{origin}: {what}")

        def num(key: str) -> float:
            v = getattr(self, key)
            if not finite_number(v):  # NaN and infinity alike
                raise bad(f"{key}={v!r} must be a finite number")
            return float(v)

        def whole(key: str, minimum: int) -> int:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                raise bad(f"{key}={v!r} must be a whole number >= {minimum}")
            return v

        whole("epochs", 1)
        whole("batch_size", 1)
        whole("log_every", 1)
        whole("eval_batch_size", 1)
        whole("patience", 0)
        whole("plateau_patience", 0)
        whole("seed", 0)
        if self.per_class is not None:
            whole("per_class", 1)
        if self.width is not None:
            whole("width", 1)
        if self.kernel is not None:
            whole("kernel", 1)
        if not num("lr") > 0:
            raise bad(f"lr={self.lr} must be > 0 (e.g. 1e-3)")
        for key in ("momentum", "weight_decay", "min_delta", "min_lr", "warmup_epochs", "rotate", "shift"):
            if num(key) < 0:
                raise bad(f"{key}={getattr(self, key)} must be >= 0")
        if not 0 <= num("label_smoothing") < 1:
            raise bad(f"label_smoothing={self.label_smoothing} must be in [0, 1)")
        if not 0 < num("plateau_factor") < 1:
            raise bad(f"plateau_factor={self.plateau_factor} must be in (0, 1), e.g. 0.5")
        if not 0 <= num("alpha") < 1:
            raise bad(f"alpha={self.alpha} must be in [0, 1)")
        if not num("eps") > 0:
            raise bad(f"eps={self.eps} must be > 0")
        if not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in self.betas):
            raise bad(f"betas={list(self.betas)} must both be in [0, 1)")
        if self.dropout is not None and not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise bad(f"dropout={self.dropout!r} must be in [0, 1)")
        if self.rotate > 180:
            raise bad(f"rotate={self.rotate} degrees must be at most 180")
        if self.shift >= 14:
            raise bad(f"shift={self.shift} pixels must be below 14 (half a drawing)")
        for key in ("val", "test"):
            if not 0 <= num(key) < 1:
                raise bad(f"{key}={getattr(self, key)} must be a fraction in [0, 1)")
        if self.val + self.test >= 1:
            raise bad(f"val={self.val} + test={self.test} leave no training data; their sum must be below 1")
        _choice(origin, "optimizer", self.optimizer, OPTIMIZERS)
        _choice(origin, "schedule", self.schedule, SCHEDULES)
        _choice(origin, "device", self.device, DEVICES)
        if self.pooling is not None:
            _choice(origin, "pooling", self.pooling, ("max", "avg", "none"))
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise bad("nesterov needs --optimizer sgd and --momentum > 0")
        if not isinstance(self.model_opts, dict):
            raise bad(f"model_opts={self.model_opts!r} must be a table of model options")
        if self.amp is not None and not isinstance(self.amp, bool):
            raise bad(f"amp={self.amp!r} must be true, false or unset (auto)")
        return self


def _choice(origin: str, key: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value.lower() not in choices:
        raise ConfigError(f"{origin}: {key}={value!r} must be one of {', '.join(choices)}"
                          f"{suggest(str(value), list(choices))}")


# Study 003's plain recipe, and the strong default recipe (see benchmarks/bench_accuracy.py).
PRESETS: dict[str, dict[str, Any]] = {
    "plain": {"model": "widthk", "width": 12, "optimizer": "adam", "lr": 1e-3, "batch_size": 256, "epochs": 10},
    "strong": {"model": "widthk", "width": 32, "batch_norm": True, "model_opts": {"head_dropout": 0.3},
               "optimizer": "adamw", "lr": 3e-3, "weight_decay": 5e-4, "batch_size": 256, "epochs": 12,
               "label_smoothing": 0.1, "schedule": "cosine", "warmup_epochs": 1.0,
               "rotate": 12.0, "shift": 2.0, "hflip": True},
}


def preset(name: str) -> dict[str, Any]:
    """The options of a named preset."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}{suggest(key, list(PRESETS))}; presets: {', '.join(PRESETS)}")
    return dict(PRESETS[key])


def load_toml(path: str | Path) -> dict[str, Any]:
    """Training options from a TOML file (or JSON, by a .json suffix): top-level keys, or a train table."""
    import json

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path).expanduser()
    is_json = p.suffix.lower() == ".json"
    try:
        with open(p, "rb") as f:
            doc = json.load(f) if is_json else tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} does not exist") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {str(p)!r}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise ConfigError(f"config file {str(p)!r} is not valid {'JSON' if is_json else 'TOML'}: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"config file {str(p)!r} must hold an object of training options")
    table = doc.get("train", doc)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {str(p)!r}: [train] must be a table")
    return {k.replace("-", "_"): v for k, v in table.items()}


def build_config(preset_name: str | None = None, file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then a preset, then a TOML (or JSON) file, then explicit options (None values are skipped)."""
    cfg = TrainConfig()
    if preset_name:
        cfg = cfg.replace(origin=f"preset {preset_name}", **preset(preset_name))
    if file:
        values = load_toml(file)
        if "preset" in values:
            cfg = cfg.replace(origin=f"preset {values['preset']}", **preset(str(values.pop("preset"))))
        cfg = cfg.replace(origin=str(file), **_switch_model(cfg, values))
    if overrides:
        given = {k: v for k, v in overrides.items() if v is not None}
        cfg = cfg.replace(origin="option", **_switch_model(cfg, given))
    return cfg


MODEL_FIELDS = ("width", "kernel", "pooling", "batch_norm", "dropout", "model_opts")


def _switch_model(cfg: TrainConfig, changes: dict[str, Any]) -> dict[str, Any]:
    """A new model drops the earlier layer's model options (a preset's widths belong to its model)."""
    if "model" not in changes or changes["model"] == cfg.model:
        return changes
    out = {k: (None if k != "model_opts" else {}) for k in MODEL_FIELDS}
    out.update(changes)
    return out
