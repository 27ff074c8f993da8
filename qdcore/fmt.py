"""Plain-text formatting shared by the CLI and the TUI (standard library only: no torch, no UI packages)."""

from __future__ import annotations

import hashlib
import math
import os
import re
import unicodedata
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


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


def text_path(path: Any) -> str:
    """A path as text any encoder takes: bytes of a non-UTF-8 name spelled out (`\\xff`), the rest as is."""
    s = os.fspath(path) if not isinstance(path, str) else path
    if isinstance(s, bytes):
        return s.decode("utf-8", "backslashreplace")
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return os.fsencode(s).decode("utf-8", "backslashreplace")


def literal(value: Any, keep: str = "") -> str:
    """A user-supplied name or path made safe to print: control, format and undecodable characters escaped.

    ESC/OSC sequences, newlines, bidi overrides and the surrogates that stand for non-UTF-8 bytes in
    file names come out as visible escapes (`\\e`, `\\n`, `\\u202e`, `\\xff`), so a name can neither
    restyle the terminal nor fake extra lines. Characters in `keep` pass through.
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text

    out = []
    for ch in text:
        if ch.isprintable() or ch in keep or ch == " ":
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # os.fsdecode's stand-in for a non-UTF-8 byte
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Zs",):
            out.append(ch)  # no-break and other spaces print as spaces
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    return "".join(out)


def safe_filename(name: Any, limit: int = 60) -> str:
    """A file-name part derived from a user name: letters, digits and `.+-_` only, at most `limit` characters.

    Anything else (separators, controls, undecodable bytes) becomes '_'; a long name is cut and given a
    short hash of the whole so two long names stay apart.
    """
    text = name if isinstance(name, str) else str(name)
    clean = re.sub(r"[^\w.+-]+", "_", text.encode("utf-8", "replace").decode("utf-8", "replace"))
    clean = clean.replace("\ufffd", "_").strip("._") or "x"
    if len(clean) > limit:
        digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        clean = f"{clean[:limit - 9]}-{digest}"
    return clean


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
    return literal(text)


def size(n: Any) -> str:
    """Bytes as '812 B', '3.4 KB', '95.4 MB', '37.2 GB' (powers of 1024, as --device-memory counts); '-' for None."""
    if not _number(n):
        return "-"
    v = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(v) < 1024 or unit == "GB":
            return f"{v:,.0f} {unit}" if unit == "B" else f"{v:,.1f} {unit}"
        v /= 1024
    return str(n)


def kept_note(summary: dict[str, Any]) -> str:
    """'' when a summary's per-drawing views hold every drawing, else ' (the drawing views hold a random N of
    them)', to follow the drawing count."""
    n, kept = summary.get("n"), summary.get("kept")
    if not isinstance(n, int) or not isinstance(kept, int) or kept >= n:
        return ""
    return f" (the drawing views hold a random {kept:,} of them)"


_IRREGULAR = {"category": "categories", "was": "were", "class": "classes", "is": "are", "this": "these"}


def plural(n: Any, noun: str, many: str | None = None) -> str:
    """'1 epoch', '5 epochs', '1,200 drawings', '1 category': a count with its noun in the right number."""
    count = f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else str(n)
    one = isinstance(n, (int, float)) and not isinstance(n, bool) and n == 1
    return f"{count} {noun if one else (many or _IRREGULAR.get(noun) or noun + 's')}"


SERIES_COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow")  # plotext text plots, one per series
