"""Grad-CAM (study 001's class activation maps) for any CNN built by qdcore.models."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from qdcore.analysis.cache import cached
from qdcore.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn


def model_name(model) -> str:
    """The zoo name of a model (its arch dict) or its class name."""
    arch = getattr(model, "arch", None)
    return str(arch.get("name")) if isinstance(arch, dict) and arch.get("name") else type(model).__name__


def conv_layers(model) -> list[tuple[str, nn.Module]]:
    """(name, module) of every Conv2d in forward-definition order."""
    from torch import nn  # lazy: torch (~1.2 s) is loaded only when used

    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def last_conv(model) -> tuple[str, nn.Module]:
    """The last Conv2d; ConfigError for models without one."""
    convs = conv_layers(model)
    if not convs:
        raise ConfigError(f"model {model_name(model)} has no convolutional layers; CAM needs a CNN")
    return convs[-1]


def input_tensor(images: np.ndarray, device):
    """float (N, C, S, S) in [0, 1] of uint8 images: 28x28 bitmaps (N, 28, 28), or the channels a raster CNN reads."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    x = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    x = x if x.dim() == 4 else x.reshape(-1, 1, 28, 28)  # (N, C, S, S): a raster CNN's channels; else bitmaps
    return x.float().div_(255.0)


def grad_cam_batch(model, images: np.ndarray, targets: np.ndarray | None = None, layer: str | None = None,
                   batch_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM maps float32 (N, 28, 28) in [0, 1] and the class each explains (default: the prediction) of
    uint8 bitmaps (N, 28, 28) or of the (N, C, S, S) channels a raster CNN reads (its maps scaled to 28x28)."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used
    import torch.nn.functional as F  # lazy: torch (~1.2 s) is loaded only when used

    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if layer is None:
        _, target_layer = last_conv(model)
    else:
        mods = dict(model.named_modules())
        if layer not in mods:
            raise ConfigError(f"model {model_name(model)} has no layer {layer!r}")
        target_layer = mods[layer]
    device = next(model.parameters()).device
    n = images.shape[0]
    if targets is not None:
        targets = np.broadcast_to(np.asarray(targets, dtype=np.int64), (n,))
    cams = np.zeros((n, 28, 28), np.float32)
    chosen = np.zeros(n, np.int64)
    store: dict[str, torch.Tensor] = {}

    def fwd(_m, _inp, out):
        store["act"] = out
        # a clone downstream keeps in-place activations (ReLU(inplace=True)) from rewriting the saved map
        return out.clone()

    was_training = model.training
    model.eval()
    handle = target_layer.register_forward_hook(fwd)
    try:
        for s in range(0, n, batch_size):
            # input needs grad so the graph exists even for a frozen model
            x = input_tensor(images[s: s + batch_size], device).requires_grad_(True)
            with torch.enable_grad():
                logits = model(x)
                tgt = (torch.from_numpy(targets[s: s + batch_size].copy()).to(device) if targets is not None
                       else logits.argmax(dim=1))
                if int(tgt.min()) < 0 or int(tgt.max()) >= logits.shape[1]:
                    raise ConfigError(f"class index out of range 0..{logits.shape[1] - 1}")
                # samples do not interact in eval mode, so one gradient of the sum is every sample's own
                (grad,) = torch.autograd.grad(logits.gather(1, tgt[:, None]).sum(), store["act"])
            act = store["act"].detach()
            weights = grad.mean(dim=(2, 3), keepdim=True)
            cam = F.relu((weights * act).sum(dim=1, keepdim=True))
            cam = F.interpolate(cam, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
            peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-12)[:, None, None]
            cams[s: s + x.shape[0]] = (cam / peak).float().cpu().numpy()
            chosen[s: s + x.shape[0]] = tgt.cpu().numpy()
    finally:
        handle.remove()
        model.train(was_training)
    return cams, chosen


def grad_cam(model, image: np.ndarray, target: int | None = None, layer: str | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM map float32 (28, 28) in [0, 1] for one drawing and a class (default: the predicted one)."""
    cams, chosen = grad_cam_batch(model, np.asarray(image)[None].reshape(1, 28, 28),
                                  None if target is None else np.array([target]), layer=layer)
    return cams[0], int(chosen[0])


def _colormap(v: np.ndarray) -> np.ndarray:
    """A jet-like colour ramp (blue -> cyan -> yellow -> red) without matplotlib, uint8 (..., 3)."""
    v = np.clip(v, 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4 * v - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * v - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * v - 1), 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The drawing (dark ink on white) blended with the coloured map, RGB uint8 (28, 28, 3)."""
    ink = np.asarray(image, dtype=np.float32).reshape(28, 28) / 255.0
    base = np.repeat((1.0 - ink)[..., None], 3, axis=-1) * 255.0
    heat = _colormap(np.asarray(cam, dtype=np.float32).reshape(28, 28)).astype(np.float32)
    out = (1 - alpha) * base + alpha * heat
    # keep the strokes readable on top of the heat
    out = out * (1 - 0.6 * ink[..., None])
    return np.clip(out, 0, 255).astype(np.uint8)


def right_and_wrong(pred, per_class: int = 4, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Per class, up to per_class correctly and wrongly classified drawing indices (the study's CAM grid)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(pred.labels)
    ok = np.asarray(pred.predicted) == labels
    out = {}
    for c, name in enumerate(pred.classes):
        right = np.flatnonzero((labels == c) & ok)
        wrong = np.flatnonzero((labels == c) & ~ok)
        out[name] = {"right": np.sort(rng.permutation(right)[:per_class]),
                     "wrong": np.sort(rng.permutation(wrong)[:per_class])}
    return out


def cam_layer(run_dir, get_model) -> tuple[str, str]:
    """(last conv layer or '' for a model without one, model name) of a run, kept in its folder (qdcore.analysis.cache):
    a second look needs no model load. `get_model()` returns (model, meta)."""
    def compute() -> tuple[str, str]:
        model, _ = get_model()
        convs = conv_layers(model)
        return (convs[-1][0] if convs else ""), model_name(model)

    return cached(run_dir, "cam-layer", {}, compute, lambda r: ({}, {"layer": r[0], "model": r[1]}),
                  lambda arrays, meta: (str(meta["layer"]), str(meta["model"])))


def cams_of_run(run_dir, pred, idx: np.ndarray, target: str, get_model, lock, inputs=None) -> np.ndarray:
    """Grad-CAM maps (N, 28, 28) of the drawings `idx` of a run's predictions, explaining the 'predicted' or the
    'true' class; kept in the run's folder per drawings and target (qdcore.analysis.cache). `inputs(idx)`: what
    the model reads of those drawings (default: their bitmaps)."""
    idx = np.asarray(idx, np.int64)

    def compute() -> np.ndarray:
        if not idx.size:
            return np.zeros((0, 28, 28), np.float32)
        model, _ = get_model()
        targets = np.asarray(pred.labels)[idx] if target == "true" else None
        with lock:
            return grad_cam_batch(model, pred.images[idx] if inputs is None else inputs(idx), targets)[0]

    key = {"target": target, "drawings": hashlib.sha1(idx.tobytes()).hexdigest()}
    return cached(run_dir, "cam", key, compute, lambda cams: ({"cams": cams}, {}), lambda arrays, meta: arrays["cams"])
