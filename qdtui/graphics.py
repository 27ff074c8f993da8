"""Which graphics the terminal shows (kitty, sixel, half-blocks), asked before Textual starts; no numpy here."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

from qdcore.options import option

MODES = ("auto", "kitty", "sixel", "halfblock")


@dataclass
class Display:
    """How the app draws drawings (`qdtui --graphics`; ctrl+g switches in the app)."""

    graphics: str = option("auto", help="How drawings are drawn: real pixels (kitty, sixel), half-blocks, or auto: "
                           "ask the terminal ($QD_GRAPHICS sets it too).", choices=MODES)


def detect_graphics() -> str:
    """The best mode the terminal on stdout shows: kitty, sixel or halfblock. Call before Textual starts.

    Known terminals are recognised from their environment; others are asked (the answer comes back
    through SSH); tmux swallows both protocols unless passthrough is on, so under tmux only an
    explicit --graphics gives pixels."""
    out = sys.__stdout__
    if out is None or not out.isatty() or os.environ.get("TMUX"):
        return "halfblock"
    term, program = os.environ.get("TERM", ""), os.environ.get("TERM_PROGRAM", "")
    if os.environ.get("KITTY_WINDOW_ID") or term == "xterm-kitty" or program == "ghostty":
        return "kitty"
    if program in ("WezTerm", "iTerm.app") or term.startswith(("foot", "mlterm")):
        return "sixel"  # WezTerm and iTerm2 speak sixel but not kitty's placeholders
    try:
        from textual_image.renderable import sixel, tgp

        if sixel.query_terminal_support():
            return "sixel"
        if tgp.query_terminal_support():
            return "kitty"
    except Exception:  # noqa: BLE001 - a terminal that answers oddly gets half-blocks
        pass
    return "halfblock"


def resolve_graphics(requested: str) -> str:
    """`--graphics` value -> the mode used; 'auto' asks the terminal."""
    if requested not in MODES:
        raise ValueError(f"graphics {requested!r} is not one of {', '.join(MODES)}")
    return detect_graphics() if requested == "auto" else requested


def _tmux(*args: str) -> str:
    """What a tmux command prints ('' when tmux cannot be asked)."""
    try:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def tmux_hides(mode: str) -> str:
    """Why tmux will not show `mode`'s images ('' outside tmux, for half-blocks, or when tmux passes them on).

    tmux draws its panes itself: sixel shows only where tmux (3.4+, built with sixel) says its terminal has it;
    kitty graphics only pass through with allow-passthrough on."""
    if mode not in ("kitty", "sixel") or not os.environ.get("TMUX"):
        return ""
    if mode == "sixel":
        if "sixel" in _tmux("display-message", "-p", "#{client_termfeatures}").split(","):
            return ""
        return "this tmux does not pass sixel images on (that needs tmux 3.4 or later built with sixel)"
    if _tmux("show-options", "-gv", "allow-passthrough") in ("on", "all"):
        return ""
    return "tmux passes kitty graphics on only with `set -g allow-passthrough on`"


def cell_pixels() -> tuple[int, int]:
    """(width, height) in pixels of one terminal cell (asked once; 10x20 when nobody says)."""
    try:
        from textual_image._terminal import get_cell_size

        size = get_cell_size()
        return int(size.width), int(size.height)
    except Exception:  # noqa: BLE001 - no terminal (tests, pipes): the VT340's cells
        return 10, 20
