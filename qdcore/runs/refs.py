"""Run references, the same in every command and the app: 'N', '#N', or 'last' (the newest top-level run).

'last' never picks a study's trial: trials are reached through their study (`qd study show`, the
studies screen) or by number.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qdcore.errors import ConfigError, StoreError
from qdcore.runs.kinds import all_kinds

LAST = ("last", "latest")


def is_last(ref: Any) -> bool:
    """Whether a reference means 'the newest run'."""
    return str(ref).strip().lower() in LAST


def resolve_ref(store: Any, ref: Any, kinds: Iterable[str] | None = None, *, start: str = "qd train",
                noun: str = "RUN") -> int:
    """A run id from 'N', '#N' or 'last'/'latest' (the newest top-level run, among `kinds` where given)."""
    text = str(ref).strip()
    wanted = list(kinds) if kinds is not None else None
    if is_last(text):
        runs = newest_runs(store, wanted, limit=1)
        if not runs:
            what = f"{' or '.join(wanted)} runs" if wanted else "runs"
            raise ConfigError(f"there are no {what} in {store.home} yet: start one with '{start}'")
        return runs[0].id
    try:
        value = int(text.lstrip("#"))
    except ValueError:
        raise ConfigError(f"{noun} must be a run id (a number) or 'last', not {text!r}; see 'qd runs list'") from None
    if value < 1:
        raise ConfigError(f"{noun} must be a run id of 1 or more (or 'last'), not {value}; see 'qd runs list'")
    return value


def newest_runs(store: Any, kinds: list[str] | None = None, *, status: str | None = None,
                limit: int | None = None) -> list[Any]:
    """Top-level runs (no study trials) of `kinds` (any where None), newest first."""
    if kinds is None:
        return store.list_runs(status=status, limit=limit, top_level=True)
    runs = [r for k in kinds for r in store.list_runs(kind=k, status=status, limit=limit, top_level=True)]
    runs.sort(key=lambda r: -r.id)
    return runs if limit is None else runs[:limit]


def best_model_run(store: Any) -> int:
    """The finished top-level run with the best test top-1 among kinds that classify drawings (ties: the newest);
    only where there is none, the best finished trial. StoreError saying how to make one when there is none."""
    kinds = [k.name for k in all_kinds() if k.predictor is not None]  # qdcore.train.predictor's predicting_kinds
    runs = newest_runs(store, kinds, status="done")
    if not runs:
        runs = sorted((r for k in kinds for r in store.list_runs(kind=k, status="done")), key=lambda r: -r.id)
    if not runs:
        raise StoreError(f"there is no finished classifier run in {store.home} yet: train one with 'qd train' "
                         "or press t on the home screen")

    def score(r: Any) -> tuple[float, int]:
        top1 = r.summary.get("test_top1")
        return (float(top1) if isinstance(top1, (int, float)) and top1 == top1 else -1.0, r.id)

    return max(runs, key=score).id


def evaluable_kinds() -> list[str]:
    """Kinds whose finished runs can be evaluated."""
    return [k.name for k in all_kinds() if k.evaluate is not None]


def resumable_kinds() -> list[str]:
    """Kinds whose interrupted runs can be resumed."""
    return [k.name for k in all_kinds() if k.resumable]
