"""Options and helpers shared by all `qd` commands."""

from __future__ import annotations

import errno
import json
import math
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console, JustifyMethod
from rich.errors import MarkupError
from rich.markup import escape
from rich.text import Text

from qdcore.cli.options import declared_option
from qdcore.fmt import literal
from qdcore.options import DataSelection
from qdcore.runs.start_options import StartOptions


class SafeConsole(Console):
    """A Console that never lets text it renders carry raw control sequences or break on stray markup.

    A safety net under `lit()`: strings from names that reach a table or line unescaped print with
    their ESC/OSC and other control characters shown as escapes, and text that is not valid markup
    prints as it is instead of raising MarkupError.
    """

    def render_str(self, text: str, **kwargs: Any):
        text = literal(text, keep="\n\t")
        try:
            return super().render_str(text, **kwargs)
        except MarkupError:
            return Text(text, style=kwargs.get("style") or "")

    def on_broken_pipe(self) -> None:
        """Nobody reads the output any more: go quiet and raise (Rich would exit at once; a training run stops
        after its step with a checkpoint instead, see StopFlag.guard)."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


console = SafeConsole()
err_console = SafeConsole(stderr=True)


def lit(value: Any) -> str:
    """A user-supplied name, path or message for a Rich markup string: printed exactly, escapes visible."""
    return escape(literal(value))


def side(just: str) -> JustifyMethod:
    """A column spec's 'left'/'right' as the literal rich's justify takes (anything else: left)."""
    return "right" if just == "right" else "left"


def print_notes(notes: Any) -> None:
    """Reader notes (skipped malformed lines, ignored files) on stderr, the same way in every command."""
    for note in notes or ():
        err_console.print(Text("note: " + literal(note), style="yellow"), highlight=False, soft_wrap=True)


def say(text: Any) -> None:
    """A status line of a slow step (qdcore.status) on stderr, dimmed, the text literally."""
    err_console.print(Text(literal(text), style="dim"), highlight=False, soft_wrap=True)


def error_line(message: Any) -> None:
    """Print the one `qd: error: ...` line on stderr, the message literally."""
    line = Text("qd: error:", style="bold red")
    line.append(" " + literal(message))
    err_console.print(line, highlight=False, soft_wrap=True)

# The data options of commands that read --data without a run config, declared once in DataSelection.
DataOpt = Annotated[str, declared_option(DataSelection, "data")]
CategoriesOpt = Annotated[str | None, declared_option(DataSelection, "categories")]
PerClassOpt = Annotated[int | None, declared_option(DataSelection, "per_class")]
SeedOpt = Annotated[int, declared_option(DataSelection, "seed")]
ImbalanceOpt = Annotated[str | None, declared_option(DataSelection, "imbalance")]
StrictOpt = Annotated[bool, declared_option(DataSelection, "strict")]
JsonOpt = Annotated[bool, declared_option(StartOptions, "json")]


def load_selection(data: str, categories: str | None, per_class: int | None, seed: int,
                   imbalance: str | None = None, strict: bool = False):
    """Open --data and select drawings as a DrawingSet."""
    from qdcore.data.drawingset import select  # lazy: keeps numpy out of qd --help
    from qdcore.data.opener import open_source  # lazy: keeps numpy out of qd --help

    return select(open_source(data, strict=strict), categories, per_class, seed, imbalance)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout (no Rich markup)."""
    # NaN and infinities (a metric that is undefined) become null: strict JSON that jq and browsers read.
    sys.stdout.write(json.dumps(_strict(obj), indent=2, default=_jsonable, allow_nan=False) + "\n")
    sys.stdout.flush()


def _strict(o: Any) -> Any:
    """`o` with every non-finite float (Python's or numpy's) replaced by None, containers walked."""
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict(v) for v in o]
    if isinstance(o, float):  # numpy's float64 is a float too
        return o if math.isfinite(o) else None
    if getattr(o, "dtype", None) is not None and getattr(o, "ndim", None) == 0 and o.dtype.kind == "f":
        return float(o) if math.isfinite(float(o)) else None  # numpy float16/32 scalars, read without numpy
    return o


def _jsonable(o: Any) -> Any:
    import numpy as np  # lazy: keeps numpy out of qd --help

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "__fspath__"):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    error_line(message)
    raise typer.Exit(code)
