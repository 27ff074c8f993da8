"""The runs screen: study 001's tracker as a sortable, filterable table; mark, overlay, open, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from qdcore.fmt import literal
from qdtui.live_state import STATUS_STYLE
from qdtui.loaders import user_message
from qdtui.screens.dialogs import ConfirmDialog
from qdtui.store_gateway import stores
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class TrackerLoaded(Message):
    """Runs read from the store (or `error`, one line), with people's accuracy on their test drawings."""

    runs: list[Any]
    error: str = ""
    humans: dict[int, float] = field(default_factory=dict)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrackerLoaded)  # a newer snapshot supersedes a queued one


@dataclass
class RunsDeleted(Message):
    """Runs were removed; `errors` are one line each for those that could not be."""

    deleted: list[int]
    errors: list[str]

MARK = "●"
TEXT_KEYS = ("name", "model", "data", "status", "optimizer", "kind")  # sorted A to Z first; numbers biggest first


def columns_for(rows: list[RunRow], total: int = 80) -> list[Any]:
    """The tracker's columns for these rows at this width (qdcore.runs.tracker), people when anyone quizzed."""
    from qdcore.runs.tracker import table_columns

    human = any(r.values.get("human") is not None for r in rows)
    return table_columns([r.run for r in rows], max(40, total - 1), human)  # 1: the mark column


# --- rows (no Textual) ---------------------------------------------------------------------------------


@dataclass
class RunRow:
    """One run as the tracker shows it: sortable values, cell texts and the record."""

    run: Any  # qdcore.store.RunRecord
    values: dict[str, Any]
    texts: dict[str, str]

    @property
    def id(self) -> int:
        return int(self.run.id)

    @classmethod
    def of(cls, run: Any, human: float | None = None) -> RunRow:
        """Tracker values of a record; durations from stored numbers only (no clocks)."""
        from qdcore.runs.tracker import row_texts, row_values

        values = row_values(run, human)
        return cls(run, values, row_texts(run, values))

    def cells(self, marked: bool, columns: list[Any]) -> list[Any]:
        """The table cells, the mark first, each exactly its column's width."""
        from qdcore.runs.tracker import fit

        out: list[Any] = [Text(MARK if marked else " ", style="bold yellow")]
        for col in columns:
            style = STATUS_STYLE.get(self.values["status"], "") if col.key == "status" else ""
            out.append(Text(fit(literal(self.texts.get(col.key, "")), col.width, col.right), style=style))
        return out

    def matches(self, terms: list[str]) -> bool:
        """Every term is a substring of some column (case-insensitive)."""
        hay = " ".join(str(x) for x in (*self.values.values(), *self.texts.values()) if x is not None).lower()
        return all(t in hay for t in terms)


def sort_rows(rows: list[RunRow], key: str, reverse: bool) -> list[RunRow]:
    """Rows sorted by a column; unknown values (—) always last."""
    known = [r for r in rows if r.values.get(key) is not None]
    unknown = [r for r in rows if r.values.get(key) is None]
    known.sort(key=lambda r: (r.values[key].lower() if isinstance(r.values[key], str) else r.values[key], r.id),
               reverse=reverse)
    return known + unknown


def filter_rows(rows: list[RunRow], text: str) -> list[RunRow]:
    """Rows matching all whitespace-separated terms of `text`."""
    terms = text.lower().split()
    return [r for r in rows if r.matches(terms)] if terms else list(rows)


# --- the screen ---------------------------------------------------------------------------------------


class RunsScreen(Screen):
    """Every run in the store as study 001's tracker; Enter opens one (live while running, evaluation when done)."""

    DEFAULT_CSS = """
    RunsScreen #runs-filter { height: 1; margin: 0 1; display: none; }
    RunsScreen #runs-filter.-shown { display: block; }
    RunsScreen #tracker { height: 1fr; }
    RunsScreen #tracker-note { height: auto; padding: 0 1; color: $text-muted; }
    RunsScreen #tracker-note.-error { color: $error; }
    """
    BINDINGS = [
        Binding("space", "mark", "Mark"),
        Binding("o", "overlay", "Overlay"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse", "Reverse", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("d", "delete", "Delete"),
        Binding("g", "reload", "Reload", show=False),
        Binding("escape", "back", "Back"),
    ]
    HELP_EXTRA = [
        ("up/down enter", "open a run: live view while running, evaluation when done"),
        ("S", "reverse the sort order"),
        ("g", "reload from the store"),
        ("click a header", "sort by that column (again: reverse)"),
        ("/ then text", "keep runs whose columns contain every word; escape clears"),
    ]

    def __init__(self, *, home: str | Path | None = None) -> None:
        super().__init__()
        self.home = home
        self.rows: list[RunRow] = []
        self.shown: list[RunRow] = []
        self.marked: set[int] = set()
        self.sort_key = "id"
        self.sort_reverse = True
        self.filter_text = ""
        self.loaded = 0  # completed loads (tests wait on it)
        self._error = ""
        self._widths: dict[str, int] = {}
        self.columns: list[Any] = []

    @property
    def store_home(self) -> Path:
        """The run store listed."""
        return stores(self).home(self.home)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="filter: words that every shown run contains", id="runs-filter", compact=True,
                    disabled=True)
        yield DataTable(id="tracker", cursor_type="row", zebra_stripes=True, cell_padding=0)
        yield Static("", id="tracker-note")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Runs"
        table = self.query_one("#tracker", DataTable)
        table.focus()
        table.loading = True
        self.load()
        self.set_interval(5.0, self._auto_reload)

    def on_screen_resume(self) -> None:
        if self.is_mounted and self.loaded:
            self.load()  # back from a live view or an evaluation: statuses may have changed

    def _auto_reload(self) -> None:
        # Running runs change status and accuracy by themselves; finished lists stay still.
        if any(r.values["status"] == "running" for r in self.rows):
            self.load()

    # --- loading ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="runs-load", exit_on_error=False)
    def load(self) -> None:
        """Read every run in a thread."""
        try:
            store = stores(self).open(self.home)
            runs = store.list_runs()
            from qdcore.quiz.report import human_baselines
            from qdcore.runs.refs import evaluable_kinds

            kinds = set(evaluable_kinds())
            ids = [r.id for r in runs if r.kind in kinds]
            humans = {rid: b.top1 for rid, b in human_baselines(store, ids).items()}
            post(self, TrackerLoaded(runs, humans=humans))
        except Exception as e:  # noqa: BLE001 - a locked/corrupt store is a note, not a crash
            post(self, TrackerLoaded([], user_message(e)))

    def on_tracker_loaded(self, message: TrackerLoaded) -> None:
        table = self.query_one("#tracker", DataTable)
        table.loading = False
        if self.focused is None:
            table.focus()
        self._error = message.error
        self.rows = [RunRow.of(r, message.humans.get(r.id)) for r in message.runs]
        ids = {r.id for r in self.rows}
        self.marked &= ids
        self.loaded += 1
        self._render_table()

    def _render_table(self) -> None:
        """Fill the table from rows, filter and sort, keeping the cursor on the same run."""
        table = self.query_one("#tracker", DataTable)
        current = self.cursor_run()
        self.shown = sort_rows(filter_rows(self.rows, self.filter_text), self.sort_key, self.sort_reverse)
        from qdcore.runs.tracker import fit

        columns = self.columns = columns_for(self.rows, self.size.width or 80)
        self._widths = {c.key: c.width for c in columns}
        table.clear(columns=True)
        table.add_column(" ", key="mark", width=1)
        for col in columns:
            head = fit(col.header, col.width, col.right)
            if col.key == self.sort_key:  # the arrow takes the separator's place
                head = ("▼" if self.sort_reverse else "▲") + head[1:]
            table.add_column(Text(head, style="bold" if col.key == self.sort_key else ""), key=col.key,
                             width=col.width)
        for row in self.shown:
            table.add_row(*row.cells(row.id in self.marked, columns), key=str(row.id))
        if current is not None and any(r.id == current for r in self.shown):
            table.move_cursor(row=table.get_row_index(str(current)), animate=False)
        self._update_note()

    def on_resize(self) -> None:
        if self.loaded and {c.key: c.width for c in columns_for(self.rows, self.size.width)} != self._widths:
            self._render_table()

    def _update_note(self) -> None:
        note = self.query_one("#tracker-note", Static)
        note.set_class(bool(self._error), "-error")
        if self._error:
            note.update(Text(f"could not read runs: {literal(self._error)}"))
            return
        if not self.rows:
            note.update("No runs yet: press escape, then t to train, or start `qd train` in another terminal.")
            return
        noun = "run" if len(self.rows) == 1 else "runs"
        parts = [f"{len(self.shown)} of {len(self.rows)} {noun}" if self.filter_text else f"{len(self.rows)} {noun}"]
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}”")
        if self.marked:
            parts.append(f"{len(self.marked)} marked (o overlays, d deletes)")
        parts.append(f"sorted by {self.sort_key}{' descending' if self.sort_reverse else ''}")
        detail = self._detail()
        note.update(" · ".join(parts) + (f"\n{detail}" if detail else ""))

    def _detail(self) -> str:
        """The run under the cursor: test top-1 and top-5 with Wilson 95% intervals over its test drawings."""
        from qdcore.analysis.metrics import summary_intervals
        from qdcore.fmt import percent_ci

        rid = self.cursor_run()
        row = next((r for r in self.shown if r.id == rid), None)
        summary = dict(row.run.summary or {}) if row is not None else {}
        if summary.get("test_top1") is None:
            return ""
        cis = summary_intervals(summary)
        parts = [f"run {rid}: test top-1 {percent_ci(summary['test_top1'], *(cis['test_top1'] or (None, None)))}"]
        if summary.get("test_top5") is not None:
            parts.append(f"top-5 {percent_ci(summary['test_top5'], *(cis['test_top5'] or (None, None)))}")
        if isinstance(summary.get("num_test"), int):
            parts.append(f"n={summary['num_test']:,}")
        return " · ".join(parts)

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        if message.data_table.id == "tracker" and self.loaded:
            self._update_note()

    def cursor_run(self) -> int | None:
        """The id of the run under the cursor."""
        table = self.query_one("#tracker", DataTable)
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # noqa: BLE001 - cursor outside the rows
            return None
        return int(key.value) if key.value is not None else None

    def _row(self, run_id: int) -> RunRow | None:
        return next((r for r in self.rows if r.id == run_id), None)

    # --- sort and filter ----------------------------------------------------------

    def action_sort(self) -> None:
        """Sort by the next column."""
        keys = [c.key for c in self.columns]
        i = keys.index(self.sort_key) if self.sort_key in keys else -1
        self.sort_key = keys[(i + 1) % len(keys)]
        self.sort_reverse = self.sort_key not in TEXT_KEYS
        self._render_table()

    def action_reverse(self) -> None:
        """Reverse the sort order."""
        self.sort_reverse = not self.sort_reverse
        self._render_table()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key not in {c.key for c in self.columns}:
            return
        if key == self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key = key
            self.sort_reverse = key not in TEXT_KEYS
        self._render_table()

    def action_filter(self) -> None:
        """Type a filter."""
        box = self.query_one("#runs-filter", Input)
        box.disabled = False
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "runs-filter":
            self.filter_text = event.value.strip()
            self._render_table()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "runs-filter":
            self.query_one("#tracker", DataTable).focus()
            if not self.filter_text:
                event.input.remove_class("-shown")
                event.input.disabled = True

    def action_back(self) -> None:
        """Clear the filter when there is one, else go back."""
        box = self.query_one("#runs-filter", Input)
        if box.has_class("-shown"):
            box.value = ""
            box.remove_class("-shown")
            box.disabled = True
            self.filter_text = ""
            self._render_table()
            self.query_one("#tracker", DataTable).focus()
            return
        self.dismiss(None)

    # --- marks, overlay, open, delete --------------------------------------------

    def action_mark(self) -> None:
        """Mark or unmark the run under the cursor and move down."""
        run_id = self.cursor_run()
        if run_id is None:
            return
        self.marked ^= {run_id}
        table = self.query_one("#tracker", DataTable)
        table.update_cell(str(run_id), "mark", Text(MARK if run_id in self.marked else " ", style="bold yellow"))
        table.action_cursor_down()
        self._update_note()

    def action_overlay(self) -> None:
        """Overlay the marked runs' validation curves (the run under the cursor when none is marked)."""
        ids = sorted(self.marked) or ([self.cursor_run()] if self.cursor_run() is not None else [])
        if not ids:
            self.notify("Mark runs with space, then press o.", severity="warning")
            return
        from qdtui.screens.overlay import OverlayScreen

        self.app.push_screen(OverlayScreen(ids, home=self.store_home))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.open_run(int(event.row_key.value))

    def open_run(self, run_id: int) -> None:
        """Live view for a run that is not finished; a finished one opens as its kind says (evaluation or live)."""
        row = self._row(run_id)
        if row is None:
            return
        self.app.open_run(run_id, row.run.status, row.run.kind)

    def action_delete(self) -> None:
        """Delete the marked runs shown now (or the one under the cursor) after confirmation.

        Marks on rows a filter hides are kept, not deleted: only what is on screen can go.
        """
        visible = {r.id for r in self.shown}
        hidden = self.marked - visible
        ids = sorted(self.marked & visible) or ([self.cursor_run()] if self.cursor_run() is not None else [])
        if not ids:
            if hidden:
                self.notify(f"The {len(hidden)} marked runs are hidden by the filter; clear it to delete them.",
                            severity="warning", markup=False)
            return
        if len(ids) == 1:
            row = self._row(ids[0])
            what = f"run {ids[0]}" + (f" ({literal(row.values['name'])})" if row and row.values["name"] else "")
        else:
            what = f"{len(ids)} runs ({', '.join(map(str, ids[:8]))}{' …' if len(ids) > 8 else ''})"
        kept = f" The {len(hidden)} marked runs hidden by the filter are kept." if hidden else ""
        self.app.push_screen(
            ConfirmDialog(f"Delete {what}? {'Its' if len(ids) == 1 else 'Their'} metrics, model and predictions are "
                          f"removed for good.{kept}",
                          yes="Delete", no="Keep", title="Delete runs"),
            callback=lambda yes: self.delete(ids) if yes else None)

    @work(thread=True, exclusive=True, group="runs-delete", exit_on_error=False)
    def delete(self, ids: list[int]) -> None:
        """Remove runs in a thread (a live running run is refused by the store)."""
        deleted, errors = [], []
        try:
            store = stores(self).open(self.home)
            for run_id in ids:
                try:
                    store.delete_run(run_id)
                    deleted.append(run_id)
                except Exception as e:  # noqa: BLE001
                    errors.append(user_message(e))
        except Exception as e:  # noqa: BLE001
            errors.append(user_message(e))
        post(self, RunsDeleted(deleted, errors))

    def on_runs_deleted(self, message: RunsDeleted) -> None:
        self.marked -= set(message.deleted)
        if message.deleted:
            self.notify(f"Deleted run{'s' if len(message.deleted) > 1 else ''} "
                        f"{', '.join(map(str, message.deleted))}.")
        if message.errors:
            self.app.show_error("\n".join(message.errors), title="Could not delete")
        self.load()

    def action_reload(self) -> None:
        """Read the runs again."""
        self.load()
