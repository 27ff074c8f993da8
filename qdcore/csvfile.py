"""The one CSV writer: every CSV qd writes (analysis, study reports, run exports) goes through `csv_bytes`.

Text cells that a spreadsheet would run as a formula (leading `= + - @`, tab or carriage return:
a category named `=cmd|' -C calc'!A0`) get a leading apostrophe, OWASP's advice; numbers are written
as numbers, so a negative value stays a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(text: str) -> str:
    """A text cell a spreadsheet shows as text, never evaluates."""
    return "'" + text if text.startswith(FORMULA_START) else text


def cell(v: Any, precise: bool = False) -> str:
    """One cell: '' for None and NaN; floats to 6 significant digits (`precise`: the shortest exact text)."""
    import numpy as np  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return ""
        return repr(v) if precise else f"{v:.6g}"
    if isinstance(v, (list, tuple, np.ndarray)):
        return safe_text(" ".join(cell(x, precise) for x in v))
    return safe_text(str(v))


def columns_of(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of the rows, in first-seen order."""
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    return list(cols)


def _field(text: str) -> str:
    """RFC 4180 quoting: a field holding a comma, quote, CR or LF (or edge spaces) is quoted, quotes doubled.

    (The csv module quotes only the line terminator's own characters, so a lone CR would break a row.)"""
    if text and (any(ch in text for ch in ',"\r\n') or text[0] == " " or text[-1] == " "):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_bytes(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, precise: bool = False) -> bytes:
    """Dict rows as UTF-8 CSV: a header (`columns`, or every key in first-seen order), then one line a row."""
    cols = list(columns) if columns is not None else columns_of(rows)
    lines = [",".join(_field(safe_text(str(c))) for c in cols)]
    lines += [",".join(_field(cell(r.get(c), precise)) for c in cols) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")
