"""StoreSink: an events sink that records a run's metrics, array artifacts and end state in the store."""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

from qdcore.errors import StoreError
from qdcore.events import Checkpoint, EpochEnd, Event, Progress, RunFailed, RunFinished, RunStarted, Samples
from qdcore.paths import atomic_write_bytes
from qdcore.store.db import Store


class StoreSink:
    """Write events of run `run_id` to `store`: one short transaction per event."""

    def __init__(self, store: Store, run_id: int, heartbeat_every: float = 5.0) -> None:
        self.store = store
        self.run_id = int(run_id)
        self.heartbeat_every = heartbeat_every
        self.dropped = 0  # Progress events lost to a store error (training goes on)
        self._last_beat = 0.0

    def _beat_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_beat >= self.heartbeat_every:
            self._last_beat = now
            return True
        return False

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            rows = progress_rows(event)
            try:
                self.store._log_event(self.run_id, rows, self._beat_due())
            except StoreError:
                # Step rows are a live view only; losing a few must not kill a training run.
                self.dropped += 1
        elif isinstance(event, EpochEnd):
            self._last_beat = time.monotonic()
            self.store._log_event(self.run_id, epoch_rows(event), True)
        elif isinstance(event, RunStarted):
            self._last_beat = time.monotonic()
            # The plan too, so a view attached before the first epoch ends knows how far the run is.
            plan = {"total_epochs": event.total_epochs, "steps_per_epoch": event.steps_per_epoch,
                    "num_train": event.num_train}
            self.store.set_started(self.run_id, event.device, event.fingerprint, {**plan, **event.info})
            if event.config:  # the values the run settled at its start (--batch-size auto's batch and lr)
                self.store.update_config(self.run_id, dict(event.config))
        elif isinstance(event, Samples):
            self.save_samples(event)
        elif isinstance(event, Checkpoint):
            self.store.update_summary(self.run_id, {"checkpoint": {"epoch": event.epoch, "path": event.path,
                                                                   "best": event.best}})
        elif isinstance(event, RunFinished):
            self.store.finish_run(self.run_id, event.status, dict(event.summary))
        elif isinstance(event, RunFailed):
            self.store.finish_run(self.run_id, "failed", {"error": event.error})

    def save_samples(self, e: Samples) -> None:
        """The array as runs/<id>/<name>/epoch_NNNN[_sSTEP].npy (atomic), then its artifacts row."""
        import numpy as np  # lazy: numpy (~0.1 s) is not needed to list runs or studies

        name = re.sub(r"[^A-Za-z0-9_.-]", "_", e.name or "samples")[:40] or "samples"
        rel = f"{name}/epoch_{int(e.epoch):04d}_s{int(e.step)}.npy"
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(e.grid), allow_pickle=False)
        path = self.store.run_dir(self.run_id) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue())
        if e.labels is not None:
            atomic_write_bytes(path.with_suffix(".json"), json.dumps({"labels": list(e.labels)}).encode())
        self.store.add_artifact(self.run_id, e.step, e.epoch, name, rel)


def epoch_rows(e: EpochEnd) -> list[tuple[int, int, str, str, float]]:
    """Metric rows for an epoch: one per "split/name" key (a key without a split is filed under val)."""
    rows = []
    for key, value in (e.metrics or {}).items():
        v = _float(value)
        if v is None:
            continue
        split, _, name = str(key).rpartition("/")
        rows.append((e.step, e.epoch, split or "val", name, v))
    return rows


def progress_rows(p: Progress) -> list[tuple[int, int, str, str, float]]:
    """Metric rows for a logging step (split "step")."""
    if p.step_losses:  # the window's points; the last one ends at p.step
        rows = [(s, p.epoch, "step", "loss", v) for s, v in p.step_losses if s != p.step]
        rows.append((p.step, p.epoch, "step", "loss", p.step_losses[-1][1] if p.step_losses[-1][0] == p.step else p.loss))
    else:
        rows = [(p.step, p.epoch, "step", "loss", p.loss)]
    rows += [(p.step, p.epoch, "step", "lr", p.lr), (p.step, p.epoch, "step", "throughput", p.throughput)]
    if p.top1 is not None:
        rows.append((p.step, p.epoch, "step", "top1", p.top1))
    return rows


def _float(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
