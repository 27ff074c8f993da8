"""Run references: 'N', '#N', 'last' (the newest run, of the kinds a command can use), the same everywhere."""

from __future__ import annotations

from typing import Any, Iterable

from qdcore.errors import ConfigError


def resolve_ref(store: Any, ref: Any, kinds: Iterable[str] | None = None) -> int:
    """A run id from 'N', '#N' or 'last'/'latest' (the newest run, among `kinds` where given)."""
    text = str(ref).strip()
    wanted = list(kinds) if kinds is not None else None
    if text.lower() in ("last", "latest"):
        if wanted is None:
            runs = store.list_runs(limit=1)
        else:
            runs = sorted((r for k in wanted for r in store.list_runs(kind=k, limit=1)), key=lambda r: -r.id)
        if not runs:
            what = f"{' or '.join(wanted)} runs" if wanted else "runs"
            raise ConfigError(f"there are no {what} in {store.home} yet: start one with 'qd train'")
        return runs[0].id
    try:
        return int(text.lstrip("#"))
    except ValueError:
        raise ConfigError(f"RUN must be a run id (a number) or 'last', not {text!r}; see 'qd runs list'") from None


def evaluable_kinds() -> list[str]:
    """Kinds whose finished runs can be evaluated."""
    from qdcore.runs.kinds import all_kinds

    return [k.name for k in all_kinds() if k.evaluate is not None]


def resumable_kinds() -> list[str]:
    """Kinds whose interrupted runs can be resumed."""
    from qdcore.runs.kinds import all_kinds

    return [k.name for k in all_kinds() if k.resumable]
