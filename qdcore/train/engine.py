"""The classifier training loop: one function that the CLI, the TUI and notebooks all drive.

Data stays on the device as uint8; batches are index tensors; scaling and augmentation run on the
device; the host syncs only every `log_every` steps. Resume is exact: a loop driver
(qdcore.train.loop) owns epochs, logging, stops, checkpoints and resume; this module is the
classifier's step and its setup.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from qdcore.artifacts import HISTORY_FILE, PREDICTIONS_FILE
from qdcore.errors import ConfigError
from qdcore.events import RunFinished, RunStarted, Sink, null_sink
from qdcore.fmt import size
from qdcore.models import build_model
from qdcore.predictions import Predictions, kept_rows
from qdcore.train import autobatch, stream
from qdcore.train import checkpoint as ckpt
from qdcore.train import distributed as dist
from qdcore.train.config import TrainConfig
from qdcore.train.device import Runtime
from qdcore.train.evaluate import evaluate, kept_predictions
from qdcore.train.gpudata import Augment, DeviceData, seed_for
from qdcore.train.loop import (
    BestCheckpoint,
    EarlyStopping,
    Loop,
    Out,
    Plateau,
    Step,
    means,
    ranked,
    update,
    watched_loss,
)
from qdcore.train.stream import BYTES_PER_DRAWING
from qdcore.train.synthetic import training_splits

_DROPOUT_STREAM, _AUGMENT_STREAM = 1, 2


@dataclass
class TrainResult:
    """What a training run returns: final status and summary, per-epoch history, the (best) model."""

    status: str  # done | interrupted
    summary: dict[str, Any]
    history: dict[str, list[float]]
    model: torch.nn.Module
    classes: list[str]
    predictions: Predictions | None = None
    run_dir: Path | None = None
    run_id: int | None = None
    events: list = field(default_factory=list)


def make_optimizer(cfg: TrainConfig, params, device: torch.device | None = None) -> torch.optim.Optimizer:
    """Adam, AdamW, SGD (+momentum, nesterov) or RMSprop with the config's parameters."""
    name = cfg.optimizer.lower()
    # On CUDA one fused kernel updates every parameter: small models are otherwise launch-bound.
    fused = {"fused": True} if device is not None and device.type == "cuda" else {}
    if name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                                **fused)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay,
                                 **fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=cfg.alpha, eps=cfg.eps, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
    raise ConfigError(f"unknown optimizer {cfg.optimizer!r}: use adam, adamw, sgd or rmsprop")


def lr_factor(cfg: TrainConfig, step: int, total_steps: int, steps_per_epoch: int) -> float:
    """The schedule's multiplier of the base lr at a (1-based) step: linear warmup, then constant or cosine."""
    warm = int(round(cfg.warmup_epochs * steps_per_epoch))
    if warm and step <= warm:
        return step / warm
    if cfg.schedule == "cosine":
        t = (step - warm) / max(1, total_steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))
    return 1.0


def fast_view(model: torch.nn.Module) -> torch.nn.Module:
    """The same layers with each ReLU -> MaxPool2d pair run as MaxPool2d -> ReLU.

    max and ReLU commute exactly (ReLU is monotone), values and gradients included, and the
    ReLU then touches a quarter of the activations. Parameters are shared, so training the view
    trains `model`; any other kind of model is returned as it is.
    """
    if type(model).forward is not nn.Sequential.forward:
        return model
    items = list(model.named_children())
    out, i, swapped = [], 0, False
    while i < len(items):
        a = items[i][1]
        b = items[i + 1][1] if i + 1 < len(items) else None
        if type(a) is nn.ReLU and type(b) is nn.MaxPool2d:
            out += [items[i + 1], items[i]]
            i += 2
            swapped = True
        else:
            out.append(items[i])
            i += 1
    return nn.Sequential(OrderedDict(out)) if swapped else model


def _numel(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def train(cfg: TrainConfig, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
          run_dir: str | Path | None = None, resume: str | Path | None = None, *, splits=None,
          run_id: int | None = None, store: Any = None) -> TrainResult:
    """Train a classifier as `cfg` says, emitting events to `sink`; `resume` is a run folder to continue; `store`
    holds the --synthetic GAN run (default: $QD_HOME's)."""
    cfg.validate()

    def body(rt: Runtime, emit: Sink) -> TrainResult:
        out_dir = Path(run_dir) if (run_dir is not None and rt.rank == 0) else None
        if splits is not None:
            data = splits
        else:  # left in their files: streamed data is read chunk by chunk; resident data is copied once in _placed
            data = training_splits(cfg, mapped=True, store=store)
        return _train(cfg, rt, emit, should_stop, out_dir, Path(resume) if resume else None, data, run_id)

    return ranked(cfg.device, cfg.amp, sink, body)


class ClassifierStep(Step):
    """One classifier step: cross-entropy on an augmented batch, lr schedule, AMP, DDP; validation at epoch ends."""

    curve = "loss"
    advice = "lower --lr or check the data"
    history_keys = {"train/loss": "train/loss", "train/top1": "train/top1", "val/loss": "val/loss",
                    "val/top1": "val/top1", "val/top5": "val/top5", "lr": "train/lr", "seconds": "train/seconds"}

    def __init__(self, cfg: TrainConfig, rt: Runtime, model: torch.nn.Module, data: tuple, plateau: Plateau,
                 notes: tuple[str, ...]) -> None:
        self.cfg, self.rt, self.model, self.plateau = cfg, rt, model, plateau
        self.train_data, self.val_data, self.test_data = data
        self.epochs, self.log_every = cfg.epochs, cfg.log_every
        self.optimizer = make_optimizer(cfg, model.parameters(), rt.device)
        self.scaler = torch.amp.GradScaler(rt.device.type) if rt.scaler else None
        self.net = fast_view(model)
        self.graphs = cfg.cuda_graphs and rt.device.type == "cuda"
        self.notes = notes
        if cfg.cuda_graphs and not self.graphs:
            self.notes += (f"--cuda-graphs on {rt.device.type}: compiled without graphs (CUDA graphs need a CUDA "
                           "device)",)
        if cfg.compile or cfg.cuda_graphs:
            # torch.compile of a Module returns an OptimizedModule (a Module); its stubs say a plain callable.
            self.net = torch.compile(self.net, mode="reduce-overhead" if cfg.cuda_graphs else None)  # type: ignore[assignment]
        self.step_net = dist.wrap(self.net, rt.device)  # DDP for steps; evaluation runs each rank's shard on `net`
        self.augment = Augment(cfg.hflip, cfg.vflip, cfg.rotate, cfg.shift)
        self.aug_gen = torch.Generator(device=rt.device)
        self.generator, self.stream = self.aug_gen, "augment"  # the driver saves and restores it
        self.batch_size = _batch_size(cfg)
        per_rank = len(self.train_data) // rt.world_size
        self.steps_per_epoch = len(DeviceData.batches(torch.arange(per_rank), self.batch_size))
        if self.steps_per_epoch == 0:
            raise ConfigError(f"the training split has {len(self.train_data)} drawings, too few for "
                              f"{rt.world_size} ranks")
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self._lr = cfg.lr

    def lr(self) -> float:
        return self._lr

    def begin_epoch(self, epoch: int, restored: bool) -> None:
        if not restored:  # each rank its own streams
            torch.manual_seed(seed_for(self.cfg.seed, epoch, _DROPOUT_STREAM, self.rt.rank))
            self.aug_gen.manual_seed(seed_for(self.cfg.seed, epoch, _AUGMENT_STREAM, self.rt.rank))
        self.model.train()

    def batches(self, epoch: int, start: int):
        order = self.train_data.order(self.cfg.seed, epoch, self.rt.rank, self.rt.world_size)
        return self.train_data.iterate(DeviceData.batches(order, self.batch_size), start, self.augment,
                                       self.aug_gen)

    def step(self, batch: Any, step: int) -> Out:
        cfg, rt = self.cfg, self.rt
        x, y = batch
        lr = max(cfg.lr * lr_factor(cfg, step, self.total_steps, self.steps_per_epoch) * self.plateau.scale, 0.0)
        self._lr = lr
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        if self.graphs:
            torch.compiler.cudagraph_mark_step_begin()  # this step may overwrite the last step's graph outputs
        with rt.autocast():
            logits = self.step_net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=float(cfg.label_smoothing))
        update(self.optimizer, self.scaler, loss)
        b = int(y.numel())
        with torch.no_grad():
            return Out({"loss": loss.detach() * b, "top1": (logits.argmax(1) == y).sum()}, b, b, loss.detach())

    def epoch_end(self, loop: Loop, epoch: int, train: dict[str, Any]) -> dict[str, float]:
        val = evaluate(self.net, self.val_data, self.rt, self.cfg.eval_batch_size, shard=True)
        if val.n:
            loop.check(val.loss, "validation loss", epoch)
        seconds = loop.st["epoch_seconds"]
        mean = means(train)
        return {"train/loss": mean["loss"], "train/top1": mean["top1"], "val/loss": val.loss, "val/top1": val.top1,
                "val/top5": val.top5, "train/lr": self.optimizer.param_groups[0]["lr"], "train/seconds": seconds,
                "train/throughput": train["n"] / max(seconds, 1e-9)}

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"model": ckpt.state_dict_of(self.model)}

    def optimizers(self) -> dict[str, dict[str, Any]]:
        return {"model": self.optimizer.state_dict()}

    def state(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load(self, saved: dict[str, Any], where: Path) -> None:
        self.model.load_state_dict(saved["modules"]["model"])
        self.optimizer.load_state_dict(saved["optimizers"]["model"])
        if self.scaler is not None and saved["state"].get("scaler"):
            self.scaler.load_state_dict(saved["state"]["scaler"])


def _setup(cfg: TrainConfig, rt: Runtime, splits) -> tuple[TrainConfig, torch.nn.Module, tuple, tuple, Any]:
    """Seeds, the model, and the drawings placed on the device (resident or streamed), batch size settled."""
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for determinism
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(cfg.seed)
    classes = list(splits.train.classes)
    channels_last = rt.device.type in ("cpu", "cuda")
    model = build_model(cfg.model, len(classes), **cfg.model_options()).to(rt.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # Module.to's stubs omit memory_format, which it takes
    budget = _data_budget(cfg, rt)
    notes = tuple(getattr(splits.train, "notes", ()) or ())
    if cfg.batch_size is None:  # --batch-size auto: settled here, stored through RunStarted's config
        cfg, note = _auto_batch(cfg, model, rt, splits, channels_last, budget)
        notes += (note,)
    data = _placed(cfg, splits, rt, channels_last, budget)
    streamed = getattr(data[0], "chunk", None)  # drawings per chunk when they stream from host memory
    if streamed:
        need = sum(len(p) for p in (splits.train, splits.val, splits.test)) * BYTES_PER_DRAWING
        notes += (f"the drawings ({size(need)} on the device) exceed the {size(budget)} budget (--device-memory): "
                  f"they stream from host memory in chunks of {streamed:,}",)
    return cfg, model, data, notes, streamed


def _train(cfg: TrainConfig, rt: Runtime, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
           resume: Path | None, splits, run_id: int | None) -> TrainResult:
    classes, fingerprint = list(splits.train.classes), splits.fingerprint()
    cfg, model, data, notes, streamed = _setup(cfg, rt, splits)
    n_params = _numel(model)
    plateau = Plateau(watched_loss, cfg.min_delta, cfg.plateau_patience, cfg.plateau_factor,
                      cfg.min_lr / cfg.lr)
    step = ClassifierStep(cfg, rt, model, data, plateau, notes)

    def write_best(epoch: int, value: float, state: dict[str, torch.Tensor]) -> Path:
        assert out_dir is not None  # BestCheckpoint writes only when the loop has a run folder (this out_dir)
        return ckpt.save_model(out_dir, model, _model_meta(cfg, classes, epoch, value, fingerprint, run_id), state)

    best = BestCheckpoint(watched_loss, cfg.min_delta, lambda: ckpt.state_dict_of(model), write_best)
    loop = Loop(step, rt, emit, should_stop, out_dir,
                [best, EarlyStopping(watched_loss, cfg.min_delta, cfg.patience), plateau])
    loop.resume(resume, classes, fingerprint, run_id or resume)
    status = loop.run(RunStarted(
        run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.epochs, step.steps_per_epoch, len(data[0]), fingerprint,
        {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic), "classes": len(classes)},
        notes=step.notes))

    history = loop.st["history"]
    summary: dict[str, Any] = {
        "model": cfg.model, "params": n_params, "classes": len(classes), **loop.summary(),
        "best_epoch": best.best_epoch, "stopped_early": bool(loop.st["stopped_early"]),
        "num_train": len(splits.train), "num_val": len(splits.val), "num_test": len(splits.test),
        "streamed_chunk": streamed,
    }
    if history.get("epoch"):
        b = history["epoch"].index(best.best_epoch) if best.best_epoch in history["epoch"] else -1
        summary.update({"train_loss": history["train/loss"][-1], "train_top1": history["train/top1"][-1],
                        "best_val_loss": best.best if math.isfinite(best.best) else None,
                        "val_top1": history["val/top1"][b], "val_top5": history["val/top5"][b]})
    loop.write_history(HISTORY_FILE)
    if status == "interrupted":
        loop.interrupted(summary)
        return TrainResult("interrupted", summary, history, model, classes, None, out_dir, run_id)
    if best.kept is not None:
        model.load_state_dict(best.kept)
    preds = _test(cfg, rt, model, data[2], splits, classes, summary, out_dir)
    emit(RunFinished("done", summary))
    return TrainResult("done", summary, history, model, classes, preds, out_dir, run_id)


def _test(cfg: TrainConfig, rt: Runtime, model: torch.nn.Module, test_data, splits, classes: list[str],
          summary: dict[str, Any], out_dir: Path | None) -> Predictions | None:
    """The test split's metrics into `summary`, and its predictions (kept in the run folder)."""
    if rt.device.type in ("cpu", "cuda"):
        # Hand back a model in the default layout: it then computes exactly as load_model's does.
        model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # Module.to's stubs omit memory_format, which it takes
    # Eager for the test pass: a compiled graph asserts the strides it was traced with.
    net = fast_view(model)
    # A test split over KEEP drawings is counted whole; only a fixed sample's probabilities are kept.
    rows = kept_rows(len(test_data))
    test = evaluate(net, test_data, rt, cfg.eval_batch_size, keep_probs=rows is None, shard=True)
    summary.update({"test_loss": test.loss, "test_top1": test.top1, "test_top5": test.top5})
    if not test.n:
        return None
    probs = test.probs if rows is None else evaluate(net, test_data.take(rows), rt, cfg.eval_batch_size,
                                                      keep_probs=True, shard=True).probs
    assert probs is not None  # both evaluations above kept them (keep_probs)
    preds = kept_predictions(splits.test, np.asarray(splits.test.labels, np.int64), classes, probs, rows,
                             None if rows is None else test.totals())
    if out_dir is not None:
        preds.save(out_dir / PREDICTIONS_FILE)
    return preds


def _batch_size(cfg: TrainConfig) -> int:
    """cfg's batch size once _setup has settled --batch-size auto."""
    assert cfg.batch_size is not None  # _setup settles auto (None) before the data are placed or a step is built
    return cfg.batch_size


def _data_budget(cfg: TrainConfig, rt: Runtime) -> float:
    """Bytes the drawings may take on the device (--device-memory, else half the free memory on CUDA)."""
    return cfg.device_memory * 2**30 if cfg.device_memory else stream.default_budget(rt.device)


def _auto_batch(cfg: TrainConfig, model: torch.nn.Module, rt: Runtime, splits, channels_last: bool,
                budget: float) -> tuple[TrainConfig, str]:
    """--batch-size auto settled (autobatch.settle) next to the drawings _placed will put on the device."""
    n = sum(len(p) for p in (splits.train, splits.val, splits.test))
    held = min(n * stream.BYTES_PER_DRAWING, budget)
    # Streamed, two batches must fit in the chunks in flight.
    cap = autobatch.MAX_BATCH if stream.fits(n, budget) else min(autobatch.MAX_BATCH,
                                                                 int(budget // (2 * stream.BYTES_PER_DRAWING)))
    step = autobatch.training_step(fast_view(model), lambda params: make_optimizer(cfg, params, rt.device), rt,
                                   len(splits.train.classes), channels_last)
    return autobatch.settle(cfg, step, rt, len(splits.train), held, cap)


def _placed(cfg: TrainConfig, splits, rt: Runtime, channels_last: bool, budget: float):
    """Train/val/test data resident on the device when they fit the memory budget, else streamed from the host."""
    parts = (splits.train, splits.val, splits.test)
    if stream.fits(sum(len(p) for p in parts), budget):
        return tuple(DeviceData(np.asarray(p.images), p.labels, rt.device, channels_last) for p in parts)
    return tuple(stream.StreamData.within(p.images, p.labels, rt.device, channels_last, budget, _batch_size(cfg))
                 for p in parts)


def _model_meta(cfg: TrainConfig, classes: list[str], epoch: int, val_loss: float, fingerprint: str,
                run_id: int | None) -> dict[str, Any]:
    return {"classes": classes, "epoch": epoch, "monitor_loss": float(val_loss), "run_id": run_id,
            "fingerprint": fingerprint, "config": cfg.to_dict()}
