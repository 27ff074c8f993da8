"""TrainConfig: every option of a classifier training run, declared once (help, panel, flag, bounds), presets, files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.models import list_models
from qdcore.models.init import init_option
from qdcore.options import RunConfig, load_file, option
from qdcore.runs.kinds import build_config as build

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("constant", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
POOLINGS = ("max", "avg", "none")
_MODEL, _OPT, _CB, _AUG, _RUN = "Model", "Optimisation", "Callbacks", "Augmentation", "Runtime"


def classifier_names() -> tuple[str, ...]:
    """The zoo's trainable classifiers."""
    return tuple(m.name for m in list_models("classifier"))


@dataclass
class TrainConfig(RunConfig):
    """One classifier training run: model, data selection, optimisation, callbacks, augmentation, runtime."""

    # model (None = the zoo's default for that model; the run stores the value used)
    model: str = option("widthk", help="Model name from 'qd models list'.", panel=_MODEL, short="-m",
                        choices=classifier_names, form="Model", metavar="NAME")
    width: int | None = option(None, help="Width k (channels of the first conv block).", panel=_MODEL, short="-k",
                               min=1, max=1024, form="Width")
    kernel: int | None = option(None, help="Conv kernel size.", panel=_MODEL, min=1, max=13)
    pooling: str | None = option(None, help="Pooling after each block: max, avg or none.", panel=_MODEL,
                                 choices=POOLINGS)
    batch_norm: bool | None = option(None, help="Batch normalisation.", panel=_MODEL)
    dropout: float | None = option(None, help="Dropout rate after each conv block.", panel=_MODEL, min=0, max=1,
                                   max_open=True)
    init: str | None = init_option(_MODEL)
    model_opts: dict[str, Any] = option(factory=dict, help="Other model option KEY=VALUE (repeatable), e.g. "
                                        "depth=3, head_dropout=0.3.", panel=_MODEL, flag="--opt", metavar="KEY=VALUE")
    # study 001: a GAN run's samples replace (or are added to) this share of each class's training drawings
    synthetic: int | None = option(None, help="GAN run whose samples replace (or add to) a share of each class's "
                                   "training drawings (study 001); val and test stay real.", panel="Data", min=1,
                                   max=2**62, metavar="GAN_RUN")
    synthetic_fraction: float = option(0.3, help="Share of each class's training drawings given to --synthetic.",
                                       panel="Data", min=0, max=1, min_open=True)
    synthetic_mode: str = option("replace", help="replace real drawings or add to them.", panel="Data",
                                 choices=("replace", "add"))
    # double descent (Nakkiran et al. 2019): a share of training labels moved to a random other class, by seed
    label_noise: float = option(0.0, help="Share of training labels moved to a random other class (chosen by the "
                                "seed; validation and test keep true labels), as in the double-descent literature.",
                                panel="Data", min=0, max=1, max_open=True, form="Label noise", metavar="FRACTION")
    # optimisation
    epochs: int = option(10, help="Epochs.", panel=_OPT, short="-e", min=1, max=100_000, form="Epochs")
    batch_size: int | None = option(256, help="Batch size; auto: on CUDA the largest power of two (up to 8192) "
                                    "whose training step fits the GPU, --lr then counts for batch 256 and is "
                                    "scaled (linear for sgd, square root for adam/adamw/rmsprop); elsewhere 256. "
                                    "The run stores the batch and lr used.", panel=_OPT, short="-b", min=1,
                                    max=65_536, form="Batch", metavar="INT|auto")
    optimizer: str = option("adam", help="Optimizer.", panel=_OPT, choices=OPTIMIZERS, form="Optimizer")
    lr: float = option(1e-3, help="Learning rate.", panel=_OPT, min=0, max=100, min_open=True, form="LR")
    betas: tuple[float, float] = option((0.9, 0.999), help="Adam betas, e.g. 0.9,0.999.", panel=_OPT, min=0, max=1,
                                        max_open=True, metavar="B1,B2")
    momentum: float = option(0.0, help="SGD/RMSprop momentum.", panel=_OPT, min=0, max=1, max_open=True)
    nesterov: bool = option(False, help="Nesterov momentum (SGD).", panel=_OPT)
    alpha: float = option(0.99, help="RMSprop smoothing constant.", panel=_OPT, min=0, max=1, max_open=True)
    eps: float = option(1e-8, help="Optimizer epsilon.", panel=_OPT, min=0, max=1, min_open=True)
    weight_decay: float = option(0.0, help="L2 penalty (decoupled for adamw).", panel=_OPT, aliases=("--l2",),
                                 min=0, max=10)
    label_smoothing: float = option(0.0, help="Label smoothing.", panel=_OPT, min=0, max=1, max_open=True)
    schedule: str = option("constant", help="Learning-rate schedule.", panel=_OPT, choices=SCHEDULES)
    warmup_epochs: float = option(0.0, help="Linear warmup, in epochs.", panel=_OPT, flag="--warmup", min=0,
                                  max=100_000)
    # callbacks (monitor: validation loss)
    patience: int = option(0, help="Early stopping: epochs without val-loss improvement (0 = off).", panel=_CB,
                           min=0, max=100_000)
    min_delta: float = option(0.0, help="Smallest val-loss drop that counts as improvement.", panel=_CB, min=0,
                              max=1e6)
    plateau_patience: int = option(0, help="Reduce the lr after this many epochs without improvement (0 = off).",
                                   panel=_CB, min=0, max=100_000)
    plateau_factor: float = option(0.5, help="Factor the lr is multiplied by on a plateau.", panel=_CB, min=0,
                                   max=1, min_open=True, max_open=True)
    min_lr: float = option(1e-6, help="Lowest lr the plateau rule goes to.", panel=_CB, min=0, max=100)
    # augmentation, on the device
    hflip: bool = option(False, help="Random horizontal flips.", panel=_AUG, form="H-flip")
    vflip: bool = option(False, help="Random vertical flips.", panel=_AUG)
    rotate: float = option(0.0, help="Random rotation range in degrees.", panel=_AUG, min=0, max=180,
                           form="Rotate")
    shift: float = option(0.0, help="Random shift range in pixels.", panel=_AUG, min=0, max=14, max_open=True,
                          form="Shift")
    # runtime
    amp: bool | None = option(None, help="Mixed precision (default: auto: CUDA, CPUs with bf16).", panel=_RUN)
    compile: bool = option(False, help="torch.compile the model.", panel=_RUN)
    cuda_graphs: bool = option(False, help="Compile with CUDA graphs (torch.compile mode reduce-overhead): each "
                               "step's kernels replayed as one graph, for small models whose steps are launch-bound "
                               "(implies --compile; without CUDA it compiles without graphs).", panel=_RUN)
    device: str = option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda or mps.", panel=_RUN,
                         choices=DEVICES, form="Device")
    log_every: int = option(50, help="Steps between progress updates (host syncs).", panel=_RUN, min=1,
                            max=1_000_000)
    deterministic: bool = option(False, help="Deterministic kernels (slower on GPU).", panel=_RUN)
    eval_batch_size: int = option(1024, help="Batch size of evaluation.", panel=_RUN, min=1, max=65_536)
    device_memory: float | None = option(None, help="GB the drawings may take on the device (default: half the "
                                         "free GPU memory); a larger selection streams from host memory.",
                                         panel=_RUN, min=0, max=1e6, min_open=True, metavar="GB")

    def model_options(self) -> dict[str, Any]:
        """Options for build_model: the explicit fields that are set, then model_opts."""
        opts = {"width": self.width, "kernel": self.kernel, "pool": self.pooling,
                "batch_norm": self.batch_norm, "dropout": self.dropout, "init": self.init}
        out = {k: v for k, v in opts.items() if v is not None}
        out.update(self.model_opts or {})
        return out

    def validate(self, origin: str = "option") -> TrainConfig:
        """Checks across fields (each value was checked against its declaration)."""
        super().validate(origin)
        if self.nesterov and (self.optimizer != "sgd" or self.momentum <= 0):
            raise ConfigError(f"{origin}: nesterov needs --optimizer sgd and --momentum > 0")
        return self


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
    return load_file(path)


def build_config(preset_name: str | None = None, file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> Any:
    """Defaults, then a preset, then a TOML (or JSON) file, then explicit options (None values are skipped).

    The kind of run follows the model (or a `kind` key); a classifier's config is a TrainConfig.
    """
    return build(preset_name, file, overrides)
