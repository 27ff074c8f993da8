"""The one training-loop driver: every kind that trains in steps hands it a `Step` (Lightning's Trainer/Callback split).

The driver owns what every kind's training shares: epochs and batches with a resumable position, the
logging window (device sums read once every `log_every` steps), stop agreement across DDP ranks, one
NaN policy, resume checkpoints in one format (`CHECKPOINT_FORMAT`, written at every epoch end and after
the step at which a stop was asked), timing and the summary. A kind supplies the step (its data, model
and optimizers, one optimizer step, its epoch-end metrics, its saved state); early stopping,
reduce-on-plateau, the best checkpoint and sample grids are `Callback`s with their own saved state.

Resume is exact: an interrupted and resumed run ends where an uninterrupted one does, and each Progress
and EpochEnd is emitted once across the parts.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from qdcore.errors import StoreError, TrainingError
from qdcore.events import Checkpoint, EpochEnd, Progress, RunFinished, RunStarted, Sink, log_due, null_sink
from qdcore.paths import atomic_write_bytes
from qdcore.train import checkpoint as ckpt
from qdcore.train import distributed as dist
from qdcore.train.device import Runtime, resolve
from qdcore.train.peers import reported
from qdcore.train.rng import rng_state, set_rng_state
from qdcore.train.threads import keep_threads

POINTS_PER_LOG = 10  # step-curve points per logging window (means over equal runs of steps)


def ranked(device: str, amp: bool | None, sink: Sink, body: Callable[[Runtime, Sink], Any]) -> Any:
    """Run `body(rt, emit)` on this rank: join torchrun's group, rank 0 alone emits, every rank leaves together."""
    rt = resolve(device, amp)
    dist.join(rt.device, rt.world_size)
    emit = sink if rt.rank == 0 else null_sink  # only rank 0 talks to sinks and writes files
    with reported(emit):
        result = body(rt, emit)
    # Every rank leaves together: a rank exiting while a peer still talks to it aborts that peer (Gloo).
    dist.barrier()
    dist.leave()
    return result


class Clock:
    """Training time: CUDA events on CUDA (no host sync per step), perf_counter elsewhere."""

    def __init__(self, rt: Runtime) -> None:
        self.cuda = rt.device.type == "cuda"
        self.rt = rt

    def start(self) -> None:
        """Start timing (after the device finished what it was doing)."""
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


@dataclass
class Out:
    """One step's statistics: sums on the device, the count they are means over, drawings seen, a curve point."""

    sums: dict[str, torch.Tensor]
    n: int
    seen: int
    point: torch.Tensor | None = None  # the step's value of the step curve (Progress.step_losses)


class Meter:
    """Sums of step statistics kept on the device; one host read when they are needed."""

    def __init__(self, device: torch.device, saved: dict[str, Any] | None = None) -> None:
        saved = saved or {}
        self.device = device
        # Saved ints come back as int64 tensors and floats as float32, as they were summed.
        self.sums = {k: torch.tensor(v, device=device) for k, v in saved.get("sums", {}).items()}
        self.n = int(saved.get("n", 0))
        self.seen = int(saved.get("seen", 0))

    def add(self, out: Out) -> None:
        """Add one step."""
        for k, v in out.sums.items():
            if k not in self.sums:
                self.sums[k] = torch.zeros((), dtype=v.dtype, device=self.device)
            self.sums[k] += v
        self.n += out.n
        self.seen += out.seen

    def values(self) -> dict[str, float | int]:
        """The sums as Python numbers (one transfer)."""
        keys = list(self.sums)
        if not keys:
            return {}
        vals = torch.stack([self.sums[k].double() for k in keys]).tolist()
        return {k: (int(v) if not self.sums[k].is_floating_point() else v) for k, v in zip(keys, vals)}

    def state(self) -> dict[str, Any]:
        """JSON-ready sums and counts."""
        return {"sums": self.values(), "n": self.n, "seen": self.seen}

    def reduced(self, rt: Runtime) -> dict[str, Any]:
        """Sums and counts over all ranks (one collective), as `state()` gives them."""
        keys = list(self.sums)
        ints = {k for k in keys if not self.sums[k].is_floating_point()}
        *sums, n, seen = dist.all_sum(*[self.sums[k] for k in keys], self.n, self.seen, device=rt.device)
        return {"sums": {k: int(v) if k in ints else v for k, v in zip(keys, sums)}, "n": int(n), "seen": int(seen)}


def means(state: dict[str, Any]) -> dict[str, float]:
    """A meter state's sums divided by its count."""
    return {k: v / max(1, state["n"]) for k, v in state["sums"].items()}


def watched_loss(metrics: dict[str, float]) -> float:
    """What the best epoch, early stopping and plateau watch: the validation loss, else (no validation) the training's."""
    val = metrics.get("val/loss")
    return val if val is not None and math.isfinite(val) else metrics["train/loss"]


class Step:
    """What a kind hands the driver: its data, models and optimizers behind one optimizer step."""

    epochs: int = 1
    steps_per_epoch: int = 1
    log_every: int = 50
    curve: str = "loss"  # the window mean that Progress.loss reports
    advice: str = "lower the learning rate or check the data"  # what the NaN message tells the user to do
    subject: str = "training"  # the NaN message's first words: "<subject> diverged (NaN/inf): ..."
    failure: type[TrainingError] = TrainingError  # what the NaN policy raises (a kind may set its exit code)
    history_keys: dict[str, str] | None = None  # history name -> metric key (None: every metric)
    fits = "model/optimizer"  # what a checkpoint that does not load "does not fit" (the resume error's words)
    # The step's own random stream (augmentation, noise): a mid-epoch checkpoint carries it with the CPU's and
    # CUDA's under the key `stream`. Shared: every rank draws the same stream, so every rank restores it;
    # otherwise each rank has its own and only rank 0's, under the same number of ranks, is restored.
    generator: torch.Generator | None = None
    stream = "stream"
    shared_stream = False
    poll_after_epoch = True  # ask should_stop() again after the epoch's evaluation (one-step epochs: once is enough)
    checkpoint_seconds = 0.0  # epoch ends write the resume checkpoint at most this often (0: each; a stop always)

    def at(self, step: int) -> int:
        """The step number Progress and EpochEnd report (e.g. L-BFGS iterations so far); default the loop's."""
        return step

    def history(self, metrics: dict[str, float]) -> dict[str, Any]:
        """The epoch's row of history.json."""
        keys = self.history_keys or {k: k for k in metrics}
        return {name: metrics.get(key) for name, key in keys.items()}

    def lr(self) -> float:
        """The learning rate the Progress rows show."""
        return 0.0

    def begin_epoch(self, epoch: int, restored: bool) -> None:
        """Seed the epoch's random streams, unless `restored` (the driver put back the checkpoint's)."""

    def batches(self, epoch: int, start: int) -> Iterable[Any]:
        """The epoch's batches from position `start` on."""
        return range(start, self.steps_per_epoch)

    def step(self, batch: Any, step: int) -> Out:
        """One optimizer step (everything stays on the device)."""
        raise NotImplementedError

    def epoch_end(self, loop: Loop, epoch: int, train: dict[str, Any]) -> dict[str, float]:
        """The epoch's metrics {"split/name": value} from the training sums over all ranks (`train`)."""
        return {f"train/{k}": v for k, v in means(train).items()}

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        """Named state dicts for the checkpoint."""
        return {}

    def optimizers(self) -> dict[str, dict[str, Any]]:
        """Named optimizer states for the checkpoint."""
        return {}

    def state(self) -> dict[str, Any]:
        """JSON-ready state besides tensors (scalers, ...)."""
        return {}

    def load(self, saved: dict[str, Any], where: Path) -> None:
        """Restore from what `modules/optimizers/state` saved (`saved` as `ckpt.load_states` gives it)."""


class Callback:
    """Something done at steps or epoch ends, with its own saved state (key: its name in the checkpoint)."""

    key: str = "callback"

    def on_step(self, loop: Loop, step: int, epoch: int) -> None:
        """After each optimizer step."""

    def on_epoch_end(self, loop: Loop, epoch: int, metrics: dict[str, float]) -> None:
        """After the epoch's EpochEnd."""

    def state(self) -> dict[str, Any]:
        """JSON-ready state for the checkpoint."""
        return {}

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        """Named tensors for the checkpoint (e.g. the best weights)."""
        return {}

    def load(self, state: dict[str, Any], modules: dict[str, dict[str, torch.Tensor]]) -> None:
        """Restore what state() and modules() saved."""


def nan_error(step: Step, what: str, value: float, at: int, epoch: int) -> TrainingError:
    """The one NaN policy: the run fails (never checkpointing touched weights); the last finished epoch's files stay."""
    good = epoch - 1
    kept = f"the checkpoint of epoch {good} is kept" if good > 0 else "no epoch finished, so no model"
    return step.failure(f"{step.subject} diverged (NaN/inf): the {what} became {value} at step {at} (epoch {epoch}); "
                        f"the run stopped as failed and {kept}: {step.advice}")


@dataclass
class Loop:
    """Drives a `Step` through its epochs; see the module docstring."""

    step: Step
    rt: Runtime
    emit: Sink
    should_stop: Callable[[], bool]
    out_dir: Path | None
    callbacks: list[Callback] = field(default_factory=list)
    st: dict[str, Any] = field(default_factory=dict)
    status: str = "done"
    asked: bool = False  # a stop was asked at the epoch's last step
    notes: tuple[str, ...] = ()  # what the resume says (another number of processes)
    rng: dict[str, torch.Tensor] = field(default_factory=dict)  # the resumed checkpoint's random streams
    rng_world: int = 1  # the number of ranks that wrote them
    saved_at: float = field(default_factory=time.monotonic)  # when the last resume checkpoint was written
    cpu0: float = field(default_factory=time.process_time)  # process CPU seconds at the start (less resumed ones)

    def __post_init__(self) -> None:
        self.st = {"epoch": 1, "batch": 0, "step": 0, "train_seconds": 0.0, "epoch_seconds": 0.0, "images": 0,
                   "acc": None, "win": None, "history": {}, "stopped_early": False, "classes": None,
                   "fingerprint": None, "world_size": self.rt.world_size, "threads": self.rt.threads}

    # -- resume -------------------------------------------------------------------------------------------

    def resume(self, folder: Path | None, classes: list[str], fingerprint: str, who: Any) -> bool:
        """Continue from `folder`'s checkpoint when it has one (True); refuse a checkpoint of other drawings."""
        self.st.update(classes=classes, fingerprint=fingerprint)
        if folder is None or not (Path(folder) / ckpt.RESUME_FILE).exists():
            return False
        path = Path(folder) / ckpt.RESUME_FILE
        saved = ckpt.load_states(path, CHECKPOINT_FORMAT, "resume checkpoint")
        s = saved["state"]
        if s.get("classes") != classes or s.get("fingerprint") != fingerprint:
            raise StoreError(f"the drawings selected now differ from those run {who} trained on "
                             "(data changed?); start a new run instead of --resume")
        modules = saved["modules"]
        try:
            self.step.load({**saved, "modules": _part(modules, "kind"), "state": s.get("kind", {})}, path)
        except (RuntimeError, ValueError, KeyError) as e:
            raise StoreError(f"{path} does not fit this {self.step.fits} ({e})".splitlines()[0]) from None
        self.rng, self.rng_world = saved["rng"], int(s.get("world_size", 1))
        self.cpu0 = time.process_time() - float(s.get("cpu_seconds", s.get("kind", {}).get("cpu_seconds", 0.0)))
        for cb in self.callbacks:
            cb.load(s.get("callbacks", {}).get(cb.key, {}), _part(modules, cb.key))
        self.st.update({k: v for k, v in s.items() if k not in ("kind", "callbacks")})
        # A mid-epoch position under another world size: the same drawings of the epoch consumed.
        self.st["batch"] = self.st["batch"] * int(s.get("world_size", 1)) // self.rt.world_size
        if self.rt.rank != 0:  # the saved sums are over all ranks: rank 0 carries them
            self.st["acc"] = self.st["win"] = None
        self.notes = dist.world_note(int(s.get("world_size", 1)), self.rt.world_size)
        if self.rt.device.type == "cpu":
            saved_threads = s.get("threads")  # a tampered value is no count: the load decides, as for old checkpoints
            kept = keep_threads(saved_threads if isinstance(saved_threads, int) and 0 < saved_threads <= 1024 else 0)
            if kept:
                self.notes += (kept,)
                self.rt = replace(self.rt, threads=torch.get_num_threads())  # the summary names the count used
            self.st["threads"] = torch.get_num_threads()
        self.st["world_size"] = self.rt.world_size
        return True

    def save(self, epoch: int, batch: int) -> Path | None:
        """Write the resume checkpoint at a position (rank 0 with a folder only)."""
        self.st["epoch"], self.st["batch"] = epoch, batch
        if self.out_dir is None:
            return None
        self.saved_at = time.monotonic()
        self.st["cpu_seconds"] = self.cpu_seconds()
        modules = {f"kind:{k}": v for k, v in self.step.modules().items()}
        for cb in self.callbacks:
            modules.update({f"{cb.key}:{k}": v for k, v in cb.modules().items()})
        state = {**self.st, "kind": self.step.state(), "callbacks": {cb.key: cb.state() for cb in self.callbacks}}
        gen = self.step.generator
        rng = rng_state(self.rt, gen, self.step.stream) if gen is not None else {}
        return ckpt.save_states(self.out_dir / ckpt.RESUME_FILE, modules, self.step.optimizers(), rng, state,
                                CHECKPOINT_FORMAT)

    def _restore_stream(self) -> bool:
        """Put back the step's random stream from a mid-epoch checkpoint where this rank continues it (True)."""
        step, rt = self.step, self.rt
        if step.generator is None or not self.rng:
            return False
        if not step.shared_stream and (rt.rank != 0 or self.rng_world != rt.world_size):
            return False
        set_rng_state(rt, step.generator, self.rng, step.stream)
        return True

    # -- the loop -----------------------------------------------------------------------------------------

    def run(self, started: RunStarted) -> str:
        """Train to the planned end, an early stop or an agreed stop; returns "done" or "interrupted"."""
        self.emit(replace(started, notes=started.notes + self.notes) if self.notes else started)
        restored = self.st["batch"] > 0
        epoch = self.st["epoch"]
        while epoch <= self.step.epochs and not self.st["stopped_early"]:
            if self._epoch(epoch, restored):
                break
            restored = False
            epoch += 1
            every = self.step.checkpoint_seconds
            due = not every or time.monotonic() - self.saved_at >= every
            if due:
                self.save(epoch, 0)
            asked = self.asked or (self.step.poll_after_epoch and self.should_stop())
            stop = dist.any_rank(asked, self.rt.device)
            if stop and epoch <= self.step.epochs and not self.st["stopped_early"]:
                if not due:
                    self.save(epoch, 0)
                self.status = "interrupted"
                break
        return self.status

    def _epoch(self, epoch: int, restored: bool) -> bool:
        """One epoch from the saved position; True when the run stops inside it (checkpoint written)."""
        st, rt, step = self.st, self.rt, self.step
        start = st["batch"]
        step.begin_epoch(epoch, restored and self._restore_stream())
        if start == 0:
            st["acc"], st["win"], st["epoch_seconds"] = None, None, 0.0
        acc, win = Meter(rt.device, st["acc"]), Meter(rt.device, st["win"])
        # Each step's curve value waits on the device until the window is read (no per-step host sync).
        buf = torch.zeros(step.log_every, device=rt.device)
        buf_first, buf_n = st["step"] + 1, 0
        clock = Clock(rt)
        clock.start()
        t_win = time.perf_counter()
        bi, stop = start, False
        for bi, batch in enumerate(step.batches(epoch, start), start):  # noqa: B007 - bi: the last batch, read after
            st["step"] += 1
            out = step.step(batch, st["step"])
            acc.add(out)
            win.add(out)
            if out.point is not None and buf_n < step.log_every:
                buf[buf_n] = out.point
            buf_n += 1
            st["images"] += out.seen * rt.world_size
            asked = self.should_stop()
            if log_due(st["step"], step.log_every, t_win, rt.world_size):
                # The only per-step host sync: once a logging window (steps or seconds), one read for it.
                now = time.perf_counter()
                progress = self._progress(epoch, win, buf, buf_first, buf_n, now - t_win)
                bad = next(((k, v) for k, v in self._window.items() if not math.isfinite(v)), None)
                if rt.world_size > 1:
                    # One collective for both flags: a NaN on any rank fails all ranks, a stop stops all at
                    # this step. On a rank whose own window stayed finite, the NaN is another rank's.
                    anywhere, asked = dist.any_ranks([bad is not None, asked], rt.device)
                    bad = bad if bad is not None else ((step.curve, math.nan) if anywhere else None)
                if bad is not None:
                    raise nan_error(step, f"training {bad[0].replace('_', ' ')}", bad[1], st["step"], epoch)
                self.emit(progress)
                win, t_win, buf_first, buf_n = Meter(rt.device), now, st["step"] + 1, 0
            elif rt.world_size > 1:
                asked = False  # ranks agree at logging steps only (above), so all end at the same step
            for cb in self.callbacks:
                cb.on_step(self, st["step"], epoch)
            if asked:
                stop = True
                break
        st["epoch_seconds"] += clock.stop()
        finished = bi + 1 >= step.steps_per_epoch
        if finished and win.n:
            # The epoch's last partial window, read with the epoch's own sync: a short run's step curve
            # covers every epoch, not only the steps before the last multiple of log_every.
            self.emit(self._progress(epoch, win, buf, buf_first, buf_n, time.perf_counter() - t_win))
            win = Meter(rt.device)
        # Sums over all ranks (one collective an epoch); rank 0 keeps them, the others restart from zero.
        total = acc.reduced(rt)
        st["acc"] = total if rt.rank == 0 else None
        st["win"] = win.state()
        # Never checkpoint weights a non-finite loss has touched: the last good checkpoint stays.
        # The sums are the same on every rank, so all ranks fail together.
        for k, v in means(total).items():
            if not math.isfinite(v):
                raise nan_error(step, f"training {k.replace('_', ' ')}", v, st["step"], epoch)
        if stop and not finished:
            # Mid-epoch: the checkpoint continues at the next batch with the same random streams.
            path = self.save(epoch, bi + 1)
            if path is not None:
                self.emit(Checkpoint(epoch, str(path), False))
            self.status = "interrupted"
            return True
        self.asked = stop
        st["train_seconds"] += st["epoch_seconds"]
        self._epoch_end(epoch, total)
        return False

    def _epoch_end(self, epoch: int, total: dict[str, Any]) -> None:
        st = self.st
        metrics = self.step.epoch_end(self, epoch, total)
        hist = st["history"]
        hist.setdefault("epoch", []).append(epoch)
        for name, value in self.step.history(metrics).items():
            hist.setdefault(name, []).append(value)
        self.emit(EpochEnd(epoch, self.step.at(st["step"]), st["epoch_seconds"], dict(metrics)))
        for cb in self.callbacks:
            cb.on_epoch_end(self, epoch, metrics)

    def check(self, value: float, what: str, epoch: int) -> None:
        """The NaN policy for an epoch-end value (e.g. the validation loss)."""
        if not math.isfinite(value):
            raise nan_error(self.step, what, value, self.st["step"], epoch)

    def _progress(self, epoch: int, win: Meter, buf: torch.Tensor, first: int, n: int, seconds: float) -> Progress:
        """The window's Progress, read from the device in one transfer (curve points: means over runs of steps)."""
        keys = list(win.sums)
        kept = min(n, buf.numel())
        vals = torch.cat([torch.stack([win.sums[k].float() for k in keys]), buf[:kept].float()]).tolist()
        mean = {k: v / max(1, win.n) for k, v in zip(keys, vals)}
        per_step = vals[len(keys):]
        stride = max(1, -(-len(per_step) // POINTS_PER_LOG))
        points = []
        for k in range(0, len(per_step), stride):
            chunk = per_step[k:k + stride]
            points.append((first + k + len(chunk) - 1, sum(chunk) / len(chunk)))
        rate = win.seen * self.rt.world_size / max(seconds, 1e-9)
        self._window = mean
        return Progress(self.step.at(self.st["step"]), epoch, self.st["images"], self.step.lr(), mean[self.step.curve], rate,
                        mean.get("top1"), tuple(points))

    # -- the end ------------------------------------------------------------------------------------------

    def cpu_seconds(self) -> float:
        """Process CPU seconds of this run so far, over resumes (all threads): the cost measure on a shared machine."""
        return time.process_time() - self.cpu0

    def seconds(self) -> float:
        """Training seconds so far (an interrupted epoch's part included)."""
        st = self.st
        return st["train_seconds"] + (st["epoch_seconds"] if st["batch"] > 0 else 0.0)

    def summary(self) -> dict[str, Any]:
        """What every kind's summary holds: epochs, time, throughput, ranks."""
        seconds = self.seconds()
        return {"device": self.rt.describe(), "epochs": len(self.st["history"].get("epoch", [])),
                "total_epochs": self.step.epochs, "train_seconds": seconds,
                "images_per_second": (self.st["images"] / seconds) if seconds > 0 else 0.0,
                "world_size": self.rt.world_size, "fingerprint": self.st["fingerprint"]}

    def write_history(self, name: str) -> None:
        """history.json (rank 0 with a folder only)."""
        if self.out_dir is not None:
            atomic_write_bytes(self.out_dir / name, (json.dumps(self.st["history"], indent=1) + "\n").encode())

    def interrupted(self, summary: dict[str, Any]) -> None:
        """Say where a resume continues, then RunFinished("interrupted")."""
        summary.setdefault("resume_from", {"epoch": self.st["epoch"], "batch": self.st["batch"]})
        self.emit(RunFinished("interrupted", summary))


def update(opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None, loss: torch.Tensor) -> None:
    """One optimizer step on `loss` (through the grad scaler under fp16 AMP)."""
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()


CHECKPOINT_FORMAT = ckpt.RESUME_FORMAT  # the resume checkpoint of every kind the loop drives


def _part(modules: dict[str, Any], owner: str) -> dict[str, Any]:
    """The checkpoint's modules of one owner ("kind" or a callback's key), names without the owner."""
    return {k.split(":", 1)[1]: v for k, v in modules.items() if k.startswith(owner + ":")}


# -- callbacks every kind may use ----------------------------------------------------------------------------


class Monitor(Callback):
    """Tracks the best value of a monitored metric; subclasses act on improvement or a wait."""

    def __init__(self, key: str, monitor: Callable[[dict[str, float]], float], min_delta: float) -> None:
        self.key, self.monitor, self.min_delta = key, monitor, min_delta
        self.best, self.best_epoch, self.wait = math.inf, 0, 0

    def on_epoch_end(self, loop: Loop, epoch: int, metrics: dict[str, float]) -> None:
        value = self.monitor(metrics)
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = float(value), epoch, 0
            self.improved(loop, epoch, value)
        else:
            self.wait += 1
            self.waited(loop, epoch)

    def improved(self, loop: Loop, epoch: int, value: float) -> None:
        """A new best."""

    def waited(self, loop: Loop, epoch: int) -> None:
        """Another epoch without improvement."""

    def state(self) -> dict[str, Any]:
        return {"best": self.best if math.isfinite(self.best) else None, "best_epoch": self.best_epoch,
                "wait": self.wait}

    def load(self, state: dict[str, Any], modules: dict[str, dict[str, torch.Tensor]]) -> None:
        best = state.get("best")
        self.best = math.inf if best is None else float(best)
        self.best_epoch, self.wait = int(state.get("best_epoch", 0)), int(state.get("wait", 0))


class EarlyStopping(Monitor):
    """Stop after `patience` epochs without improvement (0: never)."""

    def __init__(self, monitor: Callable[[dict[str, float]], float], min_delta: float, patience: int) -> None:
        super().__init__("early_stopping", monitor, min_delta)
        self.patience = patience

    def waited(self, loop: Loop, epoch: int) -> None:
        if self.patience and self.wait >= self.patience:
            loop.st["stopped_early"] = True


class Plateau(Monitor):
    """Multiply the learning rate's `scale` by `factor` after `patience` epochs without improvement, down to a floor."""

    def __init__(self, monitor: Callable[[dict[str, float]], float], min_delta: float, patience: int,
                 factor: float, floor: float) -> None:
        super().__init__("plateau", monitor, min_delta)
        self.patience, self.factor, self.floor, self.scale = patience, factor, floor, 1.0

    def waited(self, loop: Loop, epoch: int) -> None:
        if self.patience and self.wait >= self.patience:
            self.scale = max(self.scale * self.factor, self.floor)
            self.wait = 0

    def state(self) -> dict[str, Any]:
        return {**super().state(), "scale": self.scale}

    def load(self, state: dict[str, Any], modules: dict[str, dict[str, torch.Tensor]]) -> None:
        super().load(state, modules)
        self.scale = float(state.get("scale", 1.0))


class BestCheckpoint(Monitor):
    """Keep the best weights (in the resume checkpoint) and write them as the run's model at each improvement."""

    def __init__(self, monitor: Callable[[dict[str, float]], float], min_delta: float,
                 weights: Callable[[], dict[str, torch.Tensor]],
                 write: Callable[[int, float, dict[str, torch.Tensor]], Path | None]) -> None:
        super().__init__("best", monitor, min_delta)
        self.weights, self.write = weights, write
        self.kept: dict[str, torch.Tensor] | None = None

    def improved(self, loop: Loop, epoch: int, value: float) -> None:
        self.kept = {k: v.detach().clone() for k, v in self.weights().items()}
        path = self.write(epoch, value, self.kept) if loop.out_dir is not None else None
        if path is not None:
            loop.emit(Checkpoint(epoch, str(path), True))

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        return {"weights": self.kept} if self.kept is not None else {}

    def load(self, state: dict[str, Any], modules: dict[str, dict[str, torch.Tensor]]) -> None:
        super().load(state, modules)
        self.kept = modules.get("weights")
