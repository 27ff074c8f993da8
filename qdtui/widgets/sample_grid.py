"""A GAN sample grid (rows x cols drawings) in half-block cells, each row labelled with its class."""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from qdtui.widgets.drawing import cell_pairs, resample, widget_palette

LABEL = 9  # cells for the row label


class SampleGrid(Widget):
    """Rows of generated drawings at half size (14x7 cells each), a label before each row; fits what the width allows."""

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
                tiles = [np.pad(resample(grid[r, c], self.zoom), ((0, 0), (0, 1))) for c in range(grid.shape[1])]
                self._rows.append(cell_pairs(np.hstack(tiles)))
        self.refresh(layout=True)

    def get_content_height(self, container, viewport, width: int) -> int:
        return sum(p.shape[0] for p in self._rows) if self._rows else 1

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if not self._rows:
            return Strip([Segment("no samples yet", base)]).crop_extend(0, width, base)
        for r, pairs in enumerate(self._rows):
            if y < pairs.shape[0]:
                break
            y -= pairs.shape[0]
        else:
            return Strip.blank(width, base)
        label_style = self.get_component_rich_style("sample-grid--label")
        text = self._labels[r] if r < len(self._labels) and y == pairs.shape[0] // 2 else ""
        segs = [Segment(text[:LABEL - 1].ljust(LABEL), label_style)]
        room = max(0, width - LABEL)
        segs += widget_palette(self, "sample-grid", self._palettes).segments(pairs[y, :room])
        return Strip(segs).crop_extend(0, width, base)
