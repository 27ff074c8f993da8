"""The app's header: Textual's, with an icon the served page's fonts have."""

from __future__ import annotations

import os
from typing import Any

from textual.widgets import Header as TextualHeader

# Textual's "⭘" (U+2B58) is missing from Roboto Mono (the served page's font), DejaVu Sans Mono and Liberation
# Mono, so browsers drew a box; "◊" is in all of them. Terminals keep Textual's icon (and the snapshots theirs).
SERVED_ICON = "◊"


def served() -> bool:
    """Whether this app draws into a browser page (`qdtui serve` runs it with textual's web driver)."""
    return "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")


class Header(TextualHeader):
    """Textual's Header, with an icon the browser can draw when served (clicking it opens the palette)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if served():
            kwargs.setdefault("icon", SERVED_ICON)
        super().__init__(*args, **kwargs)
