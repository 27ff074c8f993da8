"""Pick the data source: the demo set, the download cache and the local folders qd knows of (qdcore.data.places)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from qdcore.fmt import literal
from qdtui.workers import deliver, wanted


def place_line(summary) -> Text:
    """'../shared/quickdraw/numpy_bitmap · npy · 39 categories · 43,500 drawings' (or why it cannot be read)."""
    line = Text(literal(summary.place.label), style="bold")
    if summary.error:
        line.append(f" · cannot open: {literal(summary.error)}", style="red")
        return line
    fmt = f" · {summary.description.split(':', 1)[0]}" if summary.place.kind == "local" else ""
    approx = "≈" if summary.approximate else ""
    line.append(f"{fmt} · {summary.categories:,} categories · {approx}{summary.drawings:,} drawings")
    if summary.place.kind != "demo":
        line.append(f" · {literal(summary.place.why)}", style="dim")
    return line


class SourcePicker(ModalScreen[str | None]):
    """Every known data source with what it holds; Enter picks one (its --data value), Escape keeps the current."""

    BINDINGS = [Binding("escape", "cancel", "Keep")]
    DEFAULT_CSS = """
    SourcePicker OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current
        self.specs: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = "Data source"
            box.styles.width, box.styles.max_width = "90%", 110  # wider than a dialog: folder paths (app CSS wins over DEFAULT_CSS)
            yield Static("Local folders: $QD_DATA_DIRS (separated by ':') and the project's ../shared/quickdraw.",
                         classes="dialog-body", markup=False)
            yield OptionList(id="places")

    def on_mount(self) -> None:
        self.query_one("#places").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="source-picker", exit_on_error=False)
    def load(self) -> None:
        """Open and count each place in a thread (a second or two for stroke folders)."""
        from qdcore.data.places import known_places, summarise

        summaries = []
        for place in known_places():
            if not wanted():
                return  # the picker was closed: stop opening folders
            summaries.append(summarise(place))
        deliver(self, self._show, summaries)  # not into a closed picker

    def _show(self, summaries) -> None:
        options = self.query_one("#places", OptionList)
        options.loading = False
        specs = [s.place.spec for s in summaries]
        if self.current not in specs:  # a --data PATH given on the command line stays offered
            from qdcore.data.places import Place, PlaceSummary

            summaries.append(PlaceSummary(Place(self.current, "local", "--data"), description="current"))
            specs.append(self.current)
        self.specs = specs
        options.add_options([Option(place_line(s), id=str(i), disabled=bool(s.error)) for i, s in enumerate(summaries)])
        options.highlighted = specs.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.specs[int(event.option.id)])

    def action_cancel(self) -> None:
        """Keep the current source."""
        self.dismiss(None)
