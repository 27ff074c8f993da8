"""Fitting text to cells without cutting words: paths abbreviated in the middle, home as ~."""

from __future__ import annotations

from pathlib import Path


def short_path(path: str | Path, width: int) -> str:
    """The path with the home folder as ~, and '…' replacing whole middle folders when wider than width."""
    text = str(path)
    home = str(Path.home())
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        text = "~" + text[len(home):]
    if len(text) <= width:
        return text
    parts = text.split("/")
    # keep the first and the last folders (the last name the store); drop whole folders from the middle
    for k in range(2, len(parts)):
        candidate = "/".join([parts[0], "…", *parts[k:]])
        if len(candidate) <= width:
            return candidate
    return "…" + text[len(text) - width + 1:] if width > 1 else "…"
