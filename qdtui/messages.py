"""Messages that cross modules (widget to screen, screen to app), as dataclasses (toolong's style).

A message that only one screen posts and handles lives beside that screen; this module imports no screen.
High-rate messages collapse with `can_replace`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from qdtui.loaders import Catalog


# --- data and runs ------------------------------------------------------------


@dataclass
class CatalogLoaded(Message):
    """The data source was opened and its categories counted (the home screen and the data browser)."""

    catalog: Catalog


@dataclass
class CatalogFailed(Message):
    """The data source could not be opened; `error` is one line for the user."""

    spec: str
    error: str


@dataclass
class RunChosen(Message):
    """The user picked a run (Enter in a runs table); the app opens what its kind opens."""

    run_id: int
    status: str = "done"
    kind: str = ""


# --- widgets ---------------------------------------------------------------


@dataclass
class _CellMessage(Message):
    """A confusion-matrix cell: class `truth` predicted as `pred`, `count` drawings."""

    matrix: Any
    truth: int
    pred: int
    truth_name: str
    pred_name: str
    count: int

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


@dataclass
class _DrawingMessage(Message):
    """A drawing of a grid: its index and item (a qdtui.widgets.drawing_grid.GridItem)."""

    grid: Any
    index: int
    item: Any

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


@dataclass
class DrawingFocused(Message):
    """A tab's cursor is on test drawing `index` (the Hidden tab shows that one's feature maps)."""

    index: int

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DrawingFocused)


@dataclass
class StrokesChanged(Message):
    """The canvas's strokes changed; `finished` after pen-up, undo or clear, else a point was added mid-stroke."""

    canvas: Any
    finished: bool

    @property
    def control(self) -> Any:
        """The Canvas that sent the message."""
        return self.canvas

    def can_replace(self, message: Message) -> bool:
        # Points of one stroke collapse; a finished stroke is never dropped.
        return isinstance(message, StrokesChanged) and not message.finished and message.canvas is self.canvas
