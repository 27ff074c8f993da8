"""User-supplied names as Rich Text for widgets: never read as markup, control characters shown escaped."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from qdcore.fmt import literal


def plain(value: Any, style: str = "", justify: str | None = None) -> Text:
    """A name, path or message as a literal Text cell (a `[/]` in a run name is just two brackets)."""
    return Text(literal("" if value is None else value), style=style, justify=justify)  # type: ignore[arg-type]
