"""Evaluating a classifier: loss / top-1 / top-5 on a resident set, probabilities, Predictions, a stored run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.artifacts import PREDICTIONS_FILE
from qdcore.data.drawings import Drawings
from qdcore.data.drawingset import select
from qdcore.data.opener import open_source
from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError, DataError
from qdcore.predictions import Predictions, Totals, kept_rows
from qdcore.runs.kinds import JUDGE, can, require
from qdcore.stats import confusion_matrix, topk_hits
from qdcore.train import distributed as dist
from qdcore.train.checkpoint import load_model
from qdcore.train.config import TrainConfig
from qdcore.train.device import Runtime, resolve
from qdcore.train.gpudata import DeviceData

if TYPE_CHECKING:
    from qdcore.store import Store


@dataclass
class EvalResult:
    """Mean loss, top-1 and top-5 on a split; probs (N, C) float32 when asked for; the confusion counts."""

    loss: float
    top1: float
    top5: float
    n: int
    probs: np.ndarray | None = None
    confusion: np.ndarray | None = None  # int64 (C, C), rows the true class

    def totals(self) -> Totals:
        """The counts a predictions file keeps over the whole split."""
        if self.confusion is None:
            raise ValueError("an evaluation of no drawings has no totals")
        return Totals(self.confusion, round(self.top5 * self.n))


def evaluate(model: torch.nn.Module, data: DeviceData, rt: Runtime, batch_size: int = 1024,
             keep_probs: bool = False, shard: bool = False) -> EvalResult:
    """One pass in inference mode; sums stay on the device and sync once at the end.

    With `shard` under DistributedDataParallel each rank evaluates every world-th drawing and the
    sums (and probabilities, in the original order) are combined, so every rank gets the whole result.
    """
    if shard and rt.world_size > 1:
        return _evaluate_sharded(model, data, rt, batch_size, keep_probs)
    n = len(data)
    if n == 0:
        return EvalResult(float("nan"), float("nan"), float("nan"), 0,
                          np.zeros((0, 0), np.float32) if keep_probs else None)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=rt.device)
    hit5 = torch.zeros((), device=rt.device, dtype=torch.int64)
    cm = None
    chunks = []
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                x, y = data.scaled(start, min(n, start + batch_size))
                with rt.autocast():
                    logits = model(x)
                logits = logits.float()
                loss_sum += F.cross_entropy(logits, y, reduction="sum")
                c = logits.shape[1]
                top = logits.topk(min(5, c), dim=1).indices
                # argmax, not top[:, 0]: on tied (bf16) logits it picks the first class, as predictions.npz does.
                cells = torch.bincount(y * c + logits.argmax(dim=1), minlength=c * c)
                cm = cells if cm is None else cm + cells
                hit5 += (top == y[:, None]).any(dim=1).sum()
                if keep_probs:
                    chunks.append(logits.softmax(dim=1).cpu())
    finally:
        model.train(was_training)
    probs = torch.cat(chunks).numpy().astype(np.float32) if keep_probs else None
    assert cm is not None  # n > 0 drawings were counted (n == 0 returned above)
    confusion = cm.reshape(c, c).cpu().numpy().astype(np.int64)
    return EvalResult(loss_sum.item() / n, int(np.trace(confusion)) / n, hit5.item() / n, n, probs, confusion)


def _evaluate_sharded(model: torch.nn.Module, data: DeviceData, rt: Runtime, batch_size: int,
                      keep_probs: bool) -> EvalResult:
    n = len(data)
    part = evaluate(model, data.shard(rt.rank, rt.world_size), rt, batch_size, keep_probs)
    m = part.n
    loss, hit1, hit5 = (0.0, 0.0, 0.0) if m == 0 else (part.loss * m, part.top1 * m, part.top5 * m)
    loss, hit1, hit5 = dist.all_sum(loss, hit1, hit5, device=rt.device)
    confusion = None
    if n:
        # A rank with no rows (fewer drawings than ranks) learns the class count from the others.
        c = -dist.all_min(-(0 if part.confusion is None else part.confusion.shape[0]), rt.device)
        local = part.confusion if part.confusion is not None else np.zeros((c, c), np.int64)
        confusion = dist.all_sum_array(local, rt.device)
    probs = None
    if keep_probs:
        rows = torch.as_tensor(part.probs if m else np.zeros((0, 0), np.float32), device=rt.device)
        probs = dist.gather_rows(rows, n).cpu().numpy() if n else np.zeros((0, 0), np.float32)
    if n == 0:
        return EvalResult(float("nan"), float("nan"), float("nan"), 0, probs)
    return EvalResult(loss / n, round(hit1) / n, round(hit5) / n, n, probs, confusion)


def predict_probs(model: torch.nn.Module, images: np.ndarray, rt: Runtime, batch_size: int = 1024) -> np.ndarray:
    """Softmax probabilities float32 (N, C) for uint8 drawings (N, 28, 28) or (N, 784)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise DataError(f"drawings must be uint8 0..255, got {images.dtype}")
    data = DeviceData(images.reshape(-1, 28, 28), np.zeros(images.shape[0], np.int64), rt.device,
                      channels_last=rt.device.type != "mps")
    probs = evaluate(model, data, rt, batch_size, keep_probs=True).probs
    if probs is None:  # keep_probs=True always keeps them
        raise ValueError("evaluate kept no probabilities")
    return probs


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


def kept_predictions(ds, labels: np.ndarray, classes: list[str], probs: np.ndarray, rows: np.ndarray | None,
                     totals: Totals | None) -> Predictions:
    """Predictions of the drawings of ds at rows (all for None; probs are theirs), reading only those drawings."""
    part = ds if rows is None else ds.subset(rows)
    return Predictions(probs, labels if rows is None else labels[rows], list(classes),
                       np.asarray(part.images, np.uint8).reshape(-1, 28, 28),
                       [part.provenance(i) for i in range(len(part))], totals)


def predict_in_chunks(predict: Callable[[Any], np.ndarray], images: Any, labels: np.ndarray,
                      n_classes: int, rows: np.ndarray | None, ds: Any = None) -> tuple[np.ndarray, Totals | None]:
    """The probabilities of the kept rows (all for None) and, where rows is a sample, the counts over every
    drawing, reading the drawings a chunk at a time (a memory-mapped selection is never copied whole).

    With `ds` (the DrawingSet of `images`) each chunk goes to `predict` as Drawings whose strokes are read
    from their files if the model asks for them."""
    from qdcore.data.mapped import CHUNK, chunks  # here: tests shrink mapped.CHUNK to read several chunks

    cm, top5, kept = np.zeros((n_classes, n_classes), np.int64), 0, []
    for i, part in enumerate(chunks(images, CHUNK)):
        start, stop = i * CHUNK, i * CHUNK + len(part)
        batch = part if ds is None else Drawings(part, partial(ds.drawings, np.arange(start, stop)), ds.origin)
        p = np.asarray(predict(batch), np.float32)
        y = labels[start:stop]
        cm += confusion_matrix(y, p.argmax(axis=1), n_classes)
        top5 += topk_hits(p, y, 5)
        kept.append(p if rows is None else p[rows[(rows >= start) & (rows < stop)] - start])
    probs = np.concatenate(kept) if kept else np.zeros((0, n_classes), np.float32)
    return probs, None if rows is None else Totals(cm, top5)


# -- a stored run: `qd eval RUN` and the TUI's evaluate key ------------------------------------------


@dataclass
class RunEvaluation:
    """A run's model evaluated on its own test split (saved as its predictions.npz) or on other drawings."""

    run_id: int
    predictions: Predictions
    where: str  # 'test split of run 3 (demo)', or the other data's origin
    synthetic: bool
    data_classes: list[str]  # classes of the drawings evaluated: the model's, or a subset of them for other data
    path: Path | None = None  # the predictions.npz written (own test split only)
    notes: list[str] = field(default_factory=list)  # what the reader skipped (malformed lines), for every front end


def require_classifier(store: Store, run_id: int, command: str) -> None:
    """A one-line error when a run given where a classifier is needed is of another kind (a GAN, a study)."""
    require(store, run_id, JUDGE, command)


def select_for_model(data: str, categories: str | None, per_class: int | None, seed: int, imbalance: str | None,
                     model_classes: list[str], strict: bool = False):
    """Drawings of other data for a model: by default its classes that the data holds (a subset is fine)."""
    source = open_source(data, strict=strict)
    if categories is None:
        have = set(source.categories())
        chosen = [c for c in model_classes if c in have]
        if not chosen:
            raise DataError(f"{source.location} holds none of the model's {len(model_classes)} classes "
                            f"({', '.join(model_classes[:4])}{' ...' if len(model_classes) > 4 else ''})")
        categories = ",".join(chosen)
    return select(source, categories, per_class, seed, imbalance, mapped=True)


def evaluate_run(store: Store, run_id: int, data: str | None = None, *, categories: str | None = None,
                 per_class: int | None = None, seed: int = 0, imbalance: str | None = None,
                 device: str | None = "auto", batch_size: int = 1024, strict: bool = False) -> RunEvaluation:
    """Predict with a run's model on its rebuilt test split (written atomically to predictions.npz) or on `data`."""
    rec = store.get_run(int(run_id))  # StoreError for a run that does not exist
    run_id = rec.id

    if not can(rec.kind, JUDGE):  # a network qd's engine trained, rebuilt from model.json
        raise ConfigError(f"run {run_id} is a {rec.kind} run; evaluate it with 'qd eval', which knows its kind")
    rt = resolve(device or "auto", None)
    model, meta = load_model(store.run_dir(run_id, create=False), rt.device)
    cfg = TrainConfig.from_dict(rec.config, origin=f"run {run_id} config")
    return evaluate_with(store, run_id, lambda images: predict_probs(model, images, rt, batch_size),
                         list(meta["classes"]), cfg, data, categories=categories, per_class=per_class, seed=seed,
                         imbalance=imbalance, strict=strict)


def evaluate_with(store: Store, run_id: int, predict: Callable[[np.ndarray], np.ndarray], classes: list[str],
                  cfg: Any, data: str | None = None, *, categories: str | None = None, per_class: int | None = None,
                  seed: int = 0, imbalance: str | None = None, reads_drawings: bool = False,
                  strict: bool = False) -> RunEvaluation:
    """Any kind's model on the test split of `cfg` or on `data`: `predict` takes uint8 drawings (N, 28, 28), or
    with `reads_drawings` a `qdcore.data.drawings.Drawings` (strokes read from the files when asked for)."""
    run_dir = store.run_dir(run_id, create=False)
    if data is None:
        ds = load_splits(cfg, mapped=True).test
        if list(ds.classes) != classes:
            raise DataError(f"run {run_id}'s data now yields classes that differ from its model's; "
                            "evaluate it with 'qd eval RUN --data ...' and matching --categories")
        if len(ds) == 0:
            raise ConfigError(f"run {run_id} has no test split (test=0); evaluate it with 'qd eval RUN --data ...'")
        where = f"test split of run {run_id} ({cfg.data})"
    else:
        ds = select_for_model(data, categories, per_class, seed, imbalance, classes, strict)
        labels_for(ds, classes, where=str(data))  # the one-line error names the data before any work
        where = f"{ds.origin or data} ({len(ds.classes)} of the model's {len(classes)} classes)"
    labels = labels_for(ds, classes)
    rows = kept_rows(len(ds))
    probs, totals = predict_in_chunks(predict, ds.images, labels, len(classes), rows, ds if reads_drawings else None)
    preds = kept_predictions(ds, labels, classes, probs, rows, totals)
    path = None
    if data is None:
        path = run_dir / PREDICTIONS_FILE
        preds.save(path)  # atomic: a reader never sees half a file
    return RunEvaluation(run_id, preds, where, bool(ds.synthetic), list(ds.classes), path, list(ds.notes))
