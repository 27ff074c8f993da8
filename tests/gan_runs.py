"""Test helper: a GAN run trained straight through, and the same run stopped mid-way and resumed."""

from __future__ import annotations

from typing import Any


def whole_and_resumed(cfg: Any, store: Any, stop_after: int) -> tuple[Any, Any, Any]:
    """(whole, part, done): `cfg` uninterrupted; `cfg` stopped at its `stop_after`-th stop check; that run resumed."""
    from qdcore.runs.run import resume, start

    whole = start(cfg, store)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] >= stop_after

    part = start(cfg, store, should_stop=stop)
    assert part.status == "interrupted" and store.get_run(part.run_id).status == "interrupted"
    return whole, part, resume(part.run_id, store)
