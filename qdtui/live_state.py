"""What a live view knows about a run, fed by engine events or by store rows; formatting. No Textual here."""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text

from qdcore.fmt import DASH, duration, literal, percent
from qdcore.runs.kinds import DEFAULT_KIND, find_kind

STATUS_STYLE = {"running": "bold cyan", "done": "bold green", "failed": "bold red", "interrupted": "bold yellow",
                "starting": "cyan"}


# --- formatting (stored numbers only: no clocks, so views of finished runs are deterministic) ----------


def fmt_duration(seconds: float | None) -> str:
    """'42.0s', '3m 05s', '2h 10m'; a dash where unknown or negative (no clock has run yet)."""
    if isinstance(seconds, (int, float)) and seconds < 0:
        return DASH
    return duration(seconds)


def fmt_eta(seconds: float) -> str:
    """'17s', '3m 05s': whole seconds, an estimate needs no decimals."""
    return f"{math.ceil(seconds)}s" if seconds < 60 else fmt_duration(seconds)


def compact(n: float) -> str:
    """20067 -> '20.1k', 164363 -> '164k', 1234567 -> '1.2M'."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            v = n / div
            return f"{v:.1f}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return f"{n:.0f}"


def fmt_bytes(n: int | float | None) -> str:
    """'512 MB', '1.2 GB'."""
    if n is None:
        return DASH
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    return f"{n / (1 << 20):.0f} MB"


fmt_pct = percent  # the one percent format (qdcore.fmt), under the name the TUI's modules import


def rss_bytes(pid: int | None = None) -> int | None:
    """Resident memory of a process (this one by default), None where it cannot be read."""
    try:
        pages = int(Path(f"/proc/{pid or 'self'}/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        if pid not in (None, os.getpid()):
            return None
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # peak, the best macOS offers cheaply
            return int(peak if sys.platform == "darwin" else peak * 1024)
        except (ImportError, OSError):
            return None


def cuda_bytes() -> int | None:
    """Bytes the CUDA caching allocator holds for tensors, if torch is loaded and CUDA is up."""
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            return int(torch.cuda.memory_allocated())
    except Exception:  # noqa: BLE001 - memory info is decoration, never an error
        return None
    return None


def bar_text(fraction: float, width: int = 20) -> Text:
    """A progress bar in half cells ('━━━╸   ') and its percentage, as one line of text."""
    fraction = min(1.0, max(0.0, fraction))
    halves = int(fraction * width * 2)
    full, half = divmod(halves, 2)
    t = Text("━" * full, style="bold magenta")
    if half:
        t.append("╸", style="bold magenta")
    t.append("━" * (width - full - half), style="grey35")
    t.append(f" {fraction:4.0%}")
    return t


def default_panels() -> tuple:
    """The classifier's panels (a view opened before it knows the run's kind)."""
    from qdcore.runs.kinds import DEFAULT_KIND, get_kind

    return get_kind(DEFAULT_KIND).panels


# --- the state ------------------------------------------------------------------------------------------


@dataclass
class LiveState:
    """A run as seen live: counters, status, and curve points not yet drawn."""

    run_id: int | None = None
    name: str = ""
    kind: str = ""
    status: str = "starting"
    device: str = ""
    error: str = ""
    total_epochs: int | None = None
    steps_per_epoch: int | None = None
    images_per_step: float | None = None
    epoch: int = 0  # epoch of the latest step
    epochs_done: int = 0
    step: int = 0
    throughput: float | None = None  # images/s
    lr: float | None = None
    loss: float | None = None
    epoch_seconds: dict[int, float] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None
    host: str | None = None
    checkpoint_epoch: int | None = None
    rows_seen: int = 0
    points: list[tuple[str, str, float, float]] = field(default_factory=list)  # (plot, series, x, y) to draw
    panels: tuple = ()  # the run kind's qdcore.runs.kinds.Panel list; empty = the classifier's
    unit: str = "epoch"  # what the kind calls one pass ("boosting round" for LightGBM)
    note: str = ""  # why some figures are missing (the kind's note: a GAN without a judge)
    _last_step_point: int = 0
    _epoch_points: set = field(default_factory=set)
    _routes: dict | None = None

    def routes(self) -> dict[str, list[tuple[str, str, float, str]]]:
        """metric key -> [(plot, series label, scale, x axis)] from the kind's panels."""
        if self._routes is None:
            panels = self.panels or default_panels()
            out: dict[str, list[tuple[str, str, float, str]]] = {}
            for p in panels:
                if p.artifact:
                    continue  # drawn from artifact rows, not metric rows
                for i, key in enumerate(p.series):
                    out.setdefault(key, []).append((p.name, p.label(i), p.scale, p.x))
            self._routes = out
        return self._routes

    def _route(self, key: str, epoch: int, step: int, value: float | None) -> None:
        if value is None:
            return
        for plot, series, scale, x in self.routes().get(key, ()):
            self.points.append((plot, series, float(epoch if x == "epoch" else step), scale * value))

    # -- derived -------------------------------------------------------------

    @property
    def total_steps(self) -> int | None:
        """Planned optimisation steps, when both epochs and steps per epoch are known."""
        if self.total_epochs and self.steps_per_epoch:
            return self.total_epochs * self.steps_per_epoch
        return None

    @property
    def train_seconds(self) -> float:
        """Training time of the finished epochs (the summary's figure once the run ended)."""
        s = self.summary.get("train_seconds")
        if isinstance(s, (int, float)) and self.status != "running":
            return float(s)
        return float(sum(self.epoch_seconds.values()))

    @property
    def fraction(self) -> float:
        """How far the run is, 0..1."""
        if self.status == "done":
            return 1.0
        total = self.total_steps
        if total:
            return min(1.0, self.step / total)
        if self.total_epochs:
            return min(1.0, self.epochs_done / self.total_epochs)
        return 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Remaining training time at the current images/s (evaluation not counted)."""
        total = self.total_steps
        if self.status != "running" or not total or not self.throughput or not self.images_per_step:
            return None
        return max(0, total - self.step) * self.images_per_step / self.throughput

    def step_in_epoch(self) -> tuple[int, int | None]:
        """(step within the current epoch, steps per epoch or None)."""
        spe = self.steps_per_epoch
        if spe and self.epoch:
            return self.step - (self.epoch - 1) * spe, spe
        return self.step, None

    def take_points(self) -> list[tuple[str, str, float, float]]:
        """The points added since the last call."""
        pts, self.points = self.points, []
        return pts

    # -- feeding -------------------------------------------------------------

    def _step_point(self, step: int, loss: float | None, lr: float | None) -> None:
        if step <= self._last_step_point:
            return  # a resumed run replays steps the view already has
        self._last_step_point = step
        # Step top-1 is too noisy to plot (no panel asks for it); its plot then redraws once an epoch.
        self._route("step/loss", self.epoch, step, loss)
        self._route("step/lr", self.epoch, step, lr)

    def _epoch_point(self, epoch: int, step: int, key: str, value: float) -> None:
        if (epoch, key) in self._epoch_points:
            return
        self._epoch_points.add((epoch, key))
        self.epochs_done = max(self.epochs_done, epoch)
        self.epoch = max(self.epoch, epoch)
        self.step = max(self.step, step)
        if self.steps_per_epoch is None and epoch > 0 and step > 0:
            self.steps_per_epoch = max(1, round(step / epoch))
        if key == "train/lr":
            self.lr = value
        elif key == "train/seconds":
            self.epoch_seconds[epoch] = value
        elif key == "train/throughput" and self.throughput is None:
            self.throughput = value
        # Epoch ends come at the step they end on, between logging steps: curves shared with steps stay monotonic.
        self._route(key, epoch, step, value)

    def on_event(self, event: Any) -> None:
        """Take one qdcore.events event from this app's training worker."""
        kind = type(event).__name__
        if kind == "RunStarted":
            self.run_id = event.run_id if event.run_id is not None else self.run_id
            self.name = event.name or self.name
            self.device = event.device
            self.total_epochs = event.total_epochs
            self.steps_per_epoch = event.steps_per_epoch
            self.step, self.epoch = max(self.step, event.start_step), max(self.epoch, event.start_epoch)
            if event.steps_per_epoch:
                self.images_per_step = event.num_train / event.steps_per_epoch
            self.status, self.error = "running", ""
        elif kind == "Progress":
            self.step, self.epoch = max(self.step, event.step), max(self.epoch, event.epoch)
            self.throughput, self.lr, self.loss = event.throughput, event.lr, event.loss
            self._step_point(event.step, event.loss, event.lr)
        elif kind == "EpochEnd":
            for key, value in event.metrics.items():
                self._epoch_point(event.epoch, event.step, key, value)
        elif kind == "Checkpoint":
            self.checkpoint_epoch = event.epoch
        elif kind == "RunFinished":
            self.status = event.status
            self.summary = {**self.summary, **dict(event.summary)}
        elif kind == "RunFailed":
            self.status, self.error = "failed", event.error

    def on_rows(self, rows: list[Any]) -> None:
        """Take metric rows read from the store (attach), in id order."""
        pending: dict[int, dict[str, float]] = {}
        for r in rows:
            self.rows_seen += 1
            if r.split == "step":
                pending.setdefault(r.step, {"epoch": r.epoch})[r.name] = r.value
            else:
                self._flush_steps(pending)
                pending = {}
                self._epoch_point(r.epoch, r.step, f"{r.split}/{r.name}", r.value)
        self._flush_steps(pending)

    def _flush_steps(self, pending: dict[int, dict[str, float]]) -> None:
        for step in sorted(pending):
            vals = pending[step]
            self.step = max(self.step, step)
            self.epoch = max(self.epoch, int(vals["epoch"]))
            if "throughput" in vals:
                self.throughput = vals["throughput"]
            self.lr, self.loss = vals.get("lr", self.lr), vals.get("loss", self.loss)
            self._step_point(step, vals.get("loss"), vals.get("lr"))

    def on_record(self, run: Any) -> None:
        """Take the run's store record (attach, or when the view opens on an existing run)."""
        cfg = run.config or {}
        self.run_id, self.name, self.device = run.id, run.name, run.device or self.device
        if run.kind != self.kind:
            self.kind = run.kind
            kind = find_kind(run.kind)
            self.panels, self._routes = (kind.panels if kind is not None else ()), None
        kind = find_kind(run.kind)
        self.unit = kind.unit(cfg) if kind is not None else "epoch"
        self.note = kind.note_for(cfg, run.summary) if kind is not None else ""
        self.pid, self.host = run.pid, run.host
        self.summary = dict(run.summary or {})
        epochs = self.summary.get("total_epochs", cfg.get("epochs"))
        if isinstance(epochs, int) and not isinstance(epochs, bool):
            self.total_epochs = epochs
        spe, n = self.summary.get("steps_per_epoch"), self.summary.get("num_train")
        if isinstance(spe, int) and spe > 0:
            self.steps_per_epoch = spe
            if isinstance(n, int) and n > 0:
                self.images_per_step = n / spe
        batch = cfg.get("batch_size")
        if self.images_per_step is None and isinstance(batch, (int, float)) and batch > 0:
            self.images_per_step = float(batch)
        if self.status != run.status:
            self.status = run.status
            if run.status == "running":
                self.error = ""
        if run.status == "failed":
            self.error = str(self.summary.get("error", "") or self.error)
        ck = self.summary.get("checkpoint")
        if isinstance(ck, dict) and isinstance(ck.get("epoch"), int):
            self.checkpoint_epoch = ck["epoch"]

    # -- text ----------------------------------------------------------------

    def status_text(self) -> Text:
        """The run's name and what state it is in, in one line."""
        t = Text()
        if self.run_id is not None:
            t.append(f"Run {self.run_id} ", style="bold")
        if self.name:
            t.append(f"{literal(self.name)} · ")
        t.append(self.status, style=STATUS_STYLE.get(self.status, ""))
        s = self.summary
        if self.status == "done":
            kind = find_kind(self.kind or DEFAULT_KIND)
            line = kind.result_line(s) if kind is not None and kind.result_line is not None else ""
            if line:
                t.append(f" · {line}")
        elif self.status == "interrupted":
            t.append(f" after {self.unit} {self.epochs_done} · checkpoint kept · r resumes")
        elif self.status == "failed" and self.error:
            t.append(f": {literal(self.error)}", style="red")
        elif self.status == "starting":
            t.append(" · reading the drawings…")
        if self.note:
            t.append(f" · {literal(self.note)}", style="dim")
        return t

    def progress_text(self) -> str:
        """'epoch 2/10 · step 37/50 · ETA 1m 20s · 5.4k img/s' (fits 55 cells)."""
        parts = []
        if self.total_epochs:
            parts.append(f"{self.unit} {max(self.epoch, self.epochs_done if self.status != 'running' else 0) or 1}"
                         f"/{self.total_epochs}")
        elif self.epoch:
            parts.append(f"{self.unit} {self.epoch}")
        step, spe = self.step_in_epoch()
        parts.append(f"step {step}/{spe}" if spe else f"step {step}")
        eta = self.eta_seconds
        if eta is not None:
            parts.append(f"ETA {fmt_eta(eta)}")
        if self.throughput:
            parts.append(f"{compact(self.throughput)} img/s")
        return " · ".join(parts)

    def device_text(self, memory: str = "") -> str:
        """'cpu fp32 · RSS 512 MB · trained 42.0s · checkpoint epoch 3'."""
        parts = [self.device or "device ?"]
        if memory:
            parts.append(memory)
        parts.append(f"trained {fmt_duration(self.train_seconds)}")
        if self.checkpoint_epoch:
            parts.append(f"checkpoint {self.unit} {self.checkpoint_epoch}")
        return " · ".join(parts)
