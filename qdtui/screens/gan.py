"""The GAN screen: the sample grid per class, loss / D-output / quality curves and the per-epoch quality table.

It follows a GAN run through the store (whichever process trains it: `qd gan train` in tmux, or a
child started elsewhere), so a headless run and a finished one look the same. Left/right scrub
through the epochs' fixed-noise grids; End follows the newest grid again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from qdcore.errors import QDError
from qdcore.fmt import literal
from qdcore.runs.kinds import SAMPLES, can
from qdtui.store_gateway import stores
from qdtui.widgets.curves import Curves
from qdtui.widgets.header import Header
from qdtui.widgets.sample_grid import SampleGrid
from qdtui.workers import post

POLL_SECONDS = 1.0
# Curve panels: title and the metric keys drawn (absent keys are skipped).
PANELS: list[tuple[str, tuple[str, ...]]] = [
    ("G and D losses", ("train/g_loss", "train/d_loss")),
    ("D(x) and D(G(z))", ("train/d_real", "train/d_fake", "train/cls_real", "train/cls_fake")),
    ("judged as intended", ("quality/recognised", "quality/confidence", "quality/diversity")),
    ("Frechet distance", ("quality/fid",)),
]
SHORT = {"train/g_loss": "G", "train/d_loss": "D", "train/d_real": "D(x)", "train/d_fake": "D(G(z))",
         "train/cls_real": "class real", "train/cls_fake": "class fake", "quality/recognised": "judged",
         "quality/confidence": "confidence", "quality/diversity": "diversity", "quality/fid": "FD"}


@dataclass
class GanView:
    """What one poll of the store found: the run, its curves, its grids and their row labels."""

    run: Any = None
    error: str = ""
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    epochs: list[int] = field(default_factory=list)  # epochs with an epoch-end grid
    grids: dict[str, Path] = field(default_factory=dict)  # 'epoch_3' / 'step_120' -> file
    newest: str = ""  # tag of the newest grid (epoch end or every-N-steps)
    rows: list[str] = field(default_factory=list)
    run_dir: Path | None = None
    step_loss: list[tuple[int, float]] = field(default_factory=list)  # G's loss every log_every steps
    epoch_step: dict[int, int] = field(default_factory=dict)  # the step each epoch ended at


@dataclass
class GanPolled(Message):
    """A poll of the store for the followed GAN run."""

    view: GanView

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GanPolled)


def poll_view(store: Any, run_id: int) -> GanView:
    """Read the run, its per-epoch curves and its sample-grid artifact rows (no UI code: runs in a worker)."""
    from qdcore.train import gan_files

    try:
        run = store.get_run(run_id)
        if not can(run.kind, SAMPLES):
            return GanView(error=f"run {run_id} is a {run.kind} run; this screen shows runs with sample grids")
        history = store.history(run_id)
        rows = store.metrics(run_id)
        run_dir = store.run_dir(run_id, create=False)
        arts = [a for a in store.artifacts_after(run_id)
                if a.name in (gan_files.SAMPLES_DIR, gan_files.STEP_SAMPLES)]
    except QDError as e:
        return GanView(error=str(e))
    view = GanView(run=run, history=history, run_dir=run_dir)
    for r in rows:
        if r.split == "step" and r.name == "loss":
            view.step_loss.append((r.step, r.value))
        elif r.split != "step":
            view.epoch_step[r.epoch] = r.step
    for a in arts:
        tag = f"epoch_{a.epoch}" if a.name == gan_files.SAMPLES_DIR else f"step_{a.step}"
        view.grids[tag] = run_dir / a.path
        view.newest = tag
    view.epochs = sorted({a.epoch for a in arts if a.name == gan_files.SAMPLES_DIR})
    try:
        view.rows = list(gan_files.read_meta(run_dir)["rows"])
    except QDError:
        view.rows = []
    return view


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _kept_line(best: int | None, h: dict[str, list[tuple[int, float]]]) -> str:
    """' · kept epoch E: judged X% (lo–hi)': the kept generator's judged share with its 95% interval ('' if unknown)."""
    from qdcore.analysis.gan_quality import judged_interval

    if best is None:
        return ""
    row = {k: dict(h.get(k, [])).get(best) for k in ("quality/recognised", "quality/judged_n")}
    ci = judged_interval(row)
    if ci is None:
        return ""
    return f" · kept epoch {best}: judged {100 * row['quality/recognised']:.0f}% ({100 * ci[0]:.0f}–{100 * ci[1]:.0f})"


class GanScreen(Screen):
    """Samples, curves and quality of one GAN run, live or finished."""

    DEFAULT_CSS = """
    GanScreen #gan-info { height: auto; max-height: 2; padding: 0 1; }
    GanScreen #gan-body { height: 1fr; }
    GanScreen #gan-samples { width: 1fr; min-width: 30; }
    GanScreen #gan-side { width: 36; }
    GanScreen #gan-curves { height: 1fr; min-height: 7; }
    GanScreen #gan-quality { height: 9; }
    """
    BINDINGS = [
        # priority: the arrows scrub epochs whichever part has focus (the table moves with up/down)
        Binding("left", "scrub(-1)", "Epoch -1", priority=True),
        Binding("right", "scrub(1)", "Epoch +1", priority=True),
        Binding("home", "first", "First", show=False, priority=True),
        Binding("end", "latest", "Latest", priority=True),
        Binding("p", "panel", "Curves"),
        Binding("escape", "app.back", "Back"),
    ]

    def __init__(self, run_id: int, **kwargs: Any) -> None:
        super().__init__()
        self.run_id = int(run_id)
        self.view = GanView()
        self.follow = True  # show the newest grid as it arrives
        self.shown = ""  # tag of the grid on screen
        self.panel = 0
        self.polls = 0
        self._table_epochs: list[int] = []
        self._kept_line = ""  # ' · kept epoch E: judged X% (lo–hi)', made when the epochs change

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(f"run {self.run_id} · loading…", id="gan-info")
        with Horizontal(id="gan-body"):
            with VerticalScroll(id="gan-samples"):
                yield SampleGrid(id="gan-grid")
            with Vertical(id="gan-side"):
                yield Curves(PANELS[0][0], xlabel="step", id="gan-curves")
                yield DataTable(id="gan-quality", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#gan-quality", DataTable)
        # div: diversity over the real drawings' own; spk: speckle as a multiple of real; * the kept best epoch
        for label, width in (("ep", 4), ("judged", 6), ("FD", 6), ("div", 4), ("spk", 4)):
            table.add_column(label, width=width)
        self.poll()
        self.set_interval(POLL_SECONDS, self._tick)

    def _tick(self) -> None:
        run = self.view.run
        if run is None or run.status == "running" or self.polls < 2:
            self.poll()

    @work(thread=True, exclusive=True, group="gan-poll", exit_on_error=False)
    def poll(self) -> None:
        """Read the store in a worker thread."""
        try:
            view = poll_view(stores(self).open(reap=False), self.run_id)
        except QDError as e:
            view = GanView(error=str(e))
        post(self, GanPolled(view))

    def on_gan_polled(self, message: GanPolled) -> None:
        self.polls += 1
        self.view = message.view
        if self.view.error:
            self.query_one("#gan-info", Static).update(self.view.error)
            return
        if self.follow and self.view.newest and self.view.newest != self.shown:
            self._show(self.view.newest)
        elif not self.shown and self.view.epochs:
            self._show(f"epoch_{self.view.epochs[-1]}")
        self._draw_curves()
        self._fill_table()
        self._info()

    # --- drawing ------------------------------------------------------------

    def _show(self, tag: str) -> None:
        from qdcore.train import gan_files

        path = self.view.grids.get(tag)
        if path is None:
            return
        try:
            grid = gan_files.read_grid_file(path)
        except QDError:
            return  # replaced while reading: the next poll shows it
        self.shown = tag
        self.query_one("#gan-grid", SampleGrid).show(grid, self.view.rows)
        self._info()

    def _info(self) -> None:
        run = self.view.run
        if run is None:
            return
        total = run.config.get("epochs", "?")
        done = len(self.view.epochs)
        kind, _, num = self.shown.partition("_")
        where = f"{'epoch' if kind == 'epoch' else 'step'} {int(num)}" if num else "no samples yet"
        if not self.follow:
            mode = "←/→ End"
        else:
            mode = "live" if run.status == "running" else "newest"
        note = self._note()
        self.query_one("#gan-info", Static).update(Text(
            f"run {run.id} {run.status} · {done}/{total} epochs · showing {where} ({mode})" + self._kept_line
            + (f" · {note}" if note else f" · {literal(run.name)}")))

    def _note(self) -> str:
        """Why the judged share and Frechet distance are empty ('' when they are not)."""
        from qdcore.kinds.gan import judge_note

        run = self.view.run
        return judge_note(run.config, run.summary) if run is not None else ""

    def _draw_curves(self) -> None:
        """The panel's per-epoch series at the step each epoch ended (G's loss per logging step too), x = step."""
        curves = self.query_one("#gan-curves", Curves)
        title, keys = PANELS[self.panel]
        curves.clear()
        curves.title = title
        at = self.view.epoch_step
        if self.panel == 0 and self.view.step_loss:
            curves.set_series("G steps", [x for x, _ in self.view.step_loss], [y for _, y in self.view.step_loss])
        drawn = False
        for key in keys:
            pts = [(at[e], v) for e, v in self.view.history.get(key, []) if e in at]
            if pts:
                drawn = True
                curves.set_series(SHORT.get(key, key), [x for x, _ in pts], [v for _, v in pts])
        curves.empty_note = self._note() if not drawn and keys[0].startswith("quality/") else ""
        curves.refresh()

    def _fill_table(self) -> None:
        h = self.view.history
        epochs = sorted({e for pts in h.values() for e, _ in pts})
        if epochs == self._table_epochs:
            return
        self._table_epochs = epochs
        table = self.query_one("#gan-quality", DataTable)
        table.clear()
        col = {k: dict(h.get(k, [])) for k in ("quality/recognised", "quality/fid", "quality/diversity",
                                                  "quality/speckle_ratio")}
        best = self._best_epoch(epochs, h)
        self._kept_line = _kept_line(best, h)
        for e in epochs:
            rec = col["quality/recognised"].get(e)
            table.add_row(f"{e}{'*' if e == best else ''}", "—" if rec is None or rec != rec else f"{100 * rec:.0f}%",
                          _fmt(col["quality/fid"].get(e), ".1f"), _fmt(col["quality/diversity"].get(e), ".2f"),
                          _fmt(col["quality/speckle_ratio"].get(e), ".1f"))
        if epochs:
            table.move_cursor(row=len(epochs) - 1)

    def _best_epoch(self, epochs: list[int], h: dict[str, list[tuple[int, float]]]) -> int | None:
        """The epoch the run keeps as its best generator (the training loop's choice, replayed)."""
        from qdcore.train.gan_best import BestGenerator

        run = self.view.run
        keeper = BestGenerator(run.config.get("best_by", "fid") if run is not None else "fid")
        by_epoch = {k: dict(v) for k, v in h.items()}
        for e in epochs:
            keeper.offer(e, {k: v[e] for k, v in by_epoch.items() if e in v})
        return keeper.epoch

    # --- actions ------------------------------------------------------------

    def _current_epoch(self) -> int:
        kind, _, num = self.shown.partition("_")
        if kind == "epoch" and num:
            return int(num)
        return self.view.epochs[-1] + 1 if self.view.epochs else 0

    def action_scrub(self, delta: int) -> None:
        """Show the grid of the previous / next epoch."""
        epochs = self.view.epochs
        if not epochs:
            return
        cur = self._current_epoch()
        if delta < 0:
            older = [e for e in epochs if e < cur]
            target = older[-1] if older else epochs[0]
        else:
            newer = [e for e in epochs if e > cur]
            target = newer[0] if newer else epochs[-1]
        self.follow = False
        self._show(f"epoch_{target}")

    def action_first(self) -> None:
        """Show the first epoch's grid."""
        if self.view.epochs:
            self.follow = False
            self._show(f"epoch_{self.view.epochs[0]}")

    def action_latest(self) -> None:
        """Follow the newest grid again."""
        self.follow = True
        if self.view.newest:
            self._show(self.view.newest)

    def action_panel(self) -> None:
        """Cycle the curve panels: losses, D outputs, judged share, Frechet distance."""
        self.panel = (self.panel + 1) % len(PANELS)
        self._draw_curves()
