"""A study's trials in the store: add, claim atomically, finish, requeue the ones a dead worker held."""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from qdcore.errors import StoreError
from qdcore.runs.kinds import parent_kinds

TRIAL_STATUSES = ("queued", "running", "done", "failed")
_COLS = "study, idx, params, config, status, run_id, pid, host, error, started, ended"


@dataclass(frozen=True)
class TrialRow:
    """One trial of a study: its axis values, config, state and child run."""

    study: int
    idx: int
    params: dict[str, Any]
    config: dict[str, Any]
    status: str
    run_id: int | None
    pid: int | None
    host: str | None
    error: str | None
    started: float | None
    ended: float | None

    @property
    def seconds(self) -> float | None:
        """Wall time of the trial (so far, while running)."""
        if self.started is None:
            return None
        return (self.ended if self.ended is not None else time.time()) - self.started


def _row(r: Any) -> TrialRow:
    return TrialRow(r[0], r[1], json.loads(r[2] or "{}"), json.loads(r[3] or "{}"), r[4], r[5], r[6], r[7], r[8],
                    r[9], r[10])


def add_trials(store, study: int, trials: list[tuple[dict[str, Any], dict[str, Any]]], start: int = 0) -> None:
    """Insert (params, config) trials start..start+n-1 of a study, all queued, in one transaction."""
    with store._errors(), store._write() as c:
        c.executemany("INSERT INTO study_trials (study, idx, params, config) VALUES (?, ?, ?, ?)",
                      [(int(study), i, json.dumps(p), json.dumps(cfg)) for i, (p, cfg) in enumerate(trials, start)])


def trials(store, study: int) -> list[TrialRow]:
    """Every trial of a study, in grid order."""
    return [_row(r) for r in store._read(f"SELECT {_COLS} FROM study_trials WHERE study = ? ORDER BY idx",
                                         (int(study),), plain=True)]


def counts(store, study: int) -> dict[str, int]:
    """Trials per status (every status present, zero where none)."""
    out = dict.fromkeys(TRIAL_STATUSES, 0)
    for status, n in store._read("SELECT status, count(*) FROM study_trials WHERE study = ? GROUP BY status",
                                 (int(study),), plain=True):
        out[status] = n
    return out


def claim(store, study: int) -> TrialRow | None:
    """Take the first queued trial for this process, atomically (BEGIN IMMEDIATE): no two workers get one trial."""
    now, pid, host = time.time(), os.getpid(), socket.gethostname()
    with store._errors(), store._write() as c:
        r = c.execute(f"SELECT {_COLS} FROM study_trials WHERE study = ? AND status = 'queued' ORDER BY idx LIMIT 1",
                      (int(study),)).fetchone()
        if r is None:
            return None
        c.execute("UPDATE study_trials SET status = 'running', pid = ?, host = ?, error = NULL,"
                  " started = coalesce(started, ?), ended = NULL WHERE study = ? AND idx = ?",
                  (pid, host, now, int(study), r[1]))
    return _row((*tuple(r)[:4], "running", r[5], pid, host, None, r[9] or now, None))


def set_run(store, study: int, idx: int, run_id: int) -> None:
    """Record the child run a trial created (so a resume continues that run)."""
    with store._errors(), store._write() as c:
        c.execute("UPDATE study_trials SET run_id = ? WHERE study = ? AND idx = ?", (int(run_id), int(study), idx))


def finish(store, study: int, idx: int, status: str, error: str | None = None) -> None:
    """End a trial: done, failed (with its error) or queued again (interrupted: resumed later)."""
    if status not in TRIAL_STATUSES or status == "running":
        raise ValueError(f"bad final trial status {status!r}")
    ended = None if status == "queued" else time.time()
    with store._errors(), store._write() as c:
        c.execute("UPDATE study_trials SET status = ?, error = ?, ended = ?, pid = NULL WHERE study = ? AND idx = ?",
                  (status, error, ended, int(study), idx))


def requeue_orphans(store, study: int) -> list[int]:
    """Put back trials marked running by a process that is gone (killed worker); return their indices."""
    now = time.time()
    rows = store._read("SELECT idx, pid, host, started FROM study_trials WHERE study = ? AND status = 'running'",
                       (int(study),), plain=True)
    # A trial's liveness is its worker process; a heartbeat is not kept per trial, so a remote one counts as alive.
    dead = [idx for idx, pid, host, started in rows if not store._owner_alive(pid, host, now, now)]
    if dead:
        with store._errors(), store._write() as c:
            c.executemany("UPDATE study_trials SET status = 'queued', pid = NULL WHERE study = ? AND idx = ?"
                          " AND status = 'running'", [(int(study), i) for i in dead])
    return dead


def retry_failed(store, study: int) -> int:
    """Queue failed trials again (their failed child runs stay in the store); return how many."""
    with store._errors(), store._write() as c:
        return c.execute("UPDATE study_trials SET status = 'queued', error = NULL, run_id = NULL, started = NULL,"
                         " ended = NULL WHERE study = ? AND status = 'failed'", (int(study),)).rowcount


def require_study(store, study: int):
    """The parent run of a study; StoreError when the id is not a study."""
    rec = store.get_run(study)
    if rec.kind not in parent_kinds():
        raise StoreError(f"run {study} is a {rec.kind} run, not a study; see 'qd study list'")
    return rec
