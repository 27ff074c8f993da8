"""The studies screens: every study with its progress; one study's trials, plot and OLS; a form to start one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from qdtui.live_state import DASH, STATUS_STYLE, fmt_duration
from qdtui.loaders import user_message
from qdtui.store_gateway import stores
from qdtui.widgets.header import Header
from qdtui.widgets.plot import TitledPlot
from qdtui.workers import deliver, post


@dataclass
class StudiesLoaded(Message):
    """The studies in the store with their progress (or `error`, one line)."""

    rows: list[tuple[Any, Any]]
    error: str = ""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StudiesLoaded)  # a newer snapshot supersedes a queued one


@dataclass
class StudyLoaded(Message):
    """One study's record, progress and table (or `error`), with the paper's claims judged."""

    record: Any = None
    progress: Any = None
    table: Any = None
    error: str = ""
    verdicts: list = field(default_factory=list)  # qdcore.studies.claims.Verdict
    claim_notes: list[str] = field(default_factory=list)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StudyLoaded)  # a newer snapshot supersedes a queued one


@dataclass
class FitDone(Message):
    """An OLS fit's text (or `error`)."""

    text: str
    error: str = ""

TRIAL_STYLE = {"queued": "dim", "running": "bold cyan", "done": "green", "failed": "bold red"}


def _cell(v: Any, key: str = "") -> str:
    if v is None:
        return DASH
    if isinstance(v, float):
        if v != v:
            return DASH
        if key == "seconds":
            return fmt_duration(v)
        return f"{v:.4f}"
    return str(v)


# --- the list -------------------------------------------------------------------------------------------


class StudiesScreen(Screen):
    """Every study: trials done / running / failed / queued and an ETA; Enter opens one, n starts a named one."""

    DEFAULT_CSS = """
    StudiesScreen #studies { height: 1fr; }
    StudiesScreen #studies-note { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("n", "new", "New study"),
        Binding("g", "reload", "Reload"),
        Binding("escape", "back", "Back"),
    ]
    HELP_EXTRA = [("up/down enter", "open a study: its trials, plot and OLS")]

    def __init__(self, *, home: str | Path | None = None) -> None:
        super().__init__()
        self.home = home
        self.loaded = 0
        self.rows: list[tuple[Any, Any]] = []

    @property
    def store_home(self) -> Path:
        """The run store listed."""
        return stores(self).home(self.home)

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="studies", cursor_type="row", zebra_stripes=True)
        yield Static("", id="studies-note")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Studies"
        table = self.query_one("#studies", DataTable)
        for key, label in (("id", "id"), ("name", "name"), ("status", "status"), ("done", "done"),
                           ("running", "running"), ("failed", "failed"), ("queued", "queued"), ("eta", "ETA")):
            table.add_column(label, key=key)
        table.focus()
        self.load()
        self.set_interval(2.0, self._auto_reload)

    def on_screen_resume(self) -> None:
        if self.loaded:
            self.load()

    def _auto_reload(self) -> None:
        if any(rec.status == "running" for rec, _ in self.rows):
            self.load()

    @work(thread=True, exclusive=True, group="studies-load", exit_on_error=False)
    def load(self) -> None:
        """Read the studies and their trial counts in a thread."""
        from qdcore.studies.runner import progress

        try:
            from qdcore.runs.kinds import parent_kinds

            store = stores(self).open(self.home)
            rows = [(r, progress(store, r.id, int(r.summary.get("workers", 1) or 1)))
                    for k in parent_kinds() for r in store.list_runs(kind=k)]
            post(self, StudiesLoaded(rows))
        except Exception as e:  # noqa: BLE001 - a note, not a crash
            post(self, StudiesLoaded([], user_message(e)))

    def on_studies_loaded(self, message: StudiesLoaded) -> None:
        self.rows = message.rows
        table = self.query_one("#studies", DataTable)
        current = table.cursor_row
        table.clear()
        for rec, p in self.rows:
            c = p.counts
            eta = fmt_duration(p.eta_seconds) if rec.status == "running" and p.eta_seconds else DASH
            table.add_row(str(rec.id), Text(rec.name), Text(rec.status, style=STATUS_STYLE.get(rec.status, "")),
                          str(c["done"]), str(c["running"]), Text(str(c["failed"]), style="red" if c["failed"] else ""),
                          str(c["queued"]), eta, key=str(rec.id))
        if self.rows:
            table.move_cursor(row=min(current, len(self.rows) - 1), animate=False)
        note = self.query_one("#studies-note", Static)
        if message.error:
            note.update(Text(f"could not read studies: {message.error}", style="red"))
        elif not self.rows:
            note.update("No studies yet: press n to start a named study, or run `qd study run NAME --quick`.")
        else:
            note.update(f"{len(self.rows)} stud{'y' if len(self.rows) == 1 else 'ies'} · enter opens · n starts one")
        self.loaded += 1

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.app.push_screen(StudyScreen(int(event.row_key.value), home=self.store_home))

    def action_new(self) -> None:
        """The form that starts a named study in the background."""
        from qdtui.screens.study_form import NewStudyDialog

        self.app.push_screen(NewStudyDialog(self.store_home, self.app.state.data_spec), callback=self._started)

    def _started(self, study: int | None) -> None:
        self.load()
        if study is not None:
            self.app.push_screen(StudyScreen(study, home=self.store_home))

    def action_reload(self) -> None:
        """Read the studies again."""
        self.load()

    def action_back(self) -> None:
        """Back to where the list was opened from."""
        self.dismiss(None)


# --- one study ------------------------------------------------------------------------------------------


class StudyScreen(Screen):
    """A study's trials (Enter opens the run), a plot of a metric over the axes, and its OLS fit."""

    DEFAULT_CSS = """
    StudyScreen #study-progress { height: 1; padding: 0 1; }
    StudyScreen #study-body { height: 1fr; }
    StudyScreen #trials { height: 1fr; }
    StudyScreen #study-plot { height: 1fr; min-height: 10; }
    StudyScreen #study-ols { height: 1fr; overflow-y: auto; padding: 0 1; display: none; }
    StudyScreen.-ols #study-ols { display: block; }
    StudyScreen.-ols #study-plot { display: none; }
    StudyScreen #study-claims-box { height: 1fr; display: none; }
    StudyScreen #study-claims { height: auto; max-height: 1fr; }
    StudyScreen #study-claims-note { height: auto; padding: 0 1; color: $text-muted; }
    StudyScreen.-claims #study-claims-box { display: block; }
    StudyScreen.-claims #study-plot { display: none; }
    StudyScreen.-claims #study-ols { display: none; }
    """
    BINDINGS = [
        Binding("m", "metric", "Metric"),
        Binding("x", "x_axis", "X axis"),
        Binding("b", "by_axis", "Series"),
        Binding("f", "fit", "OLS"),
        Binding("c", "claims", "Claims"),
        Binding("r", "resume", "Run"),
        Binding("g", "reload", "Reload", show=False),
        Binding("escape", "back", "Back"),
    ]
    HELP_EXTRA = [
        ("up/down enter", "open a trial's run: live view while running, evaluation when done"),
        ("m / x / b", "plot another metric / x axis / series axis"),
        ("f", "OLS of the metric on the numeric axes (again: back to the plot)"),
        ("c", "the paper's claims: its number or direction, qd's 95% interval over seeds, the verdict"),
        ("r", "run the study's queued trials in the background (it also resumes an interrupted one)"),
    ]

    def __init__(self, study: int, *, home: str | Path | None = None) -> None:
        super().__init__()
        self.study = int(study)
        self.home = home
        self.record: Any = None
        self.table: Any = None
        self.metric: str | None = None
        self.metric_chosen = False  # True once `m` picked a metric; until then it follows default_metric
        self.x: str | None = None
        self.by: str | None = None
        self.loaded = 0
        self.fitted = 0

    @property
    def store_home(self) -> Path:
        """The run store the study lives in."""
        return stores(self).home(self.home)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="study-progress")
        with Vertical(id="study-body"):
            yield DataTable(id="trials", cursor_type="row", zebra_stripes=True)
            yield TitledPlot(id="study-plot")
            yield Static("", id="study-ols", markup=False)
            with Vertical(id="study-claims-box"):
                yield DataTable(id="study-claims", cursor_type="row", zebra_stripes=True)
                yield Static("", id="study-claims-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Study {self.study}"
        self.query_one("#trials", DataTable).focus()
        self.load()
        self.set_interval(2.0, self._auto_reload)

    def _auto_reload(self) -> None:
        if self.record is not None and self.record.status == "running":
            self.load()

    @work(thread=True, exclusive=True, group="study-load", exit_on_error=False)
    def load(self) -> None:
        """Read the study's progress and table in a thread."""
        from qdcore.studies.results import study_table
        from qdcore.studies.runner import progress
        from qdcore.studies.trials import require_study
        from qdcore.studies.verdicts import study_verdicts

        try:
            store = stores(self).open(self.home)
            rec = require_study(store, self.study)
            p = progress(store, self.study, int(rec.summary.get("workers", 1) or 1))
            table = study_table(store, self.study)
            verdicts, notes = study_verdicts(rec.summary.get("spec", {}), table)
            post(self, StudyLoaded(rec, p, table, verdicts=verdicts, claim_notes=notes))
        except Exception as e:  # noqa: BLE001
            post(self, StudyLoaded(error=user_message(e)))

    def on_study_loaded(self, message: StudyLoaded) -> None:
        bar = self.query_one("#study-progress", Static)
        if message.error:
            bar.update(Text(f"cannot read study {self.study}: {message.error}", style="red"))
            self.loaded += 1
            return
        from qdcore.studies.view import default_metric, plot_axes, table_columns

        self.record, self.table = message.record, message.table
        self.sub_title = f"Study {self.study}: {self.record.name}"
        p = message.progress
        c = p.counts
        eta = f" · ETA {fmt_duration(p.eta_seconds)}" if self.record.status == "running" and p.eta_seconds else ""
        bar.update(Text.assemble((f"{self.record.status}", STATUS_STYLE.get(self.record.status, "")),
                                 f" · {c['done']}/{p.total} done · {c['running']} running · "
                                 f"{c['failed']} failed · {c['queued']} queued{eta}"))
        if not self.metric_chosen or self.metric not in self.table.metrics:
            self.metric = default_metric(self.table)  # follows the trials until `m` picks one
        axes = plot_axes(self.table)
        if self.x is None and axes:
            self.x = next((a for a in axes if a != "variant"), axes[0])
            self.by = next((a for a in axes if a != self.x), None)
        self._fill(table_columns(self.table, prefer=(self.record.summary.get("spec", {}).get("paper") or {}).get("show")))
        self._plot()
        self._fill_claims(message.verdicts, message.claim_notes)
        self.loaded += 1

    def _fill_claims(self, verdicts: list[Any], notes: list[str]) -> None:
        """The verdict table: per claim the paper's side, qd's estimate with its 95% interval, the verdict."""
        from qdcore.studies.claims import VERDICT_COLUMNS, VERDICT_STYLES, summary_line, verdict_rows
        from qdcore.studies.results import untrained_note

        table = self.query_one("#study-claims", DataTable)
        table.clear(columns=True)
        cols = ["verdict", *(c for c in VERDICT_COLUMNS if c != "verdict")]  # the verdict first: seen at 80 columns
        for col in cols:
            table.add_column(col, key=col)
        for i, r in enumerate(verdict_rows(verdicts)):
            table.add_row(*(Text(str(r[c]), style=VERDICT_STYLES[r["verdict"]] if c == "verdict" else "")
                            for c in cols), key=str(i))
        lines = [f"claims: {summary_line(verdicts)}"] if verdicts else []
        lines += [f"{v.claim.text}: {v.why}" for v in verdicts if v.verdict != "agrees"]
        lines += [n for n in [*notes, untrained_note(self.table)] if n]
        self.query_one("#study-claims-note", Static).update("\n".join(lines))

    def _fill(self, cols: list[str]) -> None:
        table = self.query_one("#trials", DataTable)
        current = table.cursor_row
        table.clear(columns=True)
        for col in cols:
            table.add_column(Text(col.replace("_", " ")), key=col)  # plain: test_top1[CLASS] is no markup
        for row in self.table.rows:
            cells = [Text(_cell(row.get(c), c), style=TRIAL_STYLE.get(row["status"], "") if c == "status" else "")
                     for c in cols]
            table.add_row(*cells, key=str(row["trial"]))
        if self.table.rows:
            table.move_cursor(row=min(current, len(self.table.rows) - 1), animate=False)

    def _plot(self) -> None:
        from qdcore.studies.view import draw_plot

        plot = self.query_one("#study-plot", TitledPlot)
        plot.title = ""  # draw_plot titles the figure
        draw_plot(plot.fresh_figure(), self.table, self.metric, self.x, self.by, label_width=24)
        plot.refresh()

    def _cycle(self, current: str | None, options: list[str | None]) -> str | None:
        if not options:
            return None
        i = options.index(current) if current in options else -1
        return options[(i + 1) % len(options)]

    def action_metric(self) -> None:
        """Plot the next metric."""
        if self.table is None:
            return
        numeric = [m for m in self.table.metrics
                   if any(isinstance(r.get(m), (int, float)) for r in self.table.rows)]
        self.metric = self._cycle(self.metric, numeric)
        self.metric_chosen = True
        self._refresh_view()

    def action_x_axis(self) -> None:
        """Put the next axis on x."""
        from qdcore.studies.view import plot_axes

        if self.table is None:
            return
        self.x = self._cycle(self.x, plot_axes(self.table) or [None])
        if self.by == self.x:
            self.by = None
        self._refresh_view()

    def action_by_axis(self) -> None:
        """Split the plot into series by the next axis (or none)."""
        from qdcore.studies.view import plot_axes

        if self.table is None:
            return
        self.by = self._cycle(self.by, [a for a in plot_axes(self.table) if a != self.x] + [None])
        self._refresh_view()

    def _refresh_view(self) -> None:
        if self.has_class("-ols"):
            self.run_fit()
        else:
            self._plot()

    def formula(self) -> str:
        """The metric on the study's numeric axes (categories counted as classes, per_class as rows)."""
        names = []
        for a in self.table.axes if self.table else []:
            col = {"categories": "classes", "per_class": "rows"}.get(a, a)
            vals = [r.get(col) for r in self.table.rows if r["status"] == "done"]
            if a != "seed" and vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                names.append(col)
        return f"{self.metric} ~ " + (" + ".join(names) if names else "1")

    def action_claims(self) -> None:
        """Toggle the paper's claims and their verdicts in place of the plot."""
        self.remove_class("-ols")
        self.toggle_class("-claims")

    def action_fit(self) -> None:
        """Toggle the OLS table of the plotted metric on the numeric axes."""
        self.remove_class("-claims")
        self.toggle_class("-ols")
        if self.has_class("-ols"):
            self.run_fit()

    @work(thread=True, exclusive=True, group="study-fit", exit_on_error=False)
    def run_fit(self) -> None:
        """Fit in a thread (statsmodels is slow to import)."""
        from qdcore.studies.fit import fit

        try:
            post(self, FitDone(fit(self.table, self.formula()).text))
        except Exception as e:  # noqa: BLE001
            post(self, FitDone("", user_message(e)))

    def on_fit_done(self, message: FitDone) -> None:
        self.query_one("#study-ols", Static).update(
            Text(message.text) if not message.error else Text(f"no fit: {message.error}", style="red"))
        self.fitted += 1

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if self.table is None or event.row_key.value is None:
            return
        row = next((r for r in self.table.rows if str(r["trial"]) == event.row_key.value), None)
        if row is None or row.get("run") is None:
            self.notify("This trial has not started yet.", severity="warning")
            return
        self.open_trial(int(row["run"]))

    @work(thread=True, exclusive=True, group="study-open", exit_on_error=False)
    def open_trial(self, run_id: int) -> None:
        """Open a trial's run with its current status."""
        try:
            rec = stores(self).open(self.home).get_run(run_id)
            deliver(self, self.app.open_run, rec.id, rec.status, rec.kind)  # not once the study screen is left
        except Exception as e:  # noqa: BLE001
            deliver(self, self.app.show_error, user_message(e), "Cannot open the trial")

    @work(thread=True, exclusive=True, group="study-resume", exit_on_error=False)
    def action_resume(self) -> None:
        """Run the queued trials in a background `qd study resume` (unless the study is running already)."""
        from qdcore.studies.runner import detach

        if self.record is not None and self.record.status == "running":
            self.app.call_from_thread(self.notify, "The study is running already.")
            return
        try:
            pid = detach(stores(self).open(self.home), self.study)
            self.app.call_from_thread(self.notify, f"Study {self.study} running in the background (pid {pid}).")
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.app.show_error, user_message(e), "Cannot run the study")

    def action_reload(self) -> None:
        """Read the study again."""
        self.load()

    def action_back(self) -> None:
        """Back to the list of studies."""
        self.dismiss(None)
