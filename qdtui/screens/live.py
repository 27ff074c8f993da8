"""The live view of one run: curves, progress, device; fed by this app's training worker or by polling the store."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static
from textual.worker import get_current_worker

from qdtui.live_state import LiveState, bar_text, cuda_bytes, fmt_bytes, rss_bytes
from qdtui.loaders import user_message
from qdtui.messages import EngineEvent, MetricRows, post_sink
from qdtui.screens.dialogs import ConfirmDialog
from qdtui.widgets.curves import Curves

POLL_SECONDS = 0.75  # attach: how often the store is read
FLUSH_SECONDS = 1.0  # labels and the progress bar are redrawn at most this often
PLOT_SECONDS = 2.0  # curves of a running run at most this often (a plot costs tens of ms of the GIL) ...
PLOT_BUDGET = 0.02  # ... and further apart when redrawing them would take more than 2% of a core
PLOT_MAX_SECONDS = 10.0
MEMORY_EVERY = 3  # flushes between memory readings while nothing else changes
PROGRESS_SECONDS = 0.2  # a training here posts at most 5 Progress events a second to the UI
BAR_WIDTH = 18  # cells; the percentage and 'epoch · step · ETA · img/s' follow on the same line
POLL_LIMIT = 20_000  # metric rows read per poll (a long backlog comes in a few polls)

# Stop flags of the trainings this process runs, by (store home, run id): `c` in an attach view of a run
# trained here (in the background) must set its flag, a signal to our own pid would stop the app.
LOCAL_TRAININGS: dict[tuple[str, int], threading.Event] = {}


class LiveCurves(Curves):
    """Curves that time their redraws, so the live view can space them to fit its CPU budget."""

    cost = 0.0  # seconds per redraw (moving average)

    def render(self):
        t = time.perf_counter()
        out = super().render()
        dt = time.perf_counter() - t
        self.cost = dt if not self.cost else 0.7 * self.cost + 0.3 * dt
        return out


def throttled(sink: Any, seconds: float = PROGRESS_SECONDS) -> Any:
    """A sink that forwards Progress events at most every `seconds` (others always): fewer wake-ups of the UI.

    Runs in the training thread, so it costs a clock read per logging step; the store still gets every row.
    """
    last = [-1e9]

    def forward(event: Any) -> None:
        if type(event).__name__ == "Progress":
            now = time.monotonic()
            if now - last[0] < seconds:
                return
            last[0] = now
        sink(event)

    return forward


# --- messages of this screen ------------------------------------------------------------------------


class RunPolled(MetricRows):
    """A poll of the store for a followed run: its record (or `error`) and the new metric rows."""

    def __init__(self, run_id: int, rows: list, run: Any | None, error: str = "") -> None:
        super().__init__(run_id, rows, getattr(run, "status", "") or "")
        self.run = run
        self.error = error


class TrainingEnded(Message):
    """This app's training worker returned (`status`) or raised (`error`, one line)."""

    def __init__(self, run_id: int | None, status: str, error: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.status = status
        self.error = error


# --- the screen ---------------------------------------------------------------------------------------


def share_cores_with_ui() -> None:
    """Leave one core to the UI thread when training in the app's process.

    On a small CPU box the engine's OpenMP threads otherwise wait at their barriers whenever the UI
    thread runs (bench_live: 42% slower on 2 cores); one core fewer costs far less, and nothing on GPUs.
    """
    import torch

    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


class LiveScreen(Screen):
    """Curves, progress and device of a run: trained here (`config=`) or followed in the store (`run_id=`)."""

    DEFAULT_CSS = """
    LiveScreen #live-info { height: auto; padding: 0 1; }
    LiveScreen #live-status { height: 1; }
    LiveScreen #live-progress { height: 1; }
    LiveScreen #live-device { height: 1; color: $text-muted; }
    LiveScreen #live-plots { height: 1fr; }
    LiveScreen #live-lr { height: 8; }
    LiveScreen Curves { min-height: 5; }
    """
    BINDINGS = [
        Binding("c", "cancel", "Cancel run"),
        Binding("r", "resume", "Resume"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("escape", "leave", "Back"),
    ]
    HELP_EXTRA = [
        ("curves", "loss per logging step (step) and per epoch (train, val); top-1 per epoch; x is the step"),
        ("ETA", "training time left at the current images/s (evaluation not counted)"),
        ("escape", "back; a run trained here keeps training (Runs lists it, Enter follows it)"),
    ]

    def __init__(self, *, run_id: int | None = None, config: Any = None, home: str | Path | None = None) -> None:
        super().__init__()
        if run_id is None and config is None:
            raise ValueError("LiveScreen needs run_id= (follow a run) or config= (train one)")
        self.config = config
        self.home = home
        self.live = LiveState(run_id=run_id, name=getattr(config, "name", "") or "")
        self.mode = "local" if config is not None else "attach"
        self._stop: threading.Event | None = None
        self._store = None
        self._after = 0
        self._polling = False
        self.polls = 0  # completed polls (tests wait on it)
        self._dirty = True
        self._memory = ""
        self._flushes = 0
        self._ticks = 0
        self._plotted = 0.0

    # -- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="live-info"):
            yield Static("", id="live-status")
            yield Static("", id="live-progress")
            yield Static("", id="live-device")
        with Horizontal(id="live-plots"):
            yield LiveCurves("loss", id="live-loss")
            yield LiveCurves("top-1 %", id="live-top1")
        yield LiveCurves("learning rate", id="live-lr")
        yield Footer()

    @property
    def plots(self) -> dict[str, LiveCurves]:
        """The curve widgets by plot name: loss, top1, lr."""
        return {"loss": self.query_one("#live-loss", LiveCurves), "top1": self.query_one("#live-top1", LiveCurves),
                "lr": self.query_one("#live-lr", LiveCurves)}

    def on_mount(self) -> None:
        plots = self.plots
        # Fixed series order and colours: the raw step loss faint, epochs in colour.
        for plot, names in (("loss", ("step", "train", "val")), ("top1", ("train", "val"))):
            for name, color in zip(names, ("gray", "cyan", "orange")[-len(names):]):
                plots[plot].set_series(name, [], [])
                plots[plot].series[name].color = color
        plots["lr"].set_series("lr", [], [])
        plots["lr"].series["lr"].color = "green"
        self._fit()
        self._show()
        self.set_interval(FLUSH_SECONDS, self._flush)
        if self.mode == "local":
            self._start_training(None)
        else:
            self._poll()
            self.set_interval(POLL_SECONDS, self._poll)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        # A tall terminal gives the learning rate a real plot; 24 rows keep it a strip.
        tall = self.app.size.height >= 34
        self.query_one("#live-lr").styles.height = "1fr" if tall else 8
        self.query_one("#live-plots").styles.height = "2fr" if tall else "1fr"

    @property
    def store_home(self) -> Path:
        """The run store this view reads and writes."""
        from qdcore.paths import qd_home

        return qd_home(self.home) if self.home is not None else self.app.state.store_home

    def _get_store(self):
        if self._store is None:
            from qdcore.store import Store

            self._store = Store(self.store_home)
        return self._store

    def on_unmount(self) -> None:
        if self._store is not None:
            self._store.close()

    # -- training in this app --------------------------------------------------

    def _start_training(self, resume_id: int | None) -> None:
        """Run start_run (or resume_run) in a thread worker owned by the app, so leaving the view keeps it going."""
        stop = self._stop = threading.Event()
        self.mode = "local"
        self.live.status, self.live.error = "starting", ""
        self._dirty = True
        sink = throttled(post_sink(self, self.live.run_id))
        home = self.store_home
        cfg = self.config
        screen = self

        def job() -> None:
            from qdcore.store import Store

            worker = get_current_worker()
            key: list[tuple[str, int]] = []

            def should_stop() -> bool:
                return stop.is_set() or worker.is_cancelled  # app exit cancels: checkpoint, 'interrupted'

            def register(event: Any) -> None:
                rid = getattr(event, "run_id", None) if type(event).__name__ == "RunStarted" else None
                if rid is not None and not key:
                    key.append((str(home), int(rid)))
                    LOCAL_TRAININGS[key[0]] = stop
                sink(event)

            share_cores_with_ui()
            try:
                with Store(home) as store:
                    if resume_id is not None:
                        from qdcore.train.runner import resume_run

                        result = resume_run(resume_id, store, register, should_stop)
                    else:
                        from qdcore.train.runner import start_run

                        result = start_run(cfg, store, register, should_stop)
                screen.post_message(TrainingEnded(result.run_id, result.status))
            except Exception as e:  # noqa: BLE001 - shown in the view, never a traceback
                screen.post_message(TrainingEnded(None, "failed", user_message(e)))
            finally:
                if key:
                    LOCAL_TRAININGS.pop(key[0], None)

        self.app.run_worker(job, name=f"train {self.live.name or 'run'}", group="training", thread=True,
                            exit_on_error=False)
        self.refresh_bindings()

    def on_engine_event(self, message: EngineEvent) -> None:
        if self.mode != "local":
            return
        self.live.on_event(message.event)
        self._dirty = True
        if message.kind in ("RunStarted", "RunFinished", "RunFailed"):
            if message.kind == "RunStarted":
                self.sub_title = f"Run {self.live.run_id}"
            self._flush(now=True)
            self.refresh_bindings()

    def on_training_ended(self, message: TrainingEnded) -> None:
        if message.error:
            self.live.status, self.live.error = "failed", message.error
            if self.live.run_id is None:
                self.app.show_error(message.error, title="Training could not start",
                                    hint="Escape goes back to the form.")
        elif message.status:
            self.live.status = message.status
        self._flush(now=True)
        self.refresh_bindings()

    # -- following a run in the store ------------------------------------------

    def _poll(self) -> None:
        if self.mode != "attach" or self._polling:
            return
        self._polling = True
        self._poll_worker(self._after)

    @work(thread=True, exclusive=True, group="live-poll", exit_on_error=False)
    def _poll_worker(self, after: int) -> None:
        """Read the run's record and the metric rows written since `after`."""
        run_id = self.live.run_id
        try:
            store = self._get_store()
            run = store.get_run(run_id)
            rows = store.metrics(run_id, after_id=after, limit=POLL_LIMIT)
            self.post_message(RunPolled(run_id, rows, run))
        except Exception as e:  # noqa: BLE001 - a missing run or a locked store is a line in the view
            self.post_message(RunPolled(run_id, [], None, user_message(e)))

    def on_run_polled(self, message: RunPolled) -> None:
        self._polling = False
        if self.mode != "attach":
            return
        first = self.polls == 0
        self.polls += 1
        before = self.live.status
        if message.run is None:
            self.live.error = message.error
            self.live.status = "failed" if "no run" in message.error else self.live.status
            self.query_one("#live-status", Static).update(Text(f"Run {self.live.run_id}: {message.error}",
                                                                style="red"))
            return
        self.live.on_record(message.run)
        if message.rows:
            self.live.on_rows(message.rows)
            self._after = message.rows[-1].id
        if first:
            self.sub_title = f"Run {self.live.run_id} · following"
        self._dirty = self._dirty or bool(message.rows) or before != self.live.status
        if first or before != self.live.status:
            self._flush(now=True)
            self.refresh_bindings()
        if len(message.rows) >= POLL_LIMIT:
            self._poll()  # more backlog: read on at once

    # -- drawing -----------------------------------------------------------------

    def _flush(self, now: bool = False) -> None:
        """Draw labels every FLUSH_SECONDS and curves every PLOT_SECONDS while running (bursts cost one redraw).

        Training shares the GIL with the UI, so the live view's cost is what it draws: rare plot
        rebuilds keep watching within a few percent of headless throughput (benchmarks/bench_live.py).
        """
        self._ticks += 1
        running = self.live.status in ("running", "starting")
        if not self._dirty and running and self._ticks % MEMORY_EVERY == 0:
            self._dirty = self._memory_text() != self._memory
        t = time.monotonic()
        if self.live.points and (now or not running or t - self._plotted >= self.plot_interval()):
            self._plotted = t
            plots = self.plots
            for plot, series, x, y in self.live.take_points():
                plots[plot].append(series, x, y)
        if not (self._dirty or now):
            return
        self._dirty = False
        self._flushes += 1
        self._memory = self._memory_text()
        self._show()

    def plot_interval(self) -> float:
        """Seconds between curve redraws of a running run: PLOT_SECONDS, or more where plots are slow to draw."""
        cost = sum(p.cost for p in self.plots.values())
        return min(PLOT_MAX_SECONDS, max(PLOT_SECONDS, cost / PLOT_BUDGET))

    def _show(self) -> None:
        # Fixed-size lines: layout=False spares a relayout of the screen per update.
        live = self.live
        self.query_one("#live-status", Static).update(live.status_text(), layout=False)
        line = bar_text(live.fraction, BAR_WIDTH)
        line.append("  " + live.progress_text())
        self.query_one("#live-progress", Static).update(line, layout=False)
        self.query_one("#live-device", Static).update(live.device_text(self._memory), layout=False)

    def _memory_text(self) -> str:
        live = self.live
        if live.status not in ("running", "starting"):
            return ""  # a finished run has no live memory (and its view stays deterministic)
        if self.mode == "local":
            if live.device.startswith("cuda"):
                n = cuda_bytes()
                return f"GPU {fmt_bytes(n)} allocated" if n is not None else ""
            n = rss_bytes()
            return f"RSS {fmt_bytes(n)}" if n is not None else ""
        if live.pid and live.host == socket.gethostname():
            n = rss_bytes(live.pid)
            return f"trainer RSS {fmt_bytes(n)}" if n is not None else ""
        return ""

    # -- keys ----------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        status = self.live.status
        if action == "cancel":
            return status in ("running", "starting")
        if action == "resume":
            return status == "interrupted" and self.live.run_id is not None
        if action == "evaluate":
            return status == "done" and bool(self.app.routes.get("run"))
        return True

    def action_cancel(self) -> None:
        """Stop the run after its current step; it keeps a checkpoint and can be resumed."""
        live = self.live
        if live.status not in ("running", "starting"):
            return
        where = "" if self.mode == "local" else f" (pid {live.pid} on {live.host})"
        self.app.push_screen(
            ConfirmDialog(f"Stop run {live.run_id or ''}{where}? It stops after the current step and keeps a "
                          "checkpoint; r resumes it later.", yes="Stop run", no="Keep running", title="Cancel run"),
            callback=self._cancel_answered)

    def _cancel_answered(self, yes: bool | None) -> None:
        if not yes:
            return
        live = self.live
        if self.mode == "local" and self._stop is not None:
            self._stop.set()
        elif (flag := LOCAL_TRAININGS.get((str(self.store_home), int(live.run_id or 0)))) is not None:
            flag.set()  # trained by this app in the background
        elif live.pid and live.host == socket.gethostname() and live.pid != os.getpid():
            try:
                os.kill(live.pid, signal.SIGTERM)  # `qd train` stops after the step and saves a checkpoint
            except ProcessLookupError:
                self.notify(f"process {live.pid} has already ended", severity="warning")
                return
            except PermissionError:
                self.notify(f"not allowed to stop process {live.pid} (another user's?)", severity="error")
                return
        else:
            self.notify(f"run {live.run_id} runs on {live.host or 'another host'}: stop it there",
                        severity="warning")
            return
        self.notify(f"Stopping run {live.run_id} after the current step…")

    def action_resume(self) -> None:
        """Continue an interrupted run here from its checkpoint."""
        if self.live.status != "interrupted" or self.live.run_id is None:
            return
        self.notify(f"Resuming run {self.live.run_id}…")
        self._start_training(self.live.run_id)

    def action_evaluate(self) -> None:
        """Open the evaluation of a finished run."""
        if self.live.run_id is not None:
            self.app.action_open("run", run_id=self.live.run_id)

    def action_leave(self) -> None:
        """Back; a training started here keeps running (Runs shows it, Enter follows it)."""
        if self.mode == "local" and self.live.status in ("running", "starting") and not (
                self._stop and self._stop.is_set()):
            self.notify(f"Run {self.live.run_id or ''} keeps training in the background; "
                        "open it from Runs to watch it.", title="Still training")
        self.dismiss(None)
