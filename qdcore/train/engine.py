"""The classifier training loop: one function that the CLI, the TUI and notebooks all drive.

Data stays on the device as uint8; batches are index tensors; scaling and augmentation run on the
device; the host syncs only every `log_every` steps. Resume is exact: a resume checkpoint written
at every epoch end and when `should_stop()` fires (after the current step, mid-epoch included)
holds weights, optimizer, RNG streams and the loop's counters, so an interrupted and resumed run
ends where an uninterrupted one does, and no metric row is written twice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError, StoreError, TrainingError
from qdcore.events import Checkpoint, EpochEnd, Progress, RunFinished, RunStarted, Sink, null_sink, reported
from qdcore.paths import atomic_write_bytes
from qdcore.predictions import Predictions, kept_rows
from qdcore.train import checkpoint as ckpt
from qdcore.train import distributed as dist
from qdcore.train.artifacts import HISTORY_FILE, PREDICTIONS_FILE
from qdcore.train.config import TrainConfig
from qdcore.train.device import Runtime, resolve
from qdcore.train.evaluate import evaluate, kept_predictions
from qdcore.train.gpudata import Augment, DeviceData, seed_for
from qdcore.train.rng import rng_state, set_rng_state

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
    from collections import OrderedDict

    from torch import nn

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


class _Clock:
    """Training time: CUDA events on CUDA (no host sync per step), perf_counter elsewhere."""

    def __init__(self, rt: Runtime) -> None:
        self.cuda = rt.device.type == "cuda"
        self.rt = rt

    def start(self) -> None:
        if self.cuda:
            self._a = torch.cuda.Event(enable_timing=True)
            self._b = torch.cuda.Event(enable_timing=True)
            self._a.record()
        else:
            self.rt.sync()
            self._t = time.perf_counter()

    def stop(self) -> float:
        """Seconds since start (waits for the device)."""
        if self.cuda:
            self._b.record()
            self._b.synchronize()
            return self._a.elapsed_time(self._b) / 1000.0
        self.rt.sync()
        return time.perf_counter() - self._t


def _numel(model: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))



POINTS_PER_LOG = 10  # step-loss points per logging window (means over equal runs of steps)


def _window_progress(step: int, epoch: int, seen: int, lr: float, win_loss, win_hit, win_n: int, step_buf,
                     buf_first: int, buf_n: int, throughput: float) -> Progress:
    """The Progress of a logging window, read from the device in one transfer.

    step_losses holds (step, mean loss) over runs of about log_every / POINTS_PER_LOG steps; steps that
    started before a resume (not in the buffer) are covered by `loss` only."""
    kept = min(buf_n, step_buf.numel())
    vals = torch.cat([torch.stack([win_loss.float(), win_hit.float()]), step_buf[:kept].float()]).tolist()
    wl, wh, per_step = vals[0], vals[1], vals[2:]
    stride = max(1, -(-len(per_step) // POINTS_PER_LOG))
    points = []
    for k in range(0, len(per_step), stride):
        chunk = per_step[k:k + stride]
        points.append((buf_first + k + len(chunk) - 1, sum(chunk) / len(chunk)))
    return Progress(step, epoch, seen, lr, wl / win_n, throughput, wh / win_n, tuple(points))

def _clone(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in state.items()}


def train(cfg: TrainConfig, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
          run_dir: str | Path | None = None, resume: str | Path | None = None, *, splits=None,
          run_id: int | None = None) -> TrainResult:
    """Train a classifier as `cfg` says, emitting events to `sink`; `resume` is a run folder to continue."""
    cfg.validate()
    rt = resolve(cfg.device, cfg.amp)
    dist.join(rt.device, rt.world_size)
    main = rt.rank == 0
    emit = sink if main else null_sink  # only rank 0 talks to sinks and writes files
    out_dir = Path(run_dir) if (run_dir is not None and main) else None
    with reported(emit):
        result = _train(cfg, rt, emit, should_stop, out_dir, Path(resume) if resume else None, splits, run_id)
    # Every rank leaves together: a rank exiting while a peer still talks to it aborts that peer (Gloo).
    dist.barrier()
    dist.leave()
    return result


def _train(cfg: TrainConfig, rt: Runtime, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
           resume: Path | None, splits, run_id: int | None) -> TrainResult:
    from qdcore.models import build_model

    if cfg.deterministic:
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for determinism
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif rt.device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(cfg.seed)
    if splits is None:
        # Left in their files: streamed data is read chunk by chunk; resident data is copied once in _placed.
        splits = load_splits(cfg, mapped=True)
    classes = list(splits.train.classes)
    fingerprint = splits.fingerprint()
    channels_last = rt.device.type in ("cpu", "cuda")

    model = build_model(cfg.model, len(classes), **cfg.model_options())
    n_params = _numel(model)
    model = model.to(rt.device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    budget = _data_budget(cfg, rt)
    notes = tuple(getattr(splits.train, "notes", ()) or ())
    if cfg.batch_size is None:  # --batch-size auto: settled here, stored through RunStarted's config
        cfg, note = _auto_batch(cfg, model, rt, splits, channels_last, budget)
        notes += (note,)
    train_data, val_data, test_data = _placed(cfg, splits, rt, channels_last, budget)
    streamed = getattr(train_data, "chunk", None)  # drawings per chunk when they stream from host memory
    if streamed:
        from qdcore.fmt import size
        from qdcore.train.stream import BYTES_PER_DRAWING

        need = sum(len(p) for p in (splits.train, splits.val, splits.test)) * BYTES_PER_DRAWING
        notes += (f"the drawings ({size(need)} on the device) exceed the {size(budget)} budget (--device-memory): "
                  f"they stream from host memory in chunks of {streamed:,}",)
    optimizer = make_optimizer(cfg, model.parameters(), rt.device)
    scaler = torch.amp.GradScaler(rt.device.type) if rt.scaler else None
    net = fast_view(model)
    graphs = cfg.cuda_graphs and rt.device.type == "cuda"
    if cfg.cuda_graphs and not graphs:
        notes += (f"--cuda-graphs on {rt.device.type}: compiled without graphs (CUDA graphs need a CUDA device)",)
    if cfg.compile or cfg.cuda_graphs:
        net = torch.compile(net, mode="reduce-overhead" if cfg.cuda_graphs else None)
    step_net = dist.wrap(net, rt.device)  # DDP for the training steps; evaluation runs each rank's shard on `net`
    augment = Augment(cfg.hflip, cfg.vflip, cfg.rotate, cfg.shift)
    aug_gen = torch.Generator(device=rt.device)

    per_rank = len(train_data) // rt.world_size
    steps_per_epoch = len(DeviceData.batches(torch.arange(per_rank), cfg.batch_size))
    if steps_per_epoch == 0:
        raise ConfigError(f"the training split has {len(train_data)} drawings, too few for {rt.world_size} ranks")
    total_steps = cfg.epochs * steps_per_epoch

    # Loop state: everything a resume checkpoint must carry besides tensors.
    st: dict[str, Any] = {
        "epoch": 1, "batch": 0, "step": 0, "lr_scale": 1.0, "best_loss": math.inf, "best_epoch": 0,
        "es_wait": 0, "plateau_wait": 0, "train_seconds": 0.0, "images": 0, "epoch_seconds": 0.0,
        "acc": [0.0, 0, 0], "win": [0.0, 0, 0], "history": _empty_history(), "stopped_early": False,
        "classes": classes, "fingerprint": fingerprint, "scaler": None,
    }
    best_state: dict[str, torch.Tensor] | None = None
    rng_restored = False
    if resume is not None:
        saved = ckpt.load_resume(resume)
        s = saved["state"]
        if s.get("classes") != classes or s.get("fingerprint") != fingerprint:
            raise StoreError(f"the drawings selected now differ from those run {run_id or resume} trained on "
                             "(data changed?); start a new run instead of --resume")
        try:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
        except (RuntimeError, ValueError, KeyError) as e:
            raise StoreError(f"{Path(resume) / ckpt.RESUME_FILE} does not fit this model/optimizer ({e})"
                             .splitlines()[0]) from None
        best_state = saved["best"]
        st.update(s)
        if scaler is not None and st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        if st["batch"] > 0:  # mid-epoch: continue the same random streams
            set_rng_state(rt, aug_gen, saved["rng"], "augment")
            rng_restored = rt.world_size == st.get("world_size", 1) and rt.rank == 0
            st["batch"] = _rebatch(st["batch"], st.get("world_size", 1), rt.world_size)
        if rt.rank != 0:  # the saved accumulators are the sums over all ranks: rank 0 carries them
            st["acc"], st["win"] = [0.0, 0, 0], [0.0, 0, 0]
    st["world_size"] = rt.world_size

    emit(RunStarted(run_id, cfg.name, cfg.to_dict(), rt.describe(), cfg.epochs, steps_per_epoch, len(train_data),
                    fingerprint, {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic),
                                  "classes": len(classes)},
                    notes=notes))
    criterion_smoothing = float(cfg.label_smoothing)
    clock = _Clock(rt)
    status = "done"
    stop = False

    def save_resume(position_epoch: int, position_batch: int) -> Path | None:
        st["epoch"], st["batch"] = position_epoch, position_batch
        if out_dir is None:
            return None
        st["scaler"] = scaler.state_dict() if scaler is not None else None
        return ckpt.save_resume(out_dir, model=ckpt.state_dict_of(model), best=best_state,
                                optimizer=optimizer.state_dict(), rng=rng_state(rt, aug_gen, "augment"), state=st)

    epoch = st["epoch"]
    while epoch <= cfg.epochs and not st["stopped_early"]:
        order = train_data.order(cfg.seed, epoch, rt.rank, rt.world_size)
        batches = DeviceData.batches(order, cfg.batch_size)
        start_batch = st["batch"]
        if not rng_restored:
            torch.manual_seed(seed_for(cfg.seed, epoch, _DROPOUT_STREAM, rt.rank))
            aug_gen.manual_seed(seed_for(cfg.seed, epoch, _AUGMENT_STREAM, rt.rank))
        rng_restored = False
        if start_batch == 0:
            st["acc"], st["win"], st["epoch_seconds"] = [0.0, 0, 0], [0.0, 0, 0], 0.0
        acc_loss = torch.tensor(st["acc"][0], device=rt.device)
        acc_hit = torch.tensor(st["acc"][1], device=rt.device)
        acc_n = st["acc"][2]
        win_loss = torch.tensor(st["win"][0], device=rt.device)
        win_hit = torch.tensor(st["win"][1], device=rt.device)
        win_n = st["win"][2]
        # Each step's loss waits on the device until the window is read (no per-step host sync), so the
        # step curve gets up to POINTS_PER_LOG points per window, not one.
        step_buf = torch.zeros(cfg.log_every, device=rt.device)
        buf_first, buf_n = st["step"] + 1, 0
        model.train()
        clock.start()
        t_win = time.perf_counter()
        bi = start_batch
        feed = train_data.iterate(batches, start_batch, augment, aug_gen)
        for bi, (x, y) in enumerate(feed, start_batch):
            st["step"] += 1
            step = st["step"]
            lr = max(cfg.lr * lr_factor(cfg, step, total_steps, steps_per_epoch) * st["lr_scale"], 0.0)
            for g in optimizer.param_groups:
                g["lr"] = lr
            if graphs:
                torch.compiler.cudagraph_mark_step_begin()  # this step may overwrite the last step's graph outputs
            with rt.autocast():
                logits = step_net(x)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=criterion_smoothing)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
            b = int(y.numel())
            with torch.no_grad():
                lsum = loss.detach() * b
                hits = (logits.argmax(1) == y).sum()
                acc_loss += lsum
                acc_hit += hits
                win_loss += lsum
                win_hit += hits
                if buf_n < cfg.log_every:
                    step_buf[buf_n] = loss.detach()
            buf_n += 1
            acc_n += b
            win_n += b
            st["images"] += b * rt.world_size
            asked = should_stop()
            if step % cfg.log_every == 0:
                # The only per-step host sync: once every log_every steps, one read for the window.
                now = time.perf_counter()
                progress = _window_progress(step, epoch, st["images"], lr, win_loss, win_hit, win_n, step_buf,
                                            buf_first, buf_n, win_n * rt.world_size / max(now - t_win, 1e-9))
                bad = not math.isfinite(progress.loss)
                if rt.world_size > 1:
                    # One collective for both flags: a NaN on any rank fails all ranks, a stop stops all at
                    # this step. On a rank whose own window stayed finite, the NaN is another rank's.
                    bad, asked = dist.any_ranks([bad, asked], rt.device)
                if bad:
                    _check_finite(progress.loss if not math.isfinite(progress.loss) else math.nan,
                                  "training loss", step, epoch, epoch - 1)
                emit(progress)
                win_loss.zero_()
                win_hit.zero_()
                win_n = 0
                t_win = now
                buf_first, buf_n = step + 1, 0
            elif rt.world_size > 1:
                asked = False  # ranks agree at logging steps only (above), so all end at the same step
            if asked:
                stop = True
                break
        st["epoch_seconds"] += clock.stop()
        finished_epoch = bi + 1 >= len(batches)
        if finished_epoch and win_n:
            # The epoch's last partial window, read with the epoch's own sync: a short run's step curve
            # covers every epoch, not only the steps before the last multiple of log_every.
            now = time.perf_counter()
            emit(_window_progress(st["step"], epoch, st["images"], lr, win_loss, win_hit, win_n, step_buf,
                                  buf_first, buf_n, win_n * rt.world_size / max(now - t_win, 1e-9)))
            win_loss.zero_()
            win_hit.zero_()
            win_n = 0
        # Sums over all ranks (one collective an epoch); rank 0 keeps them, the others restart from zero.
        tot_loss, tot_hit, tot_n = dist.all_sum(acc_loss, acc_hit, acc_n, device=rt.device)
        st["acc"] = [tot_loss, int(tot_hit), int(tot_n)] if rt.rank == 0 else [0.0, 0, 0]
        st["win"] = [win_loss.item(), int(win_hit.item()), win_n]
        # Never checkpoint weights a non-finite loss has touched: the last good checkpoint stays.
        # The summed loss is the same on every rank, so all ranks fail together.
        _check_finite(tot_loss, "training loss", st["step"], epoch, epoch - 1)
        if stop and not finished_epoch:
            # Mid-epoch: the resume checkpoint continues at the next batch with the same RNG streams.
            path = save_resume(epoch, bi + 1)
            if path is not None:
                emit(Checkpoint(epoch, str(path), False))
            status = "interrupted"
            break

        st["train_seconds"] += st["epoch_seconds"]
        val = evaluate(net, val_data, rt, cfg.eval_batch_size, shard=True)
        train_loss = tot_loss / max(1, tot_n)
        train_top1 = tot_hit / max(1, tot_n)
        cur_lr = optimizer.param_groups[0]["lr"]
        if val.n:
            _check_finite(val.loss, "validation loss", st["step"], epoch, epoch - 1)
        _append(st["history"], epoch, train_loss, train_top1, val, cur_lr, st["epoch_seconds"])
        throughput = tot_n / max(st["epoch_seconds"], 1e-9)
        emit(EpochEnd(epoch, st["step"], st["epoch_seconds"], {
            "train/loss": train_loss, "train/top1": train_top1, "val/loss": val.loss, "val/top1": val.top1,
            "val/top5": val.top5, "train/lr": cur_lr, "train/seconds": st["epoch_seconds"],
            "train/throughput": throughput}))

        # Best checkpoint (monitor: validation loss; the training loss when there is no validation split).
        monitor = val.loss if val.n else train_loss
        if monitor < st["best_loss"] - cfg.min_delta:
            st["best_loss"], st["best_epoch"] = float(monitor), epoch
            st["es_wait"] = st["plateau_wait"] = 0
            best_state = _clone(ckpt.state_dict_of(model))
            if out_dir is not None:
                path = ckpt.save_model(out_dir, model, _model_meta(cfg, classes, epoch, monitor, fingerprint, run_id),
                                       state=best_state)
                emit(Checkpoint(epoch, str(path), True))
        else:
            st["es_wait"] += 1
            st["plateau_wait"] += 1
            if cfg.plateau_patience and st["plateau_wait"] >= cfg.plateau_patience:
                floor = cfg.min_lr / cfg.lr
                st["lr_scale"] = max(st["lr_scale"] * cfg.plateau_factor, floor)
                st["plateau_wait"] = 0
            if cfg.patience and st["es_wait"] >= cfg.patience:
                st["stopped_early"] = True
        epoch += 1
        save_resume(epoch, 0)
        stop = dist.any_rank(stop or should_stop(), rt.device)
        if stop and epoch <= cfg.epochs and not st["stopped_early"]:
            status = "interrupted"
            break

    history = st["history"]
    epochs_done = len(history["epoch"])
    seconds = st["train_seconds"] + (st["epoch_seconds"] if st["batch"] > 0 else 0.0)
    summary: dict[str, Any] = {
        "model": cfg.model, "params": n_params, "classes": len(classes), "device": rt.describe(),
        "epochs": epochs_done, "total_epochs": cfg.epochs, "best_epoch": st["best_epoch"],
        "stopped_early": bool(st["stopped_early"]), "train_seconds": seconds,
        "images_per_second": (st["images"] / seconds) if seconds > 0 else 0.0,
        "num_train": len(splits.train), "num_val": len(splits.val), "num_test": len(splits.test),
        "world_size": rt.world_size, "fingerprint": fingerprint, "streamed_chunk": streamed,
    }
    if epochs_done:
        summary.update({"train_loss": history["train/loss"][-1], "train_top1": history["train/top1"][-1],
                        "best_val_loss": st["best_loss"] if math.isfinite(st["best_loss"]) else None})
        b = history["epoch"].index(st["best_epoch"]) if st["best_epoch"] in history["epoch"] else -1
        summary.update({"val_top1": history["val/top1"][b], "val_top5": history["val/top5"][b]})
    if out_dir is not None:
        atomic_write_bytes(out_dir / HISTORY_FILE, _json_bytes(history))

    if status == "interrupted":
        summary["resume_from"] = {"epoch": st["epoch"], "batch": st["batch"]}
        emit(RunFinished("interrupted", summary))
        return TrainResult("interrupted", summary, history, model, classes, None, out_dir, run_id)

    if best_state is not None:
        model.load_state_dict(best_state)
    if channels_last:
        # Hand back a model in the default layout: it then computes exactly as load_model's does.
        model = model.to(memory_format=torch.contiguous_format)
        # Eager for the test pass: a compiled graph asserts the strides it was traced with.
        net = fast_view(model)
    # A test split over KEEP drawings is counted whole; only a fixed sample's probabilities are kept.
    rows = kept_rows(len(test_data))
    test = evaluate(net, test_data, rt, cfg.eval_batch_size, keep_probs=rows is None, shard=True)
    summary.update({"test_loss": test.loss, "test_top1": test.top1, "test_top5": test.top5})
    preds = None
    if test.n:
        probs = test.probs if rows is None else evaluate(net, test_data.take(rows), rt, cfg.eval_batch_size,
                                                          keep_probs=True, shard=True).probs
        preds = kept_predictions(splits.test, np.asarray(splits.test.labels, np.int64), classes, probs, rows,
                                 None if rows is None else test.totals())
        if out_dir is not None:
            preds.save(out_dir / PREDICTIONS_FILE)
    emit(RunFinished("done", summary))
    return TrainResult("done", summary, history, model, classes, preds, out_dir, run_id)


def _check_finite(value: float, what: str, step: int, epoch: int, good_epoch: int) -> None:
    """Stop the run (as failed, via TrainingError) when a loss is NaN or infinite."""
    if math.isfinite(value):
        return
    kept = f"the checkpoint of epoch {good_epoch} is kept" if good_epoch > 0 else "no epoch finished, so no model"
    raise TrainingError(f"the {what} became {value} at step {step} (epoch {epoch}); the run stopped as failed "
                        f"and {kept}: lower --lr or check the data")


def _data_budget(cfg: TrainConfig, rt: Runtime) -> float:
    """Bytes the drawings may take on the device (--device-memory, else half the free memory on CUDA)."""
    from qdcore.train import stream

    return cfg.device_memory * 2**30 if cfg.device_memory else stream.default_budget(rt.device)


def _auto_batch(cfg: TrainConfig, model: torch.nn.Module, rt: Runtime, splits, channels_last: bool,
                budget: float) -> tuple[TrainConfig, str]:
    """--batch-size auto settled (autobatch.settle) next to the drawings _placed will put on the device."""
    from qdcore.train import autobatch, stream

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
    from qdcore.train import stream

    parts = (splits.train, splits.val, splits.test)
    if stream.fits(sum(len(p) for p in parts), budget):
        return tuple(DeviceData(np.asarray(p.images), p.labels, rt.device, channels_last) for p in parts)
    return tuple(stream.StreamData.within(p.images, p.labels, rt.device, channels_last, budget, cfg.batch_size)
                 for p in parts)


def _rebatch(batch: int, old_world: int, new_world: int) -> int:
    """A mid-epoch position under another world size: the same drawings of the epoch's permutation consumed."""
    return batch * old_world // new_world


def _model_meta(cfg: TrainConfig, classes: list[str], epoch: int, val_loss: float, fingerprint: str,
                run_id: int | None) -> dict[str, Any]:
    return {"classes": classes, "epoch": epoch, "monitor_loss": float(val_loss), "run_id": run_id,
            "fingerprint": fingerprint, "config": cfg.to_dict()}


def _empty_history() -> dict[str, list[float]]:
    return {k: [] for k in ("epoch", "train/loss", "train/top1", "val/loss", "val/top1", "val/top5", "lr",
                            "seconds")}


def _append(h: dict[str, list[float]], epoch: int, train_loss: float, train_top1: float, val, lr: float,
            seconds: float) -> None:
    for key, v in (("epoch", epoch), ("train/loss", train_loss), ("train/top1", train_top1), ("val/loss", val.loss),
                   ("val/top1", val.top1), ("val/top5", val.top5), ("lr", lr), ("seconds", seconds)):
        h[key].append(v)


def _json_bytes(obj: Any) -> bytes:
    import json

    return (json.dumps(obj, indent=1) + "\n").encode()
