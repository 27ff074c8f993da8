"""The `?` screen: the keys of the screen underneath, and the keys that work everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

ABOUT = (
    "qd trains and inspects classifiers of Quick, Draw! doodles. Everything works from the keyboard; "
    "the mouse works too. Runs started with `qd train` in another terminal show up here."
)

EVERYWHERE = [
    ("?", "this help"),
    ("escape", "back / close"),
    ("ctrl+t", "light / dark theme"),
    ("ctrl+p", "command palette"),
    ("ctrl+q", "quit from any screen"),
    ("tab", "next pane"),
]


@dataclass(frozen=True)
class KeyHelp:
    """One line of help: key(s) and what they do."""

    keys: str
    description: str


def screen_keys(screen: Screen) -> list[KeyHelp]:
    """The described bindings active on a screen (its focused widget's included), one line per action."""
    app = screen.app
    extra_pairs = getattr(screen, "HELP_EXTRA", [])
    explained = {k for keys, _ in extra_pairs for k in keys.split()}  # keys HELP_EXTRA already describes
    seen: dict[tuple[str, str], list[str]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        text = b.description or b.action
        # App-wide keys are listed under "Everywhere"; hidden ones (arrows) in the screen's HELP_EXTRA.
        if (active.node is app or not b.show or not b.description or b.system or key in explained
                or (b.key_display or "") in explained):
            continue
        disp = app.get_key_display(Binding(key, b.action, b.description, key_display=b.key_display))
        seen.setdefault((b.action, text), []).append(disp)
    extra = [KeyHelp(k, d) for k, d in extra_pairs]
    return extra + [KeyHelp(" ".join(keys), text) for (_, text), keys in seen.items()]


class HelpScreen(ModalScreen[None]):
    """Lists key bindings; ?, Escape or q closes it."""

    BINDINGS = [Binding("escape,question_mark,q", "close", "Close")]

    def __init__(self, keys: list[KeyHelp], screen_name: str = "") -> None:
        super().__init__()
        self.keys = keys
        self.screen_name = screen_name

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "Help"
            box.border_subtitle = "? or escape closes"
            yield Static(ABOUT, classes="help-about", markup=False)
            yield Static(f"On this screen{f' ({self.screen_name})' if self.screen_name else ''}",
                         classes="help-heading")
            yield Static(self._table(self.keys) or "(no keys of its own)", classes="help-keys", markup=False)
            yield Static("Everywhere", classes="help-heading")
            yield Static(self._table([KeyHelp(k, d) for k, d in EVERYWHERE]), classes="help-keys", markup=False)

    @staticmethod
    def _table(rows: list[KeyHelp]) -> str:
        if not rows:
            return ""
        w = max(len(r.keys) for r in rows)
        return "\n".join(f"{r.keys.rjust(w)}  {r.description}" for r in rows)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
