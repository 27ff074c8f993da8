"""Galleries of a run's test drawings: one or two sections side by side (a confusion cell, both directions of a pair)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from qdcore.fmt import literal
from qdtui.messages import DrawingHighlighted, DrawingSelected
from qdtui.screens.dialogs import DrawingDialog
from qdtui.widgets.drawing_grid import DrawingGrid, GridItem
from qdtui.widgets.header import Header
from qdtui.workers import deliver, wanted

if TYPE_CHECKING:
    from qdtui.evaluation_data import EvalData


@dataclass
class GallerySection:
    """A titled group of drawings (indices into the run's predictions); `titles` override captions."""

    title: str
    indices: np.ndarray
    titles: list[str] | None = None


def drawing_items(data: EvalData, indices, titles: list[str] | None = None) -> list[GridItem]:
    """Grid items with truth, prediction, its probability and provenance for drawings of a run."""
    pred = data.pred
    classes = pred.classes
    labels = np.asarray(pred.labels)
    prov = pred.provenance
    items = []
    for k, i in enumerate(np.asarray(indices, dtype=np.int64).tolist()):
        p = int(data.predicted[i])
        items.append(GridItem(pred.images[i], truth=classes[int(labels[i])], pred=classes[p],
                              prob=float(pred.probs[i, p]), provenance=prov[i] if i < len(prov) else "",
                              title=titles[k] if titles else None))
    return items


def by_confidence(data: EvalData, indices: np.ndarray) -> np.ndarray:
    """Indices ordered by the probability of their prediction, most confident first (stable)."""
    indices = np.asarray(indices, dtype=np.int64)
    if indices.size == 0:
        return indices
    p = data.pred.probs[indices, data.predicted[indices]]
    return indices[np.argsort(-p, kind="stable")]


class GalleryScreen(Screen):
    """Drawings of one or two sections; Enter shows one large, tab moves between sections."""

    DEFAULT_CSS = """
    GalleryScreen #gallery-title { height: 1; padding: 0 1; background: $panel; }
    GalleryScreen #gallery-panes { height: 1fr; }
    GalleryScreen .gallery-pane { width: 1fr; }
    GalleryScreen .gallery-heading { height: 1; padding: 0 1; color: $text-accent; }
    GalleryScreen #gallery-detail { height: auto; max-height: 3; padding: 0 1; background: $panel; }
    """
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("tab", "switch_section", "Section", show=False),
    ]
    HELP_EXTRA = [
        ("arrows", "move in the drawings"),
        ("tab", "the other direction (two sections)"),
        ("z", "drawing size"),
        ("enter", "show a drawing large"),
    ]

    def __init__(self, title: str, data: EvalData, sections: list[GallerySection], note: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.data = data
        self.sections = sections
        self.note = note

    def compose(self) -> ComposeResult:
        yield Header()
        line = Text(literal(self.title_text), style="bold")
        if self.note:
            line.append(f" · {self.note}")
        yield Static(line, id="gallery-title")
        with Horizontal(id="gallery-panes"):
            for k, s in enumerate(self.sections):
                with Vertical(classes="gallery-pane"):
                    yield Static(Text(f"{literal(s.title)} ({len(s.indices)})", style="bold"), classes="gallery-heading")
                    yield DrawingGrid(id=f"gallery-{k}")
        yield Static("", id="gallery-detail")
        yield Footer()

    @property
    def grids(self) -> list[DrawingGrid]:
        """One grid per section."""
        return list(self.query(DrawingGrid))

    def on_mount(self) -> None:
        self.sub_title = f"run {self.data.run_id}"
        for g in self.grids:
            g.loading = True
        self.build()

    @work(thread=True, exclusive=True, group="gallery", exit_on_error=False)
    def build(self) -> None:
        """Make the grid items off the UI thread (a diagonal cell can hold thousands)."""
        lists = []
        for s in self.sections:
            if not wanted():
                return  # the gallery was closed: stop making items nobody sees
            lists.append(drawing_items(self.data, s.indices, s.titles))
        deliver(self, self._show, lists)

    def _show(self, lists: list[list[GridItem]]) -> None:
        for grid, items in zip(self.grids, lists):
            grid.loading = False
            grid.set_items(items)
        first = next((g for g, items in zip(self.grids, lists) if items), None)
        if first is not None:
            first.focus()
            self._detail(first, 0)
        else:
            self.query_one("#gallery-detail", Static).update("no drawings here")

    def _detail(self, grid: DrawingGrid, index: int) -> None:
        k = self.grids.index(grid)
        i = int(self.sections[k].indices[index])
        self.query_one("#gallery-detail", Static).update(Text(literal(self.data.describe(i))))

    def on_drawing_highlighted(self, message: DrawingHighlighted) -> None:
        if message.grid in self.grids:
            self._detail(message.grid, message.index)

    def on_drawing_selected(self, message: DrawingSelected) -> None:
        self.app.push_screen(DrawingDialog(message.item, title=self.title_text))

    def action_switch_section(self) -> None:
        """Focus the next section's drawings."""
        grids = [g for g in self.grids if g.items]
        if len(grids) < 2:
            return
        now = next((k for k, g in enumerate(grids) if g.has_focus), -1)
        grids[(now + 1) % len(grids)].focus()
