"""Browse the data source: categories with counts and files, and a sample grid per category."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from qdcore.fmt import literal
from qdtui.loaders import Catalog, Samples, load_samples, user_message
from qdtui.messages import CatalogFailed, CatalogLoaded, DrawingSelected
from qdtui.screens.dialogs import DrawingDialog
from qdtui.widgets.drawing_grid import DrawingGrid, GridItem, fit_text
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class SamplesLoaded(Message):
    """Sample drawings of one category are ready."""

    samples: Samples


@dataclass
class LoadFailed(Message):
    """A worker could not read something (`what`, e.g. a category); `error` is one line for the user."""

    what: str
    error: str

LIST_WIDTH = 20  # text width of the category list (plus a 1-cell scrollbar)


def category_line(name: str, count: int, width: int = LIST_WIDTH) -> str:
    """'airplane     2,000' fitted to width."""
    num = f"{count:,}"
    room = max(1, width - len(num) - 1)
    return fit_text(name, room) + " " + num.rjust(width - room - 1)


class DataBrowserScreen(Screen):
    """Categories on the left; sample drawings of the highlighted one on the right."""

    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("s", "source", "Source"),
        Binding("tab", "switch_pane", "Pane", show=False),
    ]
    HELP_EXTRA = [
        ("up/down", "choose a category"),
        ("tab", "between categories and drawings"),
        ("arrows", "move in the drawings"),
        ("z", "drawing size (in the drawings)"),
        ("enter", "show a drawing large"),
        ("s", "another source: demo, the cache, local folders ($QD_DATA_DIRS, ../shared/quickdraw)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.catalog: Catalog | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(literal(self.app.state.data_label), style="bold"), id="source-line")
        with Horizontal(id="browser"):
            yield OptionList(id="categories")
            with Vertical(id="samples-pane"):
                yield Static("", id="category-line")
                yield DrawingGrid(id="samples")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#categories").loading = True
        self.load_catalog()

    @work(thread=True, exclusive=True, group="browser-catalog", exit_on_error=False)
    def load_catalog(self) -> None:
        """Open the data source in a thread (shared with the home screen's load)."""
        state = self.app.state
        try:
            post(self, CatalogLoaded(state.catalogs.get(state.data_spec)))
        except Exception as e:  # noqa: BLE001
            post(self, CatalogFailed(state.data_spec, user_message(e)))

    def on_catalog_loaded(self, message: CatalogLoaded) -> None:
        self.catalog = cat = message.catalog
        line = Text(literal(self.app.state.data_label), style="bold")
        line.append(f" · {cat.summary()}", style="")
        self.query_one("#source-line", Static).update(line)
        options = self.query_one("#categories", OptionList)
        options.loading = False
        options.clear_options()
        options.add_options([Option(category_line(c.name, c.count), id=c.name) for c in cat.categories])
        if cat.categories:
            options.highlighted = 0
            options.focus()
        else:
            self.query_one("#category-line", Static).update(
                Text("No drawings here yet: download some with `qd data download`, or use --data demo.",
                     style="yellow"))

    def on_catalog_failed(self, message: CatalogFailed) -> None:
        self.query_one("#categories").loading = False
        line = Text(literal(self.app.state.data_label), style="bold")
        line.append(f" · cannot open: {literal(message.error)}", style="red")
        self.query_one("#source-line", Static).update(line)
        self.app.show_error(message.error, title="Cannot open the data")

    @on(OptionList.OptionHighlighted, "#categories")
    def category_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.catalog is None or event.option.id is None:
            return
        name = event.option.id
        info = next(c for c in self.catalog.categories if c.name == name)
        line = Text(literal(name), style="bold")
        line.append(f" · {info.count:,} drawings · {literal(Path(info.file).name or info.file)}")
        self.query_one("#category-line", Static).update(line)
        self.query_one("#samples", DrawingGrid).loading = True
        self.load_samples(name)

    @on(OptionList.OptionSelected, "#categories")
    def category_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#samples", DrawingGrid).focus()

    @work(thread=True, exclusive=True, group="browser-samples", exit_on_error=False)
    def load_samples(self, category: str) -> None:
        """Read a category's sample drawings in a thread (a newer request cancels this one)."""
        assert self.catalog is not None
        try:
            samples = load_samples(self.catalog, category, seed=self.app.state.seed)
        except Exception as e:  # noqa: BLE001 - shown in a dialog, never a traceback
            post(self, LoadFailed(category, user_message(e)))
            return
        post(self, SamplesLoaded(samples))

    def on_load_failed(self, message: LoadFailed) -> None:
        self.query_one("#samples", DrawingGrid).loading = False
        self.app.show_error(message.error, title=f"Cannot read {message.what!r}")

    def on_samples_loaded(self, message: SamplesLoaded) -> None:
        options = self.query_one("#categories", OptionList)
        current = options.get_option_at_index(options.highlighted) if options.highlighted is not None else None
        if current is None or current.id != message.samples.category:
            return  # the user has moved on; a newer load is coming
        s = message.samples
        name = Path(s.file).name or s.file
        grid = self.query_one("#samples", DrawingGrid)
        grid.loading = False
        grid.set_items([GridItem(img, truth=s.category, provenance=f"{name}#{int(r)}")
                        for img, r in zip(s.images, s.rows)])

    def on_drawing_selected(self, message: DrawingSelected) -> None:
        self.app.push_screen(DrawingDialog(message.item, title=message.item.truth or "Drawing"))

    def action_switch_pane(self) -> None:
        """Move focus between the category list and the drawings."""
        grid = self.query_one("#samples", DrawingGrid)
        if grid.has_focus:
            self.query_one("#categories", OptionList).focus()
        else:
            grid.focus()

    def action_source(self) -> None:
        """Pick another data source; the app's training form and quiz use it from then on."""
        from qdtui.screens.source_picker import SourcePicker

        self.app.push_screen(SourcePicker(self.app.state.data_spec), callback=self._source_picked)

    def _source_picked(self, spec: str | None) -> None:
        if not spec or spec == self.app.state.data_spec:
            return
        self.app.state.data_spec = spec
        self.catalog = None
        self.query_one("#source-line", Static).update(Text(literal(self.app.state.data_label), style="bold"))
        self.query_one("#categories", OptionList).clear_options()
        self.query_one("#samples", DrawingGrid).set_items([])
        self.query_one("#category-line", Static).update("")
        self.query_one("#categories").loading = True
        self.load_catalog()
