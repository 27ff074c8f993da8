"""Weight initialisation: Keras's (the seed studies' models) or PyTorch's own defaults."""

from __future__ import annotations

import math
from typing import Any

from qdcore.errors import ConfigError, suggest
from qdcore.options import option

INITS = ("keras", "torch")


def init_option(panel: str = "Model") -> Any:
    """The --init option of every neural kind: Keras's weight init (the seed studies') or PyTorch's."""
    return option(None, help="Weight init: keras (glorot-uniform kernels, zero biases, as the seed studies' Keras "
                  "models) or torch (PyTorch's defaults). Default: the model's study's (keras for the zoo).",
                  panel=panel, choices=INITS, form="Init")


def check_init(value: Any) -> str:
    """'keras' or 'torch' (case-insensitive), or ConfigError naming the choices."""
    if not isinstance(value, str) or value.strip().lower() not in INITS:
        raise ConfigError(f"option init={value!r} must be one of {', '.join(INITS)}{suggest(str(value), list(INITS))}")
    return value.strip().lower()


def apply_init(model: Any, init: str) -> Any:
    """Re-initialise `model` in place as Keras would (glorot-uniform kernels, zero biases, embeddings
    uniform in +-0.05); 'torch' keeps PyTorch's defaults (kaiming-uniform with a=sqrt(5), uniform biases)."""
    if check_init(init) == "torch":
        return model
    import torch  # lazy: torch (~1.2 s) is loaded only when used
    from torch import nn  # lazy: torch (~1.2 s) is loaded only when used

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Embedding):
                nn.init.uniform_(m.weight, -0.05, 0.05)  # Keras Embedding's default initializer
                continue
            w = getattr(m, "weight", None)
            if not isinstance(w, nn.Parameter) or w.ndim < 2 or isinstance(m, nn.modules.batchnorm._NormBase):
                continue
            # Glorot per pair of a grouped layer (groups / m.k): fans of one group's kernel, as Keras counts them.
            groups: int = getattr(m, "groups", 0) or getattr(m, "k", 1)
            receptive = math.prod(w.shape[2:]) if w.ndim > 2 else 1
            fans = (w.shape[0] / groups + w.shape[1]) * receptive
            bound = math.sqrt(6.0 / fans)
            nn.init.uniform_(w, -bound, bound)
            b = getattr(m, "bias", None)
            if isinstance(b, nn.Parameter):
                nn.init.zeros_(b)
    return model
