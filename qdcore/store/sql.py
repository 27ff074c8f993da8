"""SQL pieces shared by the store's tables."""

from __future__ import annotations

from typing import Any


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """' WHERE a = ? AND ...' (or '') and its arguments from (sql, value) pairs; a None value drops its
    condition, and a condition without '?' takes no argument."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    where = " WHERE " + " AND ".join(sql for sql, _ in used) if used else ""
    return where, [value for sql, value in used if "?" in sql]
