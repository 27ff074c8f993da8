"""Plain records the store hands out (rows decoded into Python values)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, NamedTuple

# The store takes any kind name of this shape; which kinds exist is qdcore.runs.kinds' business.
KIND_PATTERN = r"[a-z][a-z0-9_-]{0,31}"
KINDS = ("classifier", "gan", "sweep", "quiz")  # kinds of the first releases (old stores hold them)
STATUSES = ("running", "done", "failed", "interrupted")


@dataclass(frozen=True)
class RunRecord:
    """One row of the runs table."""

    id: int
    name: str
    kind: str
    status: str
    config: dict[str, Any]
    fingerprint: str
    device: str
    started: float
    ended: float | None
    summary: dict[str, Any]
    pid: int | None
    host: str | None
    heartbeat: float | None = None
    parent: int | None = None

    @property
    def wall_seconds(self) -> float:
        """Wall time from start to end (or to now while running)."""
        return (self.ended if self.ended is not None else time.time()) - self.started

    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-able dict."""
        return {
            "id": self.id, "name": self.name, "kind": self.kind, "status": self.status,
            "config": self.config, "fingerprint": self.fingerprint, "device": self.device,
            "started": self.started, "ended": self.ended, "summary": self.summary,
            "pid": self.pid, "host": self.host, "heartbeat": self.heartbeat, "parent": self.parent,
        }


class ArtifactRow(NamedTuple):
    """An array artifact written by a run (e.g. a GAN sample grid); `path` is relative to runs/<id>/."""

    id: int
    run_id: int
    step: int
    epoch: int
    name: str
    path: str
    t: float


class MetricRow(NamedTuple):
    """One metric value; `id` grows monotonically so readers can poll with after_id."""

    id: int
    step: int
    epoch: int
    split: str
    name: str
    value: float
    t: float


@dataclass(frozen=True)
class QuizSession:
    """One participant's quiz: its settings and how many answers it holds."""

    id: int
    participant: str
    config: dict[str, Any]
    run_id: int | None
    started: float
    ended: float | None
    answered: int = 0


@dataclass(frozen=True)
class QuizAnswer:
    """One answer (or skip) given in a quiz session."""

    id: int
    session: int
    participant: str
    item: int | None
    drawing: str
    truth: str
    answer: str | None
    choices: list[str] = field(default_factory=list)
    ms: float = 0.0
    skipped: bool = False
    t: float = 0.0

    @property
    def correct(self) -> bool:
        """True when answered (not skipped) with the true class."""
        return not self.skipped and self.answer == self.truth
