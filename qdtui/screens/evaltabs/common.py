"""What every evaluation tab shares: the run's data, a message in place of the content, results from workers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from qdcore.fmt import literal

if TYPE_CHECKING:
    from qdtui.evaluation_data import EvalData, ModelCache


class EvalPane(Vertical):
    """A tab's content: gets the run's data once loaded and starts its work the first time it is shown."""

    TAB, LABEL = "", ""  # the tab's id (#pane-TAB holds the pane) and label; each tab sets both

    DEFAULT_CSS = """
    EvalPane { height: 1fr; }
    EvalPane > .pane-message { display: none; padding: 1 2; height: auto; }
    EvalPane.-message > .pane-message { display: block; }
    EvalPane.-message > .pane-body { display: none; }
    EvalPane > .pane-status { display: none; padding: 0 1; height: auto; color: $text-muted; }
    EvalPane.-busy > .pane-status { display: block; }
    EvalPane > .pane-body { height: 1fr; }
    EvalPane .pane-line { height: auto; max-height: 3; padding: 0 1; background: $panel; }  /* wraps at words */
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.data: EvalData | None = None
        self.models: ModelCache | None = None
        self.started = False

    def compose(self) -> ComposeResult:
        message = Static("", classes="pane-message")
        message.can_focus = True  # so the tab's keys (e.g. f in Clusters) still work while it shows a message
        yield message
        yield Static("", classes="pane-status")
        with Vertical(classes="pane-body"):
            yield from self.compose_body()

    def compose_body(self) -> ComposeResult:
        """The tab's widgets."""
        yield from ()

    def set_data(self, data: EvalData, models: ModelCache) -> None:
        """New predictions: forget what was computed from the old ones."""
        self.data, self.models, self.started = data, models, False
        self.unsay()

    def activate(self) -> None:
        """Start the tab's work the first time it is shown with data."""
        if self.data is not None and self.data.ok and not self.started:
            self.started = True
            self.start()

    def start(self) -> None:
        """Compute what the tab shows (in a worker)."""

    def focus_main(self) -> None:
        """Focus the tab's main widget."""
        for w in self.query(".pane-body *"):
            if w.focusable and w.display:
                w.focus()
                return

    @property
    def shown_now(self) -> bool:
        """This tab is the one on screen."""
        pane = self.parent
        switcher = pane.parent if pane is not None else None
        return pane is not None and getattr(switcher, "current", None) == pane.id

    def busy(self, text: str) -> None:
        """Say what the tab is computing above a loading indicator (work that takes seconds to a minute)."""
        self.query_one(".pane-status", Static).update(Text(literal(text)))
        self.add_class("-busy")
        self.query_one(".pane-body").loading = True

    def loaded(self, widget: Widget | None = None) -> None:
        """Loading is over: hide the indicator and give focus back (a loading widget loses it)."""
        target = widget or self
        target.loading = False
        self.remove_class("-busy")
        self.query_one(".pane-body").loading = False
        if self.shown_now and self.app.focused is None:
            if widget is not None and widget.focusable:
                widget.focus()
            else:
                self.focus_main()

    def say(self, text: str, style: str = "yellow") -> None:
        """Show a message instead of the tab's content (bad input, a missing model, too few drawings)."""
        message = self.query_one(".pane-message", Static)
        message.update(Text(literal(text, keep="\n"), style=style))
        self.add_class("-message")
        self.remove_class("-busy")
        self.query_one(".pane-body").loading = False
        self.loading = False
        focused = self.app.focused
        if self.shown_now and (focused is None or self in focused.ancestors):
            message.focus()

    def unsay(self) -> None:
        """Show the content again."""
        self.remove_class("-message")
        if self.is_mounted and self.app.focused is self.query_one(".pane-message"):
            self.call_after_refresh(self.focus_main)

    @property
    def saying(self) -> str:
        """The message shown ('' when the content is)."""
        return str(self.query_one(".pane-message", Static).content) if self.has_class("-message") else ""
