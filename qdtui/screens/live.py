"""The live view of one run: curves, progress, device; read from the store, whichever process trains it.

A training started here (the form's Start, `r` on an interrupted run) is a detached `qd train` child
process, followed like any other: the UI never shares the GIL or the cores' barriers with the engine
(benchmarks/bench_live.py). It keeps training when the view is left or the app quits; `c` sends it SIGTERM
(checkpoint, 'interrupted').
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from qdcore.fmt import literal
from qdcore.runs.kinds import DEFAULT_KIND
from qdtui.live_state import LiveState, bar_text, fmt_bytes, rss_bytes
from qdtui.loaders import user_message
from qdtui.screens.dialogs import ConfirmDialog
from qdtui.store_gateway import stores
from qdtui.widgets.curves import Curves
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class Launched(Message):
    """The core launcher started a child (`job`), or could not (`error`)."""

    job: Any | None
    error: str
    launch: int


@dataclass
class RunPolled(Message):
    """A poll of the store for a followed run: its record (or `error`), the new metric rows, a child's exit code."""

    run_id: int | None
    rows: list
    run: Any | None
    error: str = ""
    launch: int = 0  # which start of a child the poll belongs to (older polls are dropped)
    code: int | None = None  # exit code of the child started here, None while it runs
    arrays: dict = field(default_factory=dict)  # artifact panel name -> (artifact row, array, labels)

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


# --- the screen ---------------------------------------------------------------------------------------


def _labels(store: Any, row: Any) -> list | None:
    """The labels a Samples event stored beside its array (a .json of the same name), if any."""
    import json

    path = store.home / "runs" / str(row.run_id) / row.path
    try:
        doc = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    labels = doc.get("labels") if isinstance(doc, dict) else None
    return [str(x) for x in labels] if isinstance(labels, list) else None


def _panels(kind: str | None) -> tuple:
    """The live plots of a kind of run (the classifier's while the kind is unknown)."""
    from qdcore.runs.kinds import find_kind

    k = find_kind(kind or DEFAULT_KIND) or find_kind(DEFAULT_KIND)
    return k.panels if k is not None else ()


class LiveScreen(Screen):
    """Curves, progress and device of a run: started here as a `qd train` child (`config=`) or followed (`run_id=`).

    The plots are the run kind's panels (qdcore.runs.kinds): each a curve widget with one series per metric key.
    """

    DEFAULT_CSS = """
    LiveScreen #live-info { height: auto; padding: 0 1; }
    LiveScreen #live-status { height: auto; max-height: 2; }  /* a long name or error wraps, not cut */
    LiveScreen #live-progress { height: 1; }
    LiveScreen #live-device { height: 1; color: $text-muted; }
    LiveScreen #live-plots { height: 1fr; }
    LiveScreen .strip { height: 8; }
    LiveScreen Curves { min-height: 5; }
    """
    BINDINGS = [
        Binding("c", "cancel", "Cancel run"),
        Binding("r", "resume", "Resume"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("x", "cycle_axis", "x axis"),
        Binding("s", "smooth", "Smooth"),
        Binding("l", "log_scale", "Log y"),
        Binding("1", "toggle('1')", "Series", key_display="1-3"),
        Binding("2", "toggle('2')", "Series 2", show=False),
        Binding("3", "toggle('3')", "Series 3", show=False),
        Binding("escape", "leave", "Back"),
    ]
    HELP_EXTRA = [
        ("curves", "the run kind's panels; for a classifier loss every few steps (⠒ step) and per epoch "
                   "(▬ train, • val), top-1 per epoch; the panels share the x range"),
        ("x", "x axis: step, epoch, wall time (training seconds)"),
        ("s l", "smoothing off/light/heavy; log y scale (not for percentages)"),
        ("1 2 3", "show or hide the first, second and third series (a classifier's step, train, val)"),
        ("ETA", "training time left at the current images/s (evaluation not counted)"),
        ("escape", "back; a run started here keeps training, even after quitting (Runs lists it, Enter follows it)"),
    ]

    def __init__(self, *, run_id: int | None = None, config: Any = None, home: str | Path | None = None,
                 kind: str | None = None) -> None:
        super().__init__()
        if run_id is None and config is None:
            raise ValueError("LiveScreen needs run_id= (follow a run) or config= (train one)")
        self.config = config
        self.home = home
        if config is not None:
            from qdcore.runs.kinds import kind_of

            kind = kind_of(config).name
        self.kind = kind or DEFAULT_KIND
        self.live = LiveState(run_id=run_id, name=getattr(config, "name", "") or "", kind=self.kind,
                              panels=_panels(self.kind))
        self.mode = "attach"  # the one way this view is fed: polling the store
        self.job: Any = None  # the qdcore.runs.launcher.Job started here
        self._launching = False
        self._resuming = False
        self._launches = 0
        self._reaped = False  # dead runs are reaped on the first read only (polls are frequent)
        self._after = 0
        self._art_after: dict[str, int] = {}
        self._polling = False
        self.polls = 0  # completed polls (tests wait on it)
        self._dirty = True
        self._memory = ""
        self._flushes = 0
        self._ticks = 0
        self._plotted = 0.0
        self._axis = "step"  # x of the panels drawn per step: step, epoch or time (x)
        self._log = False
        self._rebuilding = False

    # -- layout ----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="live-info"):
            yield Static("", id="live-status")
            yield Static("", id="live-progress")
            yield Static("", id="live-device")
        yield from self._plot_widgets(self.live.panels)
        yield Footer()

    def _plot_widgets(self, panels: tuple) -> list:
        from qdtui.widgets.drawing_grid import DrawingGrid

        main = [DrawingGrid([], id=f"live-{p.name}") if p.artifact else LiveCurves(p.title, id=f"live-{p.name}")
                for p in panels if not p.strip]
        strips = [LiveCurves(p.title, id=f"live-{p.name}", classes="strip live-plot") for p in panels if p.strip]
        for w in main:
            w.add_class("live-plot")
        return [Horizontal(*main, id="live-plots"), *strips]

    @property
    def plots(self) -> dict[str, LiveCurves]:
        """The curve widgets by panel name (a classifier's: loss, top1, lr)."""
        return {p.name: self.query_one(f"#live-{p.name}", LiveCurves) for p in self.live.panels if not p.artifact}

    @property
    def grids(self) -> dict[str, Any]:
        """The drawing grids of artifact panels (a GAN's samples), by panel name."""
        from qdtui.widgets.drawing_grid import DrawingGrid

        return {p.name: self.query_one(f"#live-{p.name}", DrawingGrid) for p in self.live.panels if p.artifact}

    def _init_series(self) -> None:
        # Fixed series order and colours per panel (a classifier's raw step loss faint, epochs in colour).
        plots = self.plots
        for p in self.live.panels:
            if p.artifact:
                continue
            for i in range(len(p.series)):
                label = p.label(i)
                if label not in plots[p.name].series:
                    plots[p.name].set_series(label, [], [])
                    plots[p.name].series[label].color = p.color(i)

    def _use_kind(self, kind: str) -> None:
        """Rebuild the plots when the followed run turns out to be of another kind."""
        if kind == self.kind:
            return
        self.kind = kind
        self.live.panels, self.live._routes = _panels(kind), None
        self._rebuilding = True  # points wait in self.live until the new plots are mounted
        self.call_later(self._rebuild)

    async def _rebuild(self) -> None:
        # The old plots must be gone before the new ones mount: they share ids (live-plots, live-loss, ...).
        await self.query(".live-plot, #live-plots").remove()
        await self.mount_all(self._plot_widgets(self.live.panels), before=self.query_one(Footer))
        self._rebuilding = False
        self._init_series()
        self._fit()
        self._flush(now=True)

    def on_mount(self) -> None:
        self._init_series()
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
        # A tall terminal gives the strips (a classifier's learning rate) a real plot; 24 rows keep them
        # strips; a constant one is a line of text.
        tall = self.app.size.height >= 34
        for w in self.query(".strip"):
            if not w.collapsed:
                w.styles.height = "1fr" if tall else 8
        for w in self.query("#live-plots"):
            w.styles.height = "2fr" if tall else "1fr"

    # -- chart options ---------------------------------------------------------------

    def _chart_setup(self) -> None:
        """Tell every panel how steps map to epochs and seconds, and the x range they share."""
        from qdtui.chart_model import XMap, shared_range

        xmap = XMap(self.live.steps_per_epoch, self.live.epoch_seconds)
        axis = self._axis if self._axis in xmap.available() else "step"
        plots = self.plots
        curves = [panel for panel in self.live.panels if not panel.artifact]  # grids have no x axis
        stepped = [plots[panel.name] for panel in curves if panel.x == "step"]
        for p in stepped:
            p.xmap, p.axis, p.shared_x = xmap, axis, None
        # panels drawn per epoch keep their epochs (and share a range among themselves)
        by_epoch = [plots[panel.name] for panel in curves if panel.x != "step"]
        for p in by_epoch:
            p.xlabel = "epoch"
        for group in (stepped, by_epoch):
            shared = shared_range([p.natural_range() for p in group])
            for p in group:
                p.shared_x = shared
                p.refresh()

    def action_cycle_axis(self) -> None:
        """x axis: step, epoch, then wall time (those the run's facts allow)."""
        from qdtui.chart_model import XMap

        axes = XMap(self.live.steps_per_epoch, self.live.epoch_seconds).available()
        self._axis = axes[(axes.index(self._axis) + 1) % len(axes)] if self._axis in axes else axes[0]
        self._chart_setup()

    def action_smooth(self) -> None:
        """Smoothing off, light, heavy."""
        for p in self.plots.values():
            p.cycle_smoothing()  # the panels' titles say 'EMA 0.6' while smoothed

    def action_log_scale(self) -> None:
        """Log y scale on or off (panels of percentages stay linear)."""
        self._log = not self._log
        for panel in self.live.panels:
            p = self.plots[panel.name]
            p.ylog = self._log and panel.scale == 1.0
            p.refresh()

    def action_toggle(self, which: str) -> None:
        """Show or hide one series (by its legend name, or the n-th of the first panel) in every panel."""
        labels = [self.live.panels[0].label(i) for i in range(len(self.live.panels[0].series))] if self.live.panels else []
        name = labels[int(which) - 1] if which.isdigit() and int(which) - 1 < len(set(labels)) else which
        shown = None
        for p in self.plots.values():
            if name in p.series:
                shown = p.toggle(name)
        self._chart_setup()
        if shown is not None:
            self.notify(f"{name} {'shown' if shown else 'hidden'}", timeout=2)

    @property
    def store_home(self) -> Path:
        """The run store this view reads and writes."""
        return stores(self).home(self.home)

    def _get_store(self):
        store = stores(self).open(self.home, reap=not self._reaped)
        self._reaped = True
        return store

    # -- training started here: a detached `qd train` process (qdcore.runs.launcher) ---

    def _launch(self, resume_id: int | None) -> None:
        """Start the run (or continue `resume_id`) as a detached child through the core launcher; follow it."""
        self.live.status, self.live.error = "starting", ""
        self._dirty = True
        self._launching = True
        self._launches += 1
        self.refresh_bindings()
        self._launch_worker(resume_id, self._launches)

    @work(thread=True, exclusive=True, group="live-launch", exit_on_error=False)
    def _launch_worker(self, resume_id: int | None, launch: int) -> None:
        """launch() checks the config and sizes the model (torch import): off the UI thread."""
        from qdcore.runs.launcher import Resume
        from qdcore.runs.launcher import launch as start

        try:
            job = start(Resume(resume_id) if resume_id is not None else self.config, self.store_home)
        except Exception as e:  # noqa: BLE001 - a config error or a failed spawn is a dialog, not a crash
            post(self, Launched(None, user_message(e), launch))
            return
        post(self, Launched(job, "", launch))

    def on_launched(self, message: Launched) -> None:
        if message.launch != self._launches:
            return
        if message.job is None:
            self._start_failed(message.error)
            return
        self.job = message.job
        self._resuming = self.live.run_id is not None
        self.live.run_id = message.job.run_id
        self._poll()

    def _start_failed(self, error: str) -> None:
        """A run that could not start: a new one goes back to the form with the error (one Escape closes it)."""
        self._launching = False
        self.live.status, self.live.error = "failed", error
        self.refresh_bindings()
        if not self._resuming:
            if self.job is not None:
                self._discard(self.job.run_id)
            self.dismiss(None)
            self.app.show_error(error, title="Training could not start", hint="Fix the form and start again.")
        else:
            self._flush(now=True)
            self.notify(error, title="Resume failed", severity="error")

    def _discard(self, run_id: int) -> None:
        """Remove the row of a run that failed before training began: nothing half-created stays behind."""
        try:
            self._get_store().delete_run(run_id, force=True)
        except Exception:  # noqa: BLE001 - best effort; the run is marked failed either way
            pass

    # -- following a run in the store ------------------------------------------

    def _poll(self) -> None:
        if self.mode != "attach" or self._polling or self.live.run_id is None:
            return  # nothing to read before a launch has its run
        self._polling = True
        wanted = {p.name: (p.artifact, self._art_after.get(p.name, 0)) for p in self.live.panels if p.artifact}
        self._poll_worker(self.live.run_id, self._after, self._launches, wanted)

    @work(thread=True, exclusive=True, group="live-poll", exit_on_error=False)
    def _poll_worker(self, run_id: int, after: int, launch: int, wanted: dict | None = None) -> None:
        """Read the run's record, the metric rows written since `after`, the newest array of each artifact
        panel and (for a child here) its exit code."""
        code = self.job.poll() if self.job is not None else None
        try:
            store = self._get_store()
            run = store.get_run(run_id)
            rows = store.metrics(run_id, after_id=after, limit=POLL_LIMIT)
            arrays = {}
            for panel, (name, art_after) in (wanted or {}).items():
                new = store.artifacts_after(run_id, art_after, name=name)
                if new:
                    arrays[panel] = (new[-1], store.load_artifact(new[-1]), _labels(store, new[-1]))
            post(self, RunPolled(run_id, rows, run, launch=launch, code=code, arrays=arrays))
        except Exception as e:  # noqa: BLE001 - a missing run or a locked store is a line in the view
            post(self, RunPolled(run_id, [], None, user_message(e), launch=launch, code=code))

    def _failed_start(self, message: RunPolled) -> str | None:
        """The error of a child started here that ended before its training began, else None."""
        if not self._launching or self.job is None:
            return None
        run = message.run
        began = run is not None and (bool(run.device) and not self._resuming or run.status == "running"
                                     and self._resuming)
        if began and run.status != "failed":
            return None
        if run is not None and run.status == "failed" and not message.rows and not run.device:
            return str(run.summary.get("error") or self.job.error())
        if message.code not in (None, 0, 130) and (run is None or run.status != "done"):
            if self._resuming and run is not None and run.status == "running":
                return None
            return self.job.error()
        return None

    def on_run_polled(self, message: RunPolled) -> None:
        self._polling = False
        if message.launch != self._launches or message.run_id != self.live.run_id:
            return  # read before the latest start of a child
        error = self._failed_start(message)
        if error is not None:
            self._start_failed(error)
            return
        if self._launching and message.run is not None and (message.run.device or message.rows):
            self._launching = False  # the child has begun training
        first = self.polls == 0
        self.polls += 1
        before = self.live.status
        if message.run is None:
            self.live.error = message.error
            self.live.status = "failed" if "no run" in message.error else self.live.status
            self.query_one("#live-status", Static).update(Text(f"Run {self.live.run_id}: {literal(message.error)}",
                                                                style="red"))
            return
        self._use_kind(message.run.kind)
        self.live.on_record(message.run)
        if self._launching and self.live.status == "running":
            self.live.status = "starting"  # claimed, still reading the drawings
        if message.rows:
            self.live.on_rows(message.rows)
            self._after = message.rows[-1].id
        for panel, (row, array, labels) in message.arrays.items():
            self._art_after[panel] = row.id
            self._show_array(panel, row, array, labels)
        if first:
            self.sub_title = f"Run {self.live.run_id}" + ("" if self.job else " · following")
        self._dirty = self._dirty or bool(message.rows) or before != self.live.status
        if first or before != self.live.status:
            self._flush(now=True)
            self.refresh_bindings()
        if len(message.rows) >= POLL_LIMIT:
            self._poll()  # more backlog: read on at once

    def _show_array(self, panel: str, row: Any, array: Any, labels: list | None) -> None:
        """An artifact panel's newest array (N x 28 x 28 uint8, or rows x cols x 28 x 28) as a grid of drawings."""
        from qdtui.widgets.drawing_grid import GridItem

        grid = self.grids.get(panel)
        if grid is None:
            return
        images = array.reshape(-1, 28, 28)
        items = [GridItem(img, title=str(labels[i]) if labels and i < len(labels) else f"#{i}",
                          provenance=f"epoch {row.epoch}") for i, img in enumerate(images)]
        grid.set_items(items)

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
        if self.live.points and not self._rebuilding and (now or not running or
                                                          t - self._plotted >= self.plot_interval()):
            self._plotted = t
            plots = self.plots
            for plot, series, x, y in self.live.take_points():
                plots[plot].append(series, x, y)
            self._chart_setup()
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
            return status == "done" and "run" in self.app.routes
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
        if not yes or self.live.run_id is None:
            return
        from qdcore.runs.launcher import stop

        try:
            stop(self._get_store(), self.live.run_id)
        except Exception as e:  # noqa: BLE001 - ended, another host or user: a notification
            self.notify(user_message(e), severity="warning")
            return
        self.notify(f"Stopping run {self.live.run_id} after the current step…")

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
        if self.job is not None and self.job.poll() is None and self.live.status in ("running", "starting"):
            self.notify(f"Run {self.live.run_id or ''} keeps training in the background; "
                        "open it from Runs to watch it.", title="Still training")
        self.dismiss(self.live.run_id)  # the run's id: a form that started it closes too
