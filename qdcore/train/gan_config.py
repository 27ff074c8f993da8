"""GanConfig: every option of a GAN run (studies 001 and 003), declared once with its help, panel and bounds."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError

GAN_MODELS = ("dcgan", "acgan")
_DATA, _MODEL, _OPT, _SAMPLES, _RUN = "Data", "Model", "Optimisation", "Samples and quality", "Runtime"


def opt(default: Any, help: str, panel: str, *, flag: str | None = None, lo: float | None = None,
        hi: float | None = None, choices: tuple[str, ...] | None = None, lo_open: bool = False) -> Any:
    """A dataclass field with its CLI/TUI metadata (help, panel, flag, bounds, choices)."""
    meta = {"help": help, "panel": panel, "flag": flag, "lo": lo, "hi": hi, "choices": choices, "lo_open": lo_open}
    if isinstance(default, (list, dict, tuple)) and not isinstance(default, tuple):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class GanConfig:
    """One GAN run: data selection, model, optimisation (TTUR, betas, smoothing, D steps), samples, runtime."""

    name: str = opt("", "Run name shown in 'qd runs list'.", _RUN)
    # data selection (shared with classifier runs)
    data: str = opt("demo", "Drawings: demo, cache or a PATH.", _DATA)
    categories: str | None = opt(None, "Comma-separated categories or a named set.", _DATA)
    per_class: int | None = opt(None, "Drawings per category, sampled by --seed.", _DATA, lo=1)
    seed: int = opt(0, "Random seed for sampling, splits, noise and training.", _DATA, lo=0)
    imbalance: str | None = opt(None, "Class size ratios relative to --per-class.", _DATA)
    val: float = opt(0.0, "Validation fraction (GANs do not use one; default 0).", _DATA, lo=0, hi=1)
    test: float = opt(0.1, "Test fraction: real drawings the quality metrics compare with.", _DATA, lo=0, hi=1)
    # model
    model: str = opt("dcgan", "dcgan (study 003) or acgan (study 001: label embedding x noise, class head).",
                     _MODEL, choices=GAN_MODELS)
    per_class_gans: bool = opt(False, "Study 003's one generator/discriminator pair per category, trained together.",
                               _MODEL, flag="--per-class-gans")
    latent_dim: int = opt(100, "Size of the generator's noise vector.", _MODEL, lo=1)
    g_width: int = opt(64, "Generator width w (dense 7x7x4w, convT 2w, w, 1).", _MODEL, lo=1)
    d_width: int = opt(64, "Discriminator width w (conv w, 2w).", _MODEL, lo=1)
    kernel: int = opt(5, "Kernel size of G's and D's convs (odd).", _MODEL, lo=1)
    d_dropout: float = opt(0.3, "Dropout after each discriminator conv.", _MODEL, lo=0, hi=1)
    batch_norm: bool = opt(True, "Batch norm in the generator.", _MODEL)
    # optimisation
    epochs: int = opt(10, "Epochs (passes of D over the training drawings).", _OPT, lo=1)
    batch_size: int = opt(128, "Real drawings per discriminator step.", _OPT, lo=2)
    lr_g: float = opt(2e-4, "Generator learning rate (TTUR: may differ from D's).", _OPT, lo=0, lo_open=True)
    lr_d: float = opt(2e-4, "Discriminator learning rate.", _OPT, lo=0, lo_open=True)
    beta1: float = opt(0.5, "Adam beta1 (DCGAN: 0.5).", _OPT, lo=0, hi=1)
    beta2: float = opt(0.999, "Adam beta2.", _OPT, lo=0, hi=1)
    label_smoothing: float = opt(0.0, "One-sided: D's target for real drawings is 1 - this.", _OPT, lo=0, hi=1)
    d_steps: int = opt(1, "Discriminator steps per generator step.", _OPT, lo=1)
    # samples and quality
    sample_every: int = opt(0, "Also render the fixed-noise grid every N steps (0: at epoch ends only).",
                            _SAMPLES, lo=0)
    grid_cols: int = opt(8, "Samples per class row in the grid.", _SAMPLES, lo=1)
    judge: int | None = opt(None, "Classifier run that judges samples (default: the best one covering the classes).",
                            _SAMPLES, lo=1)
    no_judge: bool = opt(False, "Record losses only, no judged quality.", _SAMPLES, flag="--no-judge")
    quality_n: int = opt(256, "Generated drawings per class judged each epoch.", _SAMPLES, lo=2)
    collapse_threshold: float = opt(0.5, "Mode-collapse alarm when sample diversity falls below this share of "
                                         "real diversity.", _SAMPLES, lo=0, hi=1)
    keep_generators: bool = opt(True, "Keep each epoch's generator weights (for 'qd gan sample --epoch').", _SAMPLES)
    # runtime
    device: str = opt("auto", "auto (cuda, then mps, then cpu), cpu, cuda or mps.", _RUN,
                      choices=("auto", "cpu", "cuda", "mps"))
    amp: bool | None = opt(None, "Mixed precision (default: auto: CUDA, CPUs with native bf16).", _RUN)
    log_every: int = opt(25, "Steps between progress updates (host syncs).", _RUN, lo=1)

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored with the run)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "config") -> "GanConfig":
        """Build from a dict (stored config, TOML table); unknown keys are an error."""
        return cls().replace(origin=origin, **d)

    def replace(self, origin: str = "option", **changes: Any) -> "GanConfig":
        """A checked copy with some fields changed (dashes in names allowed)."""
        names = {f.name for f in dataclasses.fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            k = key.replace("-", "_")
            if k not in names:
                raise ConfigError(f"{origin}: unknown GAN option {key!r}{suggest(k, sorted(names))}; "
                                  "see 'qd gan train --help'")
            clean[k] = value
        cfg = dataclasses.replace(self, **clean)
        cfg.validate(origin)
        return cfg

    def validate(self, origin: str = "option") -> "GanConfig":
        """Raise ConfigError (one line) on the first bad value, from each field's declared bounds."""
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            m = f.metadata
            if v is None:
                continue
            if m.get("choices"):
                if not isinstance(v, str) or v.lower() not in m["choices"]:
                    raise ConfigError(f"{origin}: {f.name}={v!r} must be one of {', '.join(m['choices'])}"
                                      f"{suggest(str(v), list(m['choices']))}")
                continue
            if isinstance(f.default, bool) or f.type in ("bool", "bool | None"):
                if not isinstance(v, bool):
                    raise ConfigError(f"{origin}: {f.name}={v!r} must be true or false")
                continue
            if m.get("lo") is None and m.get("hi") is None:
                continue
            whole = f.type in ("int", "int | None")
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (whole and not isinstance(v, int)) \
                    or (isinstance(v, float) and math.isnan(v)):
                raise ConfigError(f"{origin}: {f.name}={v!r} must be a {'whole ' if whole else ''}number")
            lo, hi = m.get("lo"), m.get("hi")
            if lo is not None and (v < lo or (m.get("lo_open") and v <= lo)):
                raise ConfigError(f"{origin}: {f.name}={v} must be {'>' if m.get('lo_open') else '>='} {lo}")
            if hi is not None and v >= hi:
                raise ConfigError(f"{origin}: {f.name}={v} must be below {hi}")
        if self.val + self.test >= 1:
            raise ConfigError(f"{origin}: val={self.val} + test={self.test} leave no training data")
        if self.kernel % 2 == 0:
            raise ConfigError(f"{origin}: kernel={self.kernel} must be odd for the GAN's 'same' (transposed) convs")
        if self.per_class_gans and self.model == "acgan":
            raise ConfigError(f"{origin}: --per-class-gans trains one unconditional DCGAN per category; "
                              "use it with --model dcgan (an AC-GAN already covers every class in one pair)")
        return self

    def model_options(self) -> dict[str, Any]:
        """Options for build_gan."""
        return {"g_width": self.g_width, "d_width": self.d_width, "kernel": self.kernel,
                "dropout": self.d_dropout, "batch_norm": self.batch_norm}


def gan_fields() -> list[dataclasses.Field]:
    """The declared options, in order (CLI flags and form rows are generated from these)."""
    return list(dataclasses.fields(GanConfig))
