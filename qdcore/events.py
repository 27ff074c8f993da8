"""Events the engines emit and the sinks that consume them (CLI, store, TUI)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class RunStarted:
    """A run began: its id in the store (or None), config and device."""

    run_id: int | None
    name: str
    config: dict[str, Any]
    device: str
    total_epochs: int
    steps_per_epoch: int
    num_train: int
    fingerprint: str = ""  # of the selected drawings (train-val-test)
    info: dict[str, Any] = field(default_factory=dict)  # merged into the run's summary (data origin, ...)
    notes: tuple[str, ...] = ()  # what the data reader skipped (malformed lines, ignored files)
    start_step: int = 0  # where a resumed run starts (its last logged step and that step's epoch)
    start_epoch: int = 0


# A logging window closes after `log_every` steps or this many seconds, whichever comes first (one process:
# ranks agree on logging steps by count alone), so a slow or small run's progress still moves every few seconds.
LOG_SECONDS = 2.0


def log_due(step: int, log_every: int, window_start: float, world_size: int = 1) -> bool:
    """Whether a logging window ends at `step` (by count, or by LOG_SECONDS since `window_start` on one process)."""
    return step % log_every == 0 or (world_size == 1 and time.perf_counter() - window_start >= LOG_SECONDS)


@dataclass(frozen=True)
class Progress:
    """A logging step inside an epoch (every `log_every` steps, or LOG_SECONDS, whichever comes first)."""

    step: int
    epoch: int
    seen: int
    lr: float
    loss: float
    throughput: float
    top1: float | None = None
    # (step, loss) points inside the window (mean over a few steps each), read from the device with `loss`
    step_losses: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class EpochEnd:
    """End of an epoch (or round): any metrics, keyed "split/name" (e.g. "val/loss", "train/lr")."""

    epoch: int
    step: int
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)

    def get(self, key: str, default: float | None = None) -> float | None:
        """One metric, or `default`."""
        return self.metrics.get(key, default)


@dataclass(frozen=True)
class Samples:
    """An array artifact, e.g. a GAN sample grid (uint8, rows x cols x 28 x 28); kept as a file by StoreSink."""

    epoch: int
    step: int
    grid: np.ndarray
    labels: list[str] | None = None
    name: str = "samples"  # artifact name: files are runs/<id>/<name>/epoch_NNNN.npy


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint was written."""

    epoch: int
    path: str
    best: bool


@dataclass(frozen=True)
class RunFinished:
    """The run ended normally or was interrupted; summary holds final metrics."""

    status: str
    summary: dict[str, Any]


@dataclass(frozen=True)
class RunFailed:
    """The run failed with an error message."""

    error: str


Event = RunStarted | Progress | EpochEnd | Samples | Checkpoint | RunFinished | RunFailed
Sink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """Discard events."""


def tee(*sinks: Sink | None) -> Sink:
    """One sink that forwards each event to every given sink in order."""
    live = [s for s in sinks if s is not None]

    def _tee(event: Event) -> None:
        for s in live:
            s(event)

    return _tee


class ListSink:
    """Collects events in a list (notebooks, tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type) -> list:
        """The collected events of one type."""
        return [e for e in self.events if isinstance(e, kind)]
