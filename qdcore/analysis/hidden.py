"""Hidden layers (study 004): the feature maps after each conv and pool layer for one drawing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qdcore.analysis.cam import input_tensor, model_name
from qdcore.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


def spatial_layers(model, kinds: tuple[str, ...] = ("conv", "pool")) -> list[tuple[str, nn.Module]]:
    """(name, module) of the conv/pool (or, with kinds "all", every leaf) layers in definition order."""
    from torch import nn  # lazy: torch (~1.2 s) is loaded only when used

    conv = (nn.Conv2d,)
    pool = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d)
    out = []
    for name, m in model.named_modules():
        if list(m.children()):
            continue
        if ("conv" in kinds and isinstance(m, conv)) or ("pool" in kinds and isinstance(m, pool)) or "all" in kinds:
            out.append((name, m))
    return out


def feature_maps(model, image: np.ndarray, kinds: tuple[str, ...] = ("conv", "pool")) -> list[tuple[str, np.ndarray]]:
    """[(layer name, float32 (C, H, W))] after each conv/pool layer, in the order the forward pass runs them."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    if not any(isinstance(m, torch.nn.Conv2d) for m in model.modules()):
        raise ConfigError(f"model {model_name(model)} has no convolutional layers; hidden-layer maps need a CNN")
    layers = spatial_layers(model, kinds)
    captured: list[tuple[str, np.ndarray]] = []
    handles = []
    for name, m in layers:
        label = f"{name} ({type(m).__name__})"

        def hook(_m, _inp, out, label=label):
            # copy now: a following in-place ReLU would otherwise rewrite the conv output we keep
            if isinstance(out, torch.Tensor) and out.dim() == 4:
                captured.append((label, out[0].detach().float().cpu().numpy().copy()))

        handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        dev = next(model.parameters()).device
        x = input_tensor(np.asarray(image)[None], dev)  # a 28x28 bitmap, or the (C, S, S) channels of a raster CNN
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return captured


def tile(maps: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Feature maps (C, H, W) as one grid image float32 in [0, 1], each map scaled to its own range."""
    c, h, w = maps.shape
    cols = cols or int(np.ceil(np.sqrt(c)))
    rows = int(np.ceil(c / cols))
    grid = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad), np.float32)
    for i in range(c):
        m = maps[i]
        lo, hi = float(m.min()), float(m.max())
        m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        r, q = divmod(i, cols)
        grid[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = m
    return grid
