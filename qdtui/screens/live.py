"""The live view of one run: curves, progress, device; read from the store, whichever process trains it.

A training started here (the form's Start, `r` on an interrupted run) is a detached `qd train` child
process, followed like any other: the UI never shares the GIL or the cores' barriers with the engine
(benchmarks/bench_live.py). It keeps training when the view is left or the app quits; `c` sends it SIGTERM
(checkpoint, 'interrupted').
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from qdcore.fmt import literal
from qdcore.paths import new_log
from qdtui.live_state import LiveState, bar_text, fmt_bytes, rss_bytes
from qdtui.loaders import user_message
from qdtui.messages import MetricRows
from qdtui.screens.dialogs import ConfirmDialog
from qdtui.widgets.curves import Curves

POLL_SECONDS = 0.75  # attach: how often the store is read
FLUSH_SECONDS = 1.0  # labels and the progress bar are redrawn at most this often
PLOT_SECONDS = 2.0  # curves of a running run at most this often (a plot costs tens of ms of the GIL) ...
PLOT_BUDGET = 0.02  # ... and further apart when redrawing them would take more than 2% of a core
PLOT_MAX_SECONDS = 10.0
MEMORY_EVERY = 3  # flushes between memory readings while nothing else changes
BAR_WIDTH = 18  # cells; the percentage and 'epoch · step · ETA · img/s' follow on the same line
POLL_LIMIT = 20_000  # metric rows read per poll (a long backlog comes in a few polls)

class LiveCurves(Curves):
    """Curves that time their redraws, so the live view can space them to fit its CPU budget."""

    cost = 0.0  # seconds per redraw (moving average)

    def render(self):
        t = time.perf_counter()
        out = super().render()
        dt = time.perf_counter() - t
        self.cost = dt if not self.cost else 0.7 * self.cost + 0.3 * dt
        return out


# --- messages of this screen ------------------------------------------------------------------------


class RunPolled(MetricRows):
    """A poll of the store for a followed run: its record (or `error`) and the new metric rows."""

    def __init__(self, run_id: int | None, rows: list, run: Any | None, error: str = "", starting: bool = False,
                 launch: int = 0) -> None:
        super().__init__(run_id, rows, getattr(run, "status", "") or "")
        self.run = run
        self.error = error
        self.starting = starting  # a child started here has not claimed its run yet
        self.launch = launch  # which start of a child the poll belongs to (older polls are dropped)


# --- the screen ---------------------------------------------------------------------------------------


class LiveScreen(Screen):
    """Curves, progress and device of a run: started here as a `qd train` child (`config=`) or followed (`run_id=`)."""

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
        ("escape", "back; a run started here keeps training, even after quitting (Runs lists it, Enter follows it)"),
    ]

    def __init__(self, *, run_id: int | None = None, config: Any = None, home: str | Path | None = None) -> None:
        super().__init__()
        if run_id is None and config is None:
            raise ValueError("LiveScreen needs run_id= (follow a run) or config= (train one)")
        self.config = config
        self.home = home
        self.live = LiveState(run_id=run_id, name=getattr(config, "name", "") or "")
        self.mode = "attach"  # the one way this view is fed: polling the store
        self.child: subprocess.Popen | None = None  # the `qd train` started here, until it claims its run
        self._launching = False
        self._launches = 0
        self._files: list[Path] = []  # the child's config file, removed once it has read it
        self._log: Path | None = None
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
        self.set_interval(POLL_SECONDS, self._poll)
        if self.config is not None:
            self._launch(None)
        else:
            self._poll()

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

    # -- training started here: a detached `qd train` process ---------------------

    def _launch(self, resume_id: int | None) -> None:
        """Start `qd train --config` (or `--resume ID`) in its own session, output to a log file; follow it."""
        self.live.status, self.live.error = "starting", ""
        self._dirty = True
        home = self.store_home
        self._get_store()  # the store exists before the child opens it
        cmd = [sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train"]
        try:
            if resume_id is None:
                fd, name = tempfile.mkstemp(prefix="qd-train-", suffix=".json")
                with os.fdopen(fd, "w") as f:
                    json.dump(self.config.to_dict(), f)
                self._files.append(Path(name))
                cmd += ["--config", name]
            else:
                cmd += ["--resume", str(resume_id)]
            fd, self._log = new_log(home)  # beside the store, bounded in number: not piling up in /tmp
            try:
                self.child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT,
                                              start_new_session=True)  # a closed terminal or quit app: it trains on
            finally:
                os.close(fd)
        except OSError as e:
            self._start_failed(f"could not start qd train: {e.strerror or e}")
            return
        self._launching = True
        self._launches += 1
        self._poll()
        self.refresh_bindings()

    def _start_failed(self, error: str) -> None:
        self._launching = False
        self.live.status, self.live.error = "failed", error
        self._clean_files()
        self._flush(now=True)
        self.refresh_bindings()
        if self.live.run_id is None:
            self.app.show_error(error, title="Training could not start", hint="Escape goes back to the form.")
        else:
            self.notify(error, title="Resume failed", severity="error")

    def _clean_files(self) -> None:
        for f in self._files:
            f.unlink(missing_ok=True)
        self._files.clear()

    def _child_run(self, store, run_id: int | None):
        """The run the child claimed (the newest with its pid here; for a resume, `run_id` once it has it)."""
        pid, host = self.child.pid, socket.gethostname()
        runs = [store.get_run(run_id)] if run_id is not None else store.list_runs(kind="classifier", limit=20)
        return next((r for r in runs if r.pid == pid and r.host == host), None)

    def _child_error(self, code: int) -> str:
        """The last line the child wrote (its one-line error), without the 'qd: error:' prefix."""
        try:
            lines = [ln.strip() for ln in self._log.read_text(errors="replace").splitlines() if ln.strip()]
        except (OSError, AttributeError):
            lines = []
        line = lines[-1] if lines else f"qd train exited with code {code}"
        return line.removeprefix("qd: error:").strip()

    # -- following a run in the store ------------------------------------------

    def _poll(self) -> None:
        if self.mode != "attach" or self._polling:
            return
        self._polling = True
        self._poll_worker(self._after, self._launches)

    @work(thread=True, exclusive=True, group="live-poll", exit_on_error=False)
    def _poll_worker(self, after: int, launch: int) -> None:
        """Read the run's record and the metric rows written since `after` (first, find a child's run)."""
        run_id = self.live.run_id
        try:
            store = self._get_store()
            if self._launching:
                run = self._child_run(store, run_id)
                if run is None:
                    code = self.child.poll()
                    if code is not None and (run := self._child_run(store, run_id)) is None:
                        self.post_message(RunPolled(run_id, [], None, self._child_error(code), True, launch))
                        return
                    if run is None:
                        self.post_message(RunPolled(run_id, [], None, starting=True, launch=launch))
                        return
                run_id = run.id
            elif self.child is not None and self.child.poll() in (0, 130) and self._log is not None:
                self._log.unlink(missing_ok=True)  # reaped; a log is kept only where it failed
                self._log = None
            run = store.get_run(run_id)
            rows = store.metrics(run_id, after_id=after, limit=POLL_LIMIT)
            self.post_message(RunPolled(run_id, rows, run, launch=launch))
        except Exception as e:  # noqa: BLE001 - a missing run or a locked store is a line in the view
            self.post_message(RunPolled(run_id, [], None, user_message(e), launch=launch))

    def on_run_polled(self, message: RunPolled) -> None:
        self._polling = False
        if message.launch != self._launches:
            return  # read before the latest start of a child
        if message.starting:
            if message.error:
                self._start_failed(message.error)
            return
        if self._launching and message.run is not None:
            self._launching = False
            self._clean_files()
            self.live.run_id = message.run_id
            self.polls = 0  # the view's first poll of this run
        first = self.polls == 0
        self.polls += 1
        before = self.live.status
        if message.run is None:
            self.live.error = message.error
            self.live.status = "failed" if "no run" in message.error else self.live.status
            self.query_one("#live-status", Static).update(Text(f"Run {self.live.run_id}: {literal(message.error)}",
                                                                style="red"))
            return
        self.live.on_record(message.run)
        if message.rows:
            self.live.on_rows(message.rows)
            self._after = message.rows[-1].id
        if first:
            self.sub_title = f"Run {self.live.run_id}" + ("" if self.child else " · following")
        self._dirty = self._dirty or bool(message.rows) or before != self.live.status
        if first or before != self.live.status:
            self._flush(now=True)
            self.refresh_bindings()
        if len(message.rows) >= POLL_LIMIT:
            self._poll()  # more backlog: read on at once

    # -- drawing -----------------------------------------------------------------

    def _flush(self, now: bool = False) -> None:
        """Draw labels every FLUSH_SECONDS and curves every PLOT_SECONDS while running (bursts cost one redraw).

        The trainer is another process, but on a small CPU box the UI still competes for its cores: rare
        plot rebuilds keep watching within a few percent of headless throughput (benchmarks/bench_live.py).
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
        where = f" (pid {live.pid} on {live.host})" if live.pid else ""
        self.app.push_screen(
            ConfirmDialog(f"Stop run {live.run_id or ''}{where}? It stops after the current step and keeps a "
                          "checkpoint; r resumes it later.", yes="Stop run", no="Keep running", title="Cancel run"),
            callback=self._cancel_answered)

    def _cancel_answered(self, yes: bool | None) -> None:
        if not yes:
            return
        live = self.live
        pid = self.child.pid if self.child is not None and self.child.returncode is None else live.pid
        if pid and (pid == getattr(self.child, "pid", None) or live.host == socket.gethostname()) and pid != os.getpid():
            try:
                os.kill(pid, signal.SIGTERM)  # `qd train` stops after the step and saves a checkpoint
            except ProcessLookupError:
                self.notify(f"process {pid} has already ended", severity="warning")
                return
            except PermissionError:
                self.notify(f"not allowed to stop process {pid} (another user's?)", severity="error")
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
        self._launch(self.live.run_id)

    def action_evaluate(self) -> None:
        """Open the evaluation of a finished run."""
        if self.live.run_id is not None:
            self.app.action_open("run", run_id=self.live.run_id)

    def action_leave(self) -> None:
        """Back; a training started here keeps running (Runs shows it, Enter follows it)."""
        if self.child is not None and self.child.returncode is None and self.live.status in ("running", "starting"):
            self.notify(f"Run {self.live.run_id or ''} keeps training in the background; "
                        "open it from Runs to watch it.", title="Still training")
        self.dismiss(None)
