"""The tracker row of a run and the runs table's columns, in one place for `qd runs list` and the TUI.

The table is id and name, then the columns of the kinds present (qdcore.runs.kinds.Column: a classifier's
model, params, top-1 and the hyperparameters that tell runs apart), then runtime and status. Columns are
dropped, least telling first, until the table fits the width (80 cells keep every hyperparameter).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdcore.fmt import DASH, duration, percent
from qdcore.runs.kinds import DEFAULT_KIND, Column, all_kinds, find_kind

NAME_MIN = 16
SCROLLBAR = 1


@dataclass(frozen=True)
class TableColumn:
    """A column as shown: key, header, width in cells (its leading separator included), alignment."""

    key: str
    header: str
    width: int
    right: bool
    drop: int = 0  # dropped first when the table does not fit: higher goes first; -1 never


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v)


def runtime_of(run: Any) -> float | None:
    """Training seconds from the summary, else the wall time from stored timestamps (no clocks)."""
    s = run.summary or {}
    runtime = _num(s.get("train_seconds"))
    if runtime is None and run.started is not None:
        end = run.ended if run.ended is not None else run.heartbeat
        runtime = (end - run.started) if end is not None else None
    return runtime


def row_values(run: Any, human: float | None = None) -> dict[str, Any]:
    """Sortable values of a run's row: the common ones and its kind's columns (None where unknown)."""
    c, s = run.config or {}, run.summary or {}
    out: dict[str, Any] = {"id": int(run.id), "name": str(run.name or ""), "kind": str(run.kind),
                           "status": str(run.status), "runtime": runtime_of(run), "human": human,
                           "data": str(c.get("data") or "")}
    kind = find_kind(run.kind)
    for col in (kind.columns if kind is not None else ()):
        try:
            out[col.key] = col.value(c, s)
        except (TypeError, ValueError, KeyError):
            out[col.key] = None
    return out


def row_texts(run: Any, values: dict[str, Any]) -> dict[str, str]:
    """The cell text of each key of a row (its own kind's formatting; other kinds' columns blank)."""
    out = {"id": str(values["id"]), "name": values["name"], "status": values["status"],
           "runtime": duration(values.get("runtime")), "human": percent(values.get("human")),
           "kind": values["kind"], "data": values.get("data", "")}
    kind = find_kind(run.kind)
    for col in (kind.columns if kind is not None else ()):
        v = values.get(col.key)
        try:
            out[col.key] = DASH if v is None and col.text is str else col.text(v)
        except (TypeError, ValueError):
            out[col.key] = DASH
    return out


def tracker_row(run: Any, human: Any = None) -> dict[str, Any]:
    """Study 001's tracker values for one run (JSON: `qd runs list --json`); `human` is its quiz Baseline."""
    c, s = run.config or {}, run.summary or {}
    values = row_values(run, None if human is None else getattr(human, "top1", None))
    out = {"id": run.id, "name": run.name, "kind": run.kind, "status": run.status, "model": c.get("model"),
           "data": c.get("data"), "params": s.get("params"), "test_top1": s.get("test_top1"),
           "test_top5": s.get("test_top5"), "best_epoch": s.get("best_epoch"),
           "train_seconds": s.get("train_seconds"),
           "human_top1": None if human is None else human.top1,
           "human": None if human is None else human.as_dict()}
    out["columns"] = {k: v for k, v in values.items() if k not in out}
    return out


def kind_columns(kind_names: list[str]) -> list[Column]:
    """The columns of the kinds present, each key once (registry order)."""
    present = set(kind_names)
    seen: dict[str, Column] = {}
    for k in all_kinds():
        if k.name in present:
            for col in k.columns:
                seen.setdefault(col.key, col)
    return list(seen.values())


def _drop_rank(col: Column) -> int:
    return {"params": 3, "model": 1}.get(col.key, 0)


def table_columns(runs: list[Any], total: int, human: bool = False) -> list[TableColumn]:
    """The columns that fit `total` cells: id, name, the kinds' columns, (people), runtime, status."""
    max_id = max((int(r.id) for r in runs), default=1)
    kinds = kind_columns([r.kind for r in runs] if runs else [DEFAULT_KIND])
    cols = [TableColumn("id", "id", max(3, len(str(max_id)) + 1), True, -1),
            TableColumn("name", "name", NAME_MIN, False, -1)]
    cols += [TableColumn(c.key, c.header, c.width, c.right, _drop_rank(c)) for c in kinds]
    if human:
        cols.append(TableColumn("human", "people", 11, True, -1))
    cols += [TableColumn("runtime", "runtime", 8, True, 2), TableColumn("status", "status", 12, False, -1)]
    while sum(c.width for c in cols) + SCROLLBAR > total:
        candidates = [c for c in cols if c.drop >= 0]
        if not candidates:
            break
        worst = max(candidates, key=lambda c: (c.drop, cols.index(c)))
        cols.remove(worst)
    spare = total - SCROLLBAR - sum(c.width for c in cols)
    return [TableColumn(c.key, c.header, c.width + max(0, spare), c.right, c.drop) if c.key == "name" else c
            for c in cols]


def fit(text: str, width: int, right: bool = False) -> str:
    """' text' cut with … and padded to exactly width cells (the leading space separates columns)."""
    inner = max(1, width - 1)
    if len(text) > inner:
        text = text[:inner - 1] + "…"
    return " " + (text.rjust(inner) if right else text.ljust(inner))


Formatter = Callable[[Any], str]
