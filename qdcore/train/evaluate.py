"""Evaluating a classifier: loss / top-1 / top-5 on a resident set, probabilities, Predictions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.errors import DataError
from qdcore.predictions import Predictions
from qdcore.train.device import Runtime
from qdcore.train.gpudata import DeviceData


@dataclass
class EvalResult:
    """Mean loss, top-1 and top-5 on a split; probs (N, C) float32 when asked for."""

    loss: float
    top1: float
    top5: float
    n: int
    probs: np.ndarray | None = None


def evaluate(model: torch.nn.Module, data: DeviceData, rt: Runtime, batch_size: int = 1024,
             keep_probs: bool = False) -> EvalResult:
    """One pass in inference mode; sums stay on the device and sync once at the end."""
    n = len(data)
    if n == 0:
        return EvalResult(float("nan"), float("nan"), float("nan"), 0,
                          np.zeros((0, 0), np.float32) if keep_probs else None)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=rt.device)
    hit1 = torch.zeros((), device=rt.device, dtype=torch.int64)
    hit5 = torch.zeros((), device=rt.device, dtype=torch.int64)
    chunks = []
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                x, y = data.scaled(start, min(n, start + batch_size))
                with rt.autocast():
                    logits = model(x)
                logits = logits.float()
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                k = min(5, logits.shape[1])
                top = logits.topk(k, dim=1).indices
                hit1 += (top[:, 0] == y).sum()
                hit5 += (top == y[:, None]).any(dim=1).sum()
                if keep_probs:
                    chunks.append(logits.softmax(dim=1).cpu())
    finally:
        model.train(was_training)
    probs = torch.cat(chunks).numpy().astype(np.float32) if keep_probs else None
    return EvalResult(loss_sum.item() / n, hit1.item() / n, hit5.item() / n, n, probs)


def predict_probs(model: torch.nn.Module, images: np.ndarray, rt: Runtime, batch_size: int = 1024) -> np.ndarray:
    """Softmax probabilities float32 (N, C) for uint8 drawings (N, 28, 28) or (N, 784)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DataError(f"drawings must be uint8 0..255, got {images.dtype}")
    data = DeviceData(images.reshape(-1, 28, 28), np.zeros(images.shape[0], np.int64), rt.device,
                      channels_last=rt.device.type != "mps")
    return evaluate(model, data, rt, batch_size, keep_probs=True).probs


def labels_for(ds, model_classes: list[str], where: str = "the data") -> np.ndarray:
    """The set's labels as indices into the model's classes; DataError when a class is unknown to the model."""
    index = {c: i for i, c in enumerate(model_classes)}
    unknown = [c for c in ds.classes if c not in index]
    if unknown:
        shown = ", ".join(repr(c) for c in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise DataError(f"{where} has classes the model was not trained on ({shown}); "
                        f"the model knows {len(model_classes)} classes: choose --categories among them")
    lut = np.array([index[c] for c in ds.classes], dtype=np.int64)
    return lut[ds.labels]


def predictions_for(model: torch.nn.Module, ds, model_classes: list[str], rt: Runtime,
                    batch_size: int = 1024) -> Predictions:
    """Predictions (probabilities, truth, drawings, provenance) of a model on a DrawingSet."""
    labels = labels_for(ds, model_classes)
    probs = predict_probs(model, ds.images, rt, batch_size)
    return Predictions(probs, labels, list(model_classes), np.asarray(ds.images, np.uint8).reshape(-1, 28, 28),
                       [ds.provenance(i) for i in range(len(ds))])
