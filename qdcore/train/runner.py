"""Classifier runs in the store: thin wrappers over qdcore.runs.run that hand back the engine's TrainResult."""

from __future__ import annotations

from collections.abc import Callable

from qdcore.events import Sink, null_sink
from qdcore.runs.kinds import short_name
from qdcore.runs.run import (
    SkipLogged,  # noqa: F401 - re-exported
    resume,
    start,
)
from qdcore.train.config import TrainConfig


def default_name(cfg: TrainConfig) -> str:
    """'widthk k=12 lr=0.003' style name for runs started without --name."""
    return short_name(cfg)


def start_run(cfg: TrainConfig, store=None, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False):
    """Create a run in the store and train it; the engine's TrainResult."""
    return start(cfg, store, sink, should_stop).result


def resume_run(run_id: int, store=None, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
               *, device: str | None = None):
    """Continue an interrupted run from its resume checkpoint to its planned epochs; rows are not written twice."""
    return resume(run_id, store, sink, should_stop, device=device).result
