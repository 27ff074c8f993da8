"""The model zoo by name: build, list, count and tabulate models. Torch is imported only when building."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.models import options as op
from qdcore.models.classical import CLASSICAL
from qdcore.models.classical import build_classical as build
from qdcore.models.init import apply_init, check_init

if TYPE_CHECKING:
    from torch import nn

    from qdcore.models.gan import Discriminator, Generator

# Study 003's recipe; a stored run's arch without a later option rebuilds with that option's value here.
GAN_DEFAULTS = {"latent_dim": 100, "g_width": 64, "d_width": 64, "kernel": 5, "dropout": 0.3, "batch_norm": True,
                "upsample": "transposed", "spectral_norm": False, "out_shift": 0.0, "out_scale": 1.0, "patch": False}


@dataclass
class ModelInfo:
    """One zoo entry: `options` are the defaults build_model/build_gan/build_classical accept."""

    name: str
    summary: str
    source_study: str
    options: dict[str, Any] = field(default_factory=dict)
    kind: str = "classifier"  # classifier | gan | classical
    parts: tuple[str, ...] = ("model",)  # the networks build_parts gives (none for a classical estimator)
    builder: str = ""  # "module:function", imported lazily
    init: str = "keras"  # the weight init of the study's model: every seed study built Keras/TensorFlow models

    def option_docs(self) -> list[tuple[str, Any, str]]:
        """(option, default, help) for each option."""
        return [(k, v, op.OPTION_DOCS.get(k, "size of the generator's noise vector" if k == "latent_dim" else ""))
                for k, v in self.options.items()]


_M = "qdcore.models."
_GAN_PARTS = ("generator", "discriminator")
_ZOO: list[ModelInfo] = [
    ModelInfo("fc", "fully connected 784-25-12-n, ReLU", "000 Fig. 5",
              {"hidden": [25, 12], "batch_norm": False, "dropout": 0.0}, builder=_M + "fc:build_fc"),
    ModelInfo("cnn1-000", "CNN Model 1: conv 3x3x4, conv 2x2x8 (valid), dense 64", "000 Fig. 6",
              op.cnn_defaults(width=4, depth=2, kernel=[3, 2], pool="none", dense=[64]),
              builder=_M + "cnn:build_doubling"),
    ModelInfo("cnn2-000", "CNN Model 2: Model 1 with 2x2 max pool after each conv", "000 Fig. 7",
              op.cnn_defaults(width=4, depth=2, kernel=[3, 2], pool="max", dense=[64]),
              builder=_M + "cnn:build_doubling"),
    ModelInfo("cnn-001-baseline", "conv 3x3 32-64-128 (valid) + 2x2 max pool, dense 512", "001 Fig. 4-1",
              op.cnn_defaults(), builder=_M + "cnn:build_doubling"),
    # 'same' convs: with 'valid' ones the third 5x5 conv would see a 1x1 map (28 -> 24 -> 8 -> 4 -> 1).
    ModelInfo("cnn-001-best", "conv 5x5 32-64-128 (same) + 3x3 avg pool + dropout 0.2, dense 512", "001 sec. 5",
              op.cnn_defaults(kernel=5, padding="same", pool="avg", pool_size=3, dropout=0.2),
              builder=_M + "cnn:build_doubling"),
    ModelInfo("widthk", "width-k CNN: conv 3x3 k, 2k, 4k, 8k (same) + 2x2 max pool, dense 8k", "003 appendix",
              op.cnn_defaults(width=12, depth=4, padding="same", dense=None), builder=_M + "widthk:build_widthk"),
    ModelInfo("alexnet1", "AlexNet-like Model 1: conv 32-64-128-128 + max pool, dropout, dense 512", "002 results",
              op.cnn_defaults(width=32, depth=4, padding="same", head_dropout=0.5, dense=[512]),
              builder=_M + "alexnet:build_alexnet1"),
    ModelInfo("alexnet2", "AlexNet-like Model 2: double convs, BN + dropout, dense 512, 1024", "002 results",
              op.cnn_defaults(width=32, depth=4, convs=2, padding="same", batch_norm=True, dropout=0.5,
                              head_dropout=0.75, dense=[512, 1024]),
              builder=_M + "alexnet:build_alexnet2"),
    ModelInfo("dcgan", "DCGAN: G dense 7x7x256, convT 128, 64, 1, tanh; D conv 64, 128, dropout 0.3", "003 appendix",
              dict(GAN_DEFAULTS), kind="gan", parts=_GAN_PARTS, builder=_M + "gan:build_pair"),
    ModelInfo("acgan", "AC-GAN: G noise x label embedding; D heads real/fake + class", "001 GAN",
              dict(GAN_DEFAULTS), kind="gan", parts=_GAN_PARTS, builder=_M + "gan:build_pair"),
    ModelInfo("logreg", "logistic regression on raw pixels (scikit-learn)", "003 / 000",
              dict(CLASSICAL["logreg"]), kind="classical", parts=(), builder=_M + "classical:build_classical"),
    ModelInfo("lightgbm", "gradient-boosted trees on raw pixels (LightGBM)", "003",
              dict(CLASSICAL["lightgbm"]), kind="classical", parts=(), builder=_M + "classical:build_classical"),
]
_BY_NAME = {m.name: m for m in _ZOO}


def list_models(kind: str | None = None) -> list[ModelInfo]:
    """Every zoo entry (or those of one kind), in table order."""
    return [m for m in _ZOO if kind is None or m.kind == kind]


def model_info(name: str) -> ModelInfo:
    """The entry for `name`, or ConfigError with a did-you-mean."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in _BY_NAME:
        raise ConfigError(f"unknown model {name!r}{suggest(key, list(_BY_NAME))}; see 'qd models list'")
    return _BY_NAME[key]


def _builder(info: ModelInfo):
    module, func = info.builder.split(":")
    return getattr(importlib.import_module(module), func)


def _classes(num_classes: Any, minimum: int) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < minimum:
        raise ConfigError(f"num_classes={num_classes!r} must be a whole number >= {minimum}")
    return num_classes


def build_model(name: str, num_classes: int, **opts: Any) -> nn.Module:
    """A fresh classifier; `model.arch` rebuilds it: build_model(**model.arch). None means an option's default."""
    info = model_info(name)
    if info.kind == "gan":
        raise ConfigError(f"{info.name!r} is a GAN, not a classifier; build it with build_gan (or 'qd gan')")
    if info.kind == "classical":
        raise ConfigError(f"{info.name!r} is a classical model (LightGBM / scikit-learn); build it with build_classical or train it with qd train")
    n = _classes(num_classes, 2)
    init = _init(info, opts)
    resolved = op.resolve(info.name, info.options, opts)
    given = {op.ALIASES.get(k, k) for k, v in opts.items() if v is not None}
    model, final = _builder(info)(info.name, n, resolved, given)
    apply_init(model, init)
    model.arch = {"name": info.name, "num_classes": n, **final, "init": init}
    return model


def _init(info: ModelInfo, opts: dict[str, Any]) -> str:
    """The `init` option taken out of `opts` (None or absent: the model's own, as in a run stored before it)."""
    value = opts.pop("init", None)
    return info.init if value is None else check_init(value)


def build_gan(name: str, num_classes: int, latent_dim: int = 100, **opts: Any) -> tuple[Generator, Discriminator]:
    """(generator, discriminator); both carry `arch` so build_gan(**G.arch) rebuilds the pair."""
    info = model_info(name)
    if info.kind != "gan":
        raise ConfigError(f"{info.name!r} is not a GAN; choose from "
                          f"{', '.join(m.name for m in list_models('gan'))}")
    n = _classes(num_classes, 1)
    latent = op.pos_int("latent_dim", op.coerce("latent_dim", latent_dim, 100))
    init = _init(info, opts)
    resolved = op.resolve(info.name, {k: v for k, v in info.options.items() if k != "latent_dim"}, opts)
    g, d, final = _builder(info)(info.name, n, latent, resolved)
    apply_init(g, init), apply_init(d, init)
    arch = {"name": info.name, "num_classes": n, "latent_dim": latent, **final, "init": init}
    g.arch, d.arch = dict(arch), dict(arch)
    return g, d


def build_classical(name: str, **opts: Any):
    """A LightGBM or scikit-learn estimator for a classical baseline (see qdcore.models.classical)."""
    return build(model_info(name).name, **opts)


def build_parts(name: str, num_classes: int, **opts: Any) -> tuple[list[tuple[str, nn.Module]], dict[str, Any], Any]:
    """Any zoo model built: its networks [(part, module)] named as `ModelInfo.parts`, its arch, and (classical
    models, which have no networks) the estimator, else None."""
    info = model_info(name)
    if not info.parts:
        est = build_classical(info.name, **opts)
        return [], est.arch, est
    if info.parts == _GAN_PARTS:
        nets: tuple[nn.Module, ...] = build_gan(info.name, num_classes, **opts)
    else:
        nets = (build_model(info.name, num_classes, **opts),)
    return list(zip(info.parts, nets)), cast(dict[str, Any], nets[0].arch), None


def count_params(model: nn.Module) -> int:
    """Number of parameters (Keras' 'Total params' minus BN running statistics, which are buffers here)."""
    return sum(p.numel() for p in model.parameters())


_ACTIVATIONS = ("ReLU", "LeakyReLU", "Tanh", "Ink", "Sigmoid", "ELU", "GELU", "SiLU", "Identity")


def layer_table(model: nn.Module, input_shape: tuple[int, ...] = (1, 1, 28, 28), inputs: tuple | None = None,
                activations: bool = False) -> list[tuple[str, tuple[int, ...], int]]:
    """(layer name, per-sample output shape, params) for each leaf module in call order, like Keras' summary.

    Activations are left out unless asked for (Keras folds them into the layer). GAN parts supply their own
    example inputs; otherwise a zero tensor of `input_shape` is used.
    """
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    example = getattr(model, "example_inputs", None)  # GAN parts' own inputs
    if inputs is None:
        inputs = example(input_shape[0]) if example is not None else (torch.zeros(input_shape),)
    rows: list[tuple[str, tuple[int, ...], int]] = []
    hooks = []
    for name, module in model.named_modules():
        if any(True for _ in module.children()):
            continue
        if not activations and type(module).__name__ in _ACTIVATIONS:
            continue

        def hook(mod, args, out, name=name):
            shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else ()
            rows.append((name, shape, sum(p.numel() for p in mod.parameters())))

        hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    model.eval()  # BN needs eval mode for a batch of one
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows
