"""Textual messages of qdtui in one place (toolong style); high-rate ones collapse with `can_replace`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from qdtui.loaders import Catalog, RecentRuns, Samples
    from qdtui.widgets.drawing_grid import GridItem


# --- data loaded by workers -------------------------------------------------


class CatalogLoaded(Message):
    """The data source was opened and its categories counted."""

    def __init__(self, catalog: "Catalog") -> None:
        super().__init__()
        self.catalog = catalog


class CatalogFailed(Message):
    """The data source could not be opened; `error` is one line for the user."""

    def __init__(self, spec: str, error: str) -> None:
        super().__init__()
        self.spec = spec
        self.error = error


class SamplesLoaded(Message):
    """Sample drawings of one category are ready."""

    def __init__(self, samples: "Samples") -> None:
        super().__init__()
        self.samples = samples


class LoadFailed(Message):
    """A worker could not read something (`what`, e.g. a category); `error` is one line for the user."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class RunsLoaded(Message):
    """Recent runs were read from the store (`note` says why the list may be empty)."""

    def __init__(self, runs: "RecentRuns") -> None:
        super().__init__()
        self.runs = runs


class RunChosen(Message):
    """The user picked a run (Enter in a runs table)."""

    def __init__(self, run_id: int, status: str = "done", kind: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.status = status
        self.kind = kind


class AttachChecked(Message):
    """`qdtui attach ID` looked the run up: `run` is its record, or `error` says why not."""

    def __init__(self, run_id: int, run: Any | None, error: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.run = run
        self.error = error


# --- widgets ---------------------------------------------------------------


class _CellMessage(Message):
    """A confusion-matrix cell: class `truth` predicted as `pred`, `count` drawings."""

    def __init__(self, matrix: Any, truth: int, pred: int, truth_name: str, pred_name: str, count: int) -> None:
        super().__init__()
        self.matrix = matrix
        self.truth = truth
        self.pred = pred
        self.truth_name = truth_name
        self.pred_name = pred_name
        self.count = count

    @property
    def control(self) -> Any:
        """The ConfusionMatrix that sent the message."""
        return self.matrix


class CellSelected(_CellMessage):
    """Enter on a confusion-matrix cell: show the drawings of class `truth` predicted as `pred`."""


class CellHighlighted(_CellMessage):
    """The confusion-matrix cursor moved; collapses when the cursor moves fast."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CellHighlighted) and message.matrix is self.matrix


class _DrawingMessage(Message):
    """A drawing of a grid: its index and item."""

    def __init__(self, grid: Any, index: int, item: "GridItem") -> None:
        super().__init__()
        self.grid = grid
        self.index = index
        self.item = item

    @property
    def control(self) -> Any:
        """The DrawingGrid that sent the message."""
        return self.grid


class DrawingSelected(_DrawingMessage):
    """Enter (or a click on the current cell) in a drawing grid."""


class DrawingHighlighted(_DrawingMessage):
    """The drawing-grid cursor moved; collapses when keys repeat."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DrawingHighlighted) and message.grid is self.grid


# --- followed runs (live view and attach) -----------------------------------


class MetricRows(Message):
    """New metric rows read from the store for a followed run (attach)."""

    def __init__(self, run_id: int, rows: list, status: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.rows = rows
        self.status = status
