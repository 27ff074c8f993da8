"""Dialogs and message screens: confirm, error, a full-screen message, the too-small notice, a drawing zoom."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Static

from qdtui.widgets.header import Header

if TYPE_CHECKING:
    from qdtui.widgets.drawing_grid import GridItem


class ConfirmDialog(ModalScreen[bool]):
    """Ask yes/no; dismisses with True for yes. y/n/Enter/Escape work without the mouse."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("left,right,tab", "app.focus_next", show=False),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel", title: str = "Confirm") -> None:
        super().__init__()
        self.question = question
        self.yes, self.no, self.title_text = yes, no, title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as box:
            box.border_title = self.title_text
            yield Static(self.question, classes="dialog-body", markup=False)  # names in questions print literally
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="error", id="yes")
                yield Button(f"{self.no} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # the safe answer is the default

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


class ErrorDialog(ModalScreen[None]):
    """Show an error in one or two lines; Enter or Escape closes it."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, message: str, title: str = "Error", hint: str = "") -> None:
        super().__init__()
        self.message, self.title_text, self.hint = message, title, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -error") as box:
            box.border_title = self.title_text
            yield Static(self.message, classes="dialog-body", markup=False)
            if self.hint:
                yield Static(self.hint, classes="dialog-hint", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)


class MessageScreen(Screen[None]):
    """A full screen saying what happened and what to do (e.g. a run id that does not exist)."""

    BINDINGS = [Binding("escape,enter", "back", "Back")]

    def __init__(self, title: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.title_text, self.message, self.hint = title, message, hint

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(classes="message-box") as box:
            box.border_title = self.title_text
            yield Static(self.message, classes="dialog-body", markup=False)
            if self.hint:
                yield Static(self.hint, classes="dialog-hint", markup=False)
        yield Footer()

    def action_back(self) -> None:
        """Return to the previous screen."""
        self.dismiss(None)


class TooSmallScreen(ModalScreen[None]):
    """Covers the app while the terminal is smaller than the app needs."""

    BINDINGS = [Binding("escape", "dismiss_anyway", "Continue anyway", show=False)]

    def __init__(self, need: tuple[int, int]) -> None:
        super().__init__()
        self.need = need

    def compose(self) -> ComposeResult:
        yield Static(id="too-small-text")

    def on_mount(self) -> None:
        self.update_size()

    def on_resize(self) -> None:
        self.update_size()

    def on_screen_resume(self) -> None:
        # Uncovered again after the terminal grew while another screen was on top.
        w, h = self.app.size
        if w >= self.need[0] and h >= self.need[1]:
            self.dismiss(None)

    def update_size(self) -> None:
        """Say how big the terminal is and how big it must be."""
        w, h = self.app.size
        nw, nh = self.need
        self.query_one("#too-small-text", Static).update(
            f"Enlarge the terminal\n\nqd needs at least {nw}×{nh}; this one is {w}×{h}.\n"
            "escape continues anyway · ctrl+q quits")

    def action_dismiss_anyway(self) -> None:
        """Let the user continue in a cramped terminal."""
        self.dismiss(None)


ZOOM_SCALES = (3.0, 2.5, 2.0, 1.75, 1.5, 1.25, 1.0)


class DrawingDialog(ModalScreen[None]):
    """One drawing large, with its caption and provenance."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, item: GridItem, title: str = "Drawing") -> None:
        super().__init__()
        self.item, self.title_text = item, title

    def compose(self) -> ComposeResult:
        from qdtui.widgets.drawing import FitDrawing  # numpy stays out of the first paint

        with Vertical(classes="dialog drawing-dialog") as box:
            box.border_title = self.title_text
            yield FitDrawing(self.item.image, scales=ZOOM_SCALES, id="big-drawing")
            first, _ = self.item.caption(200)
            yield Static(first.strip(), classes="dialog-body", markup=False)
            if self.item.provenance:
                yield Static(self.item.provenance, classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        # As large as the screen allows beside the border and the two caption lines, and always larger
        # than a grid's 1x (28x14 cells): 1.25x (35x18) fits 80x24.
        rows = max(14, min(42, self.app.size.height - 4))
        cols = max(28, min(84, self.app.size.width - 8, 2 * rows))
        drawing = self.query_one("#big-drawing")
        drawing.styles.width = cols
        drawing.styles.height = rows

    def action_close(self) -> None:
        """Close the dialog."""
        self.dismiss(None)
