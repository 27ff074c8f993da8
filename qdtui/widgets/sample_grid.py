"""A GAN sample grid (rows x cols drawings) in half-block cells, each row under a line naming its class."""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from qdtui.widgets.drawing import cell_pairs, resample, widget_palette

GAP = 1  # blank cells between drawings


class SampleGrid(Widget):
    """Rows of generated drawings at half size (14x7 cells each) under a label line; whole drawings only, and the
    label says how many of a row's drawings the width shows when it cannot show them all."""

    COMPONENT_CLASSES = {"sample-grid--ink", "sample-grid--paper", "sample-grid--label"}
    DEFAULT_CSS = """
    SampleGrid { height: auto; width: 1fr; }
    SampleGrid > .sample-grid--ink { color: $foreground; }
    SampleGrid > .sample-grid--paper { color: $surface; }
    SampleGrid > .sample-grid--label { color: $text-muted; }
    """

    def __init__(self, *, zoom: float = 0.5, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.zoom = zoom
        self._grid: np.ndarray | None = None
        self._labels: list[str] = []
        self._rows: list[np.ndarray] = []  # per grid row: cell pairs (lines, cols * cell_w, 2)
        self._palettes: dict = {}

    @property
    def grid(self) -> np.ndarray | None:
        """The uint8 (rows, cols, 28, 28) grid shown."""
        return self._grid

    def show(self, grid: np.ndarray | None, labels: list[str]) -> None:
        """Show a grid with one label per row."""
        self._grid = grid
        self._labels = list(labels)
        self._rows = []
        if grid is not None:
            for r in range(grid.shape[0]):
                tiles = [np.pad(resample(grid[r, c], self.zoom), ((0, 0), (0, GAP))) for c in range(grid.shape[1])]
                self._rows.append(cell_pairs(np.hstack(tiles)))
        self.refresh(layout=True)

    @property
    def tile_width(self) -> int:
        """Cells per drawing, with its gap."""
        return self._rows[0].shape[1] // max(1, self._grid.shape[1]) if self._rows and self._grid is not None else 1

    def shown_columns(self, width: int | None = None) -> int:
        """How many whole drawings of a row fit the width (the last one's gap may be cut)."""
        if self._grid is None:
            return 0
        width = self.size.width if width is None else width
        return max(0, min(self._grid.shape[1], (width + GAP) // self.tile_width))

    def get_content_height(self, container, viewport, width: int) -> int:
        return sum(1 + p.shape[0] for p in self._rows) if self._rows else 1

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if not self._rows:
            return Strip([Segment("no samples yet", base)]).crop_extend(0, width, base)
        for r, pairs in enumerate(self._rows):  # noqa: B007 - r: the row found, read after the loop
            if y < 1 + pairs.shape[0]:
                break
            y -= 1 + pairs.shape[0]
        else:
            return Strip.blank(width, base)
        cols = self.shown_columns(width)
        if y == 0:  # the row's label line
            label = self._labels[r] if r < len(self._labels) else ""
            total = self._grid.shape[1] if self._grid is not None else 0
            if cols < total:
                label += f"  ({cols} of {total} shown: widen for more)"
            return Strip([Segment(label, self.get_component_rich_style("sample-grid--label"))]).crop_extend(0, width, base)
        segs = widget_palette(self, "sample-grid", self._palettes).segments(pairs[y - 1, :cols * self.tile_width])
        return Strip(segs).crop_extend(0, width, base)
