"""One style for every `qd ... --help`: help text shown literally, one metavar style, flags shown as flags.

Typer renders help texts as Rich markup (so `pip install 'qd[ray]'` lost its `[ray]`), prints `<bool>` after
flags as if they took a value and `<str>`/`<int>` beside our `INT`/`TEXT`, and appends `[default: x]` where
the declared options say `(default x)`. `tidy(command)` fixes each command object once, before it parses or
prints help; tests/test_help.py checks every command's help.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args, get_origin

from rich.markup import escape
from typer.core import TyperArgument, TyperOption

_TYPES = {int: "INT", float: "FLOAT", str: "TEXT", Path: "PATH"}


def metavar(param: Any) -> str:
    """INT, FLOAT, TEXT, PATH, a|b|c for choices, '' for a flag; a declared metavar wins."""
    if getattr(param, "is_flag", False) and not getattr(param, "count", False):
        return ""
    if getattr(param, "param_type_name", "") == "option" and param.metavar:
        return str(param.metavar)
    desc = getattr(param, "type_descriptor", None)
    if desc is None:
        return "TEXT"
    if desc.is_choice:
        return "|".join(str(c) for c in desc.choices or ())
    ann = desc.annotation
    many = get_origin(ann) in (list, tuple)
    if many:
        ann = (get_args(ann) or (str,))[0]
    return _TYPES.get(ann, "TEXT") + ("..." if many or getattr(param, "nargs", 1) != 1 else "")


def _default_text(value: Any) -> str | None:
    if value is None or isinstance(value, bool) or value in ("", [], ()) or callable(value):
        return None
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def tidy(command: Any) -> None:
    """Escape markup in every help text, show defaults as '(default x)', metavars in one style (the whole tree)."""
    if getattr(command, "_qd_tidy", False):
        return
    command._qd_tidy = True
    if command.help:
        command.help = escape(command.help)
    if getattr(command, "short_help", None):
        command.short_help = escape(command.short_help)
    for param in command.params:
        if param.param_type_name == "option":
            help_text = escape(param.help or "")
            shown = _default_text(param.default) if param.show_default is True and not param.is_flag else None
            if shown is not None and "(default" not in help_text:
                help_text = f"{help_text} (default {shown})".strip()
            param.help = help_text
            param.show_default = False
        else:
            param.help = escape(param.help or "")
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)


def _display_type(self: Any, ctx: Any) -> str | None:
    return metavar(self) or None


def _usage_name(self: Any) -> str:
    name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
    return name + ("..." if self.nargs != 1 else "")


def install() -> None:
    """Make Typer's help table use `metavar` (flags, the --help option and arguments included), and the usage
    line name arguments as RUN / [RUN] rather than {run}."""
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
    TyperArgument.display_type_rich = _display_type  # type: ignore[method-assign]
    TyperArgument._usage_display_name = _usage_name  # type: ignore[method-assign]
