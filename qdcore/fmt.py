"""Plain-text formatting shared by the CLI and the TUI (standard library only: no torch, no UI packages)."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def duration(seconds: Any) -> str:
    """'42.0s', '3m 05s', '2h 10m'; a dash for anything that is not a number (None, NaN, text)."""
    if not isinstance(seconds, (int, float)) or math.isnan(seconds):
        return DASH
    v = float(seconds)
    if v < 60:
        return f"{v:.1f}s"
    if v < 3600:
        return f"{int(v // 60)}m {int(v % 60):02d}s"
    return f"{int(v // 3600)}h {int(v % 3600 // 60):02d}m"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)


def percent(v: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.912 -> '91.2%'; a dash for None, NaN, booleans and text."""
    return f"{100 * float(v):.{digits}f}%" if _number(v) else DASH


def interval(lo: Any, hi: Any, digits: int = 1) -> str:
    """A range of fractions as percentages: (0.531, 0.888) -> '53.1–88.8%'; a dash when either end is missing."""
    return f"{100 * float(lo):.{digits}f}–{100 * float(hi):.{digits}f}%" if _number(lo) and _number(hi) else DASH


def percent_ci(v: Any, lo: Any, hi: Any, digits: int = 1) -> str:
    """'91.2% (88.0–93.9%)': a rate with its 95% interval (just the rate when there is no interval)."""
    if not _number(lo) or not _number(hi):
        return percent(v, digits)
    return f"{percent(v, digits)} ({interval(lo, hi, digits)})"


def printable(text: Any) -> str:
    """User-supplied text with control characters escaped (\\x1b, \\n, ...), safe to print on one line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))
