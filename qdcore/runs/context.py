"""The run context: what a kind's `prepare(cfg, ctx)` and `train(ctx)` get, so no kind recovers identity from paths."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError
from qdcore.events import Sink, null_sink


def _never() -> bool:
    return False


@dataclass(frozen=True)
class RunContext:
    """One run as its kind sees it: config, store, id, folders, event sink, stop flag and rank.

    `store` is the store the run's row lives in (None for a run outside any store, e.g. a Ray task that
    writes to a temporary folder the driver copies back); `folder` is where the run writes its files (None
    on ranks other than 0, which write nothing); `resume` is the folder to continue from (None: a fresh start).
    """

    cfg: Any = None
    store: Any = None
    run_id: int | None = None
    folder: Path | None = None
    resume: Path | None = None
    sink: Sink = null_sink
    should_stop: Callable[[], bool] = _never
    rank: int = 0

    def resume_from(self, checkpoint: str) -> Path | None:
        """The resume folder when it holds `checkpoint` (a run killed before its first checkpoint starts over)."""
        if self.resume is None or not (Path(self.resume) / checkpoint).exists():
            return None
        return Path(self.resume)

    def with_cfg(self, cfg: Any) -> RunContext:
        """The same context for another (resolved) config."""
        return replace(self, cfg=cfg)

    def open_store(self) -> Any:
        """The run's store, or the default one when the run has none (a config checked before any run exists)."""
        if self.store is not None:
            return _Borrowed(self.store)
        from qdcore.store import Store  # lazy: keeps the store out of qd --help

        return Store()


class _Borrowed:
    """A context manager over a store someone else owns (leaving it does not close it)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __enter__(self) -> Any:
        return self.store

    def __exit__(self, *exc: Any) -> None:
        return None


def rank_info() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    def env_int(name: str, default: int) -> int:
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            raise ConfigError(f"environment variable {name}={os.environ[name]!r} must be a whole number") from None

    rank, world, local = env_int("RANK", 0), env_int("WORLD_SIZE", 1), env_int("LOCAL_RANK", 0)
    return rank, world, local
