"""The first screen: the data in use, recent runs, and where to go next."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from qdcore.fmt import literal, percent
from qdtui.literal import plain
from qdtui.loaders import RecentRuns, load_recent_runs, run_accuracy, user_message
from qdtui.messages import CatalogFailed, CatalogLoaded, RunChosen
from qdtui.routes import ROUTES
from qdtui.store_gateway import stores
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class RunsLoaded(Message):
    """Recent runs were read from the store (`note` says why the list may be empty)."""

    runs: RecentRuns

STATUS_STYLE = {"running": "bold cyan", "done": "green", "failed": "red", "interrupted": "yellow"}


# Cells besides the name: id, kind, status, top-1, started and the table's padding (80 columns leave 22 for names).
OTHER_CELLS = 58


def run_row(run, name_width: int | None = None) -> tuple:
    """Table cells for one run record; a name longer than `name_width` is cut with an ellipsis."""
    acc = run_accuracy(run)
    # Month-day and time: the year of a recent run goes without saying, and 11 cells fit an 80-column table.
    started = time.strftime("%m-%d %H:%M", time.localtime(run.started)) if getattr(run, "started", None) else ""
    status = str(getattr(run, "status", "?"))
    name = literal(getattr(run, "name", "") or "")
    if name_width is not None and len(name) > name_width:
        name = name[:max(1, name_width - 1)] + "…"
    return (
        str(run.id),
        Text(name),
        plain(getattr(run, "kind", "") or ""),
        Text(status, style=STATUS_STYLE.get(status, "")),
        Text("" if acc is None else percent(acc), justify="right"),
        started,
    )


class HomeScreen(Screen):
    """Dataset, recent runs and the actions: train, runs, data, quiz, draw."""

    BINDINGS = [
        *[Binding(r.key, f"app.open('{r.name}')", r.label) for r in ROUTES.values() if r.key],
        Binding("q", "app.quit", "Quit"),
    ]
    HELP_EXTRA = [("up/down enter", "pick a recent run")]

    def __init__(self) -> None:
        super().__init__()
        self._started = False

    def compose(self) -> ComposeResult:
        state = self.app.state
        yield Header()
        with Vertical(id="home-data", classes="panel") as data:
            data.border_title = "Data"
            yield Static(Text(literal(state.data_label), style="bold"), id="data-label")
            yield Static(Text(f"store {literal(state.store_home)}", style="dim"), id="store-label")
        with Vertical(id="home-runs", classes="panel") as runs:
            runs.border_title = "Recent runs"
            table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
            table.add_columns("id", "name", "kind", "status", "top-1", "started")
            yield table
            yield Static("", id="runs-note")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-table").loading = True
        # Start the loads after the first frame so their imports (numpy, sqlite) do not delay it.
        self.call_after_refresh(self._start_loading)

    def _start_loading(self) -> None:
        self.load_catalog()
        self.load_runs()

    def on_screen_resume(self) -> None:
        # Back from training or the runs screen: the list may have changed (and the data, from the browser).
        if self.is_mounted:
            self.load_runs()
            self.load_catalog()

    @work(thread=True, exclusive=True, group="home-catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        """Open the data source in a thread and report back."""
        state = self.app.state
        try:
            post(self, CatalogLoaded(state.catalogs.get(state.data_spec)))
        except Exception as e:  # noqa: BLE001 - shown in the panel, never a traceback
            post(self, CatalogFailed(state.data_spec, user_message(e)))

    @work(thread=True, exclusive=True, group="home-runs", exit_on_error=False)
    def load_runs(self) -> None:
        """Read recent runs in a thread."""
        post(self, RunsLoaded(load_recent_runs(stores(self), limit=10)))

    def _fill(self, table: DataTable) -> None:
        """The rows, names cut to the width the screen leaves them."""
        width = max(12, self.app.size.width - OTHER_CELLS)
        for run in getattr(self, "_runs", {}).values():
            table.add_row(*run_row(run, width), key=str(run.id))

    def on_resize(self) -> None:
        if getattr(self, "_runs", None):
            table = self.query_one("#runs-table", DataTable)
            row = table.cursor_row
            table.clear()
            self._fill(table)
            table.move_cursor(row=row)

    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        label = Text(literal(self.app.state.data_label), style="bold")
        label.append(f" · {literal(message.catalog.summary())}", style="")
        self.query_one("#data-label", Static).update(label)

    def on_catalog_failed(self, message: CatalogFailed) -> None:
        label = Text(literal(self.app.state.data_label), style="bold")
        label.append(f" · cannot open: {literal(message.error)}", style="red")
        self.query_one("#data-label", Static).update(label)
        self.notify(message.error, title="Data", severity="error")

    def on_runs_loaded(self, message: RunsLoaded) -> None:
        table = self.query_one("#runs-table", DataTable)
        table.loading = False
        table.clear()
        self._runs = {run.id: run for run in message.runs.runs}
        self._fill(table)
        note = self.query_one("#runs-note", Static)
        note.update(Text(literal(message.runs.note), style="dim" if message.runs.ok else "yellow"))
        note.display = bool(message.runs.note)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            run = getattr(self, "_runs", {}).get(int(event.row_key.value))
            self.post_message(RunChosen(int(event.row_key.value), getattr(run, "status", "done"),
                                        getattr(run, "kind", "")))
