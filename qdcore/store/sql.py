"""SQL pieces shared by the store's tables."""

from __future__ import annotations

import sqlite3
from typing import Any

from qdcore.errors import StoreError


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """' WHERE a = ? AND ...' (or '') and its arguments from (sql, value) pairs; a None value drops its
    condition, and a condition without '?' takes no argument."""
    used = [(sql, value) for sql, value in conditions if value is not None]
    where = " WHERE " + " AND ".join(sql for sql, _ in used) if used else ""
    return where, [value for sql, value in used if "?" in sql]


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just added (sqlite3 sets it for every INSERT that succeeds)."""
    if cur.lastrowid is None:
        raise StoreError("the database gave no id for the row just added")
    return cur.lastrowid
