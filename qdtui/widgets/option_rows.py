"""Form rows generated from declared options (qdcore.options): a Select for choices and switches, an Input otherwise.

The Train form and the study dialog build their rows here and read them back as text, which the core checks
with the same code as the command line (`parse_text`), so a form and a flag refuse a value with one message.
"""

from __future__ import annotations

from typing import Any

from textual.containers import Horizontal
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Input, Label, Select

DEFAULT = "default"  # a Select row left at the config's default


def row_id(name: str) -> str:
    """The widget id of an option's row."""
    return "f-" + name.replace("_", "-")


def option_widget(f: Any, initial: Any = None, *, placeholder: str = "", choices: list[tuple[str, str]] | None = None,
                  compact: bool = True) -> Widget:
    """The widget of one declared option; `initial` replaces the declared default; `choices` (label, value)
    pairs offer a text option's usual values (the named studies) as a Select."""
    value = f.default if initial is None else initial
    wid = row_id(f.name)
    if f.base is bool:
        opts = [("off", "false"), ("on", "true")]
        text = DEFAULT if value is None else ("true" if value else "false")
        return Select(([("auto", DEFAULT)] if value is None else []) + opts, value=text, allow_blank=False, id=wid,
                      compact=compact)
    pairs = choices or [(c, c) for c in f.opt.choice_list()]
    if pairs:
        text = value if value in {v for _, v in pairs} else DEFAULT
        return Select(([] if text != DEFAULT else [(DEFAULT, DEFAULT)]) + pairs, value=text, allow_blank=False, id=wid,
                      compact=compact)
    return Input("" if initial is None else str(initial), placeholder=placeholder, id=wid, compact=compact)


def option_row(f: Any, widget: Widget, classes: str = "row") -> Horizontal:
    """The row of an option: its declared form label and its widget."""
    return Horizontal(Label(f.opt.form), widget, classes=classes)


def row_text(root: DOMNode, name: str) -> str:
    """What a row holds, as text ('' for a blank field or a Select left at its default)."""
    w = root.query_one(f"#{row_id(name)}")
    if isinstance(w, Select):
        text = "" if w.value is Select.NULL else str(w.value)
    else:
        text = w.value.strip() if isinstance(w, Input) else ""
    return "" if text == DEFAULT else text


def read_rows(root: DOMNode, fields: list[Any]) -> dict[str, str]:
    """The rows the user set, as text by option name (blank fields and 'default' choices left out)."""
    return {f.name: text for f in fields if (text := row_text(root, f.name))}
