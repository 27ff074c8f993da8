"""The run store: one SQLite file (WAL) shared by every qd process, plus runs/<id>/ folders."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError, StoreError, StoreUnavailable
from qdcore.fmt import text_path
from qdcore.paths import atomic_write_bytes, qd_home
from qdcore.store.drawn import DrawnStore
from qdcore.store.records import KIND_PATTERN, STATUSES, ArtifactRow, MetricRow, QuizAnswer, QuizSession, RunRecord
from qdcore.store.schema import MIGRATIONS, SCHEMA_VERSION
from qdcore.store.sql import inserted_id
from qdcore.store.sql import where as _where

DB_NAME = "qd.sqlite"
# A run on another host counts as dead when it has not sent a heartbeat for this long.
REMOTE_STALE_SECONDS = 30 * 60
MAX_ID = 2**63 - 1  # SQLite INTEGER: ids and counts beyond this cannot be stored or matched
ATTEMPT_KEYS = ("error", "aborted")  # summary keys that say how one attempt ended, dropped when a resume claims it
_RUN_COLS = "id, name, kind, status, config, fingerprint, device, started, ended, summary, pid, host, heartbeat, parent"
_ANSWER_COLS = "id, session, participant, item, drawing, truth, answer, choices, ms, skipped, t"


class _Conn(sqlite3.Connection):
    """A connection that can be weakly referenced (so close() reaches every thread's one).

    `busy` is held while the connection runs a statement: close() from another thread (a screen
    unmounting while its worker polls) waits for it, since closing a handle mid-query crashes SQLite.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy = threading.RLock()


class Store(DrawnStore):
    """The run store at `<home>/qd.sqlite`; safe to share between threads and processes."""

    def __init__(self, home: str | os.PathLike | None = None, timeout: float = 10.0, reap: bool = True) -> None:
        self.home = qd_home(home)
        self.path = self.home / DB_NAME
        self.timeout = float(timeout)
        self._host = socket.gethostname()
        self._local = threading.local()
        self._conns: weakref.WeakSet[_Conn] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._inherited: list[Any] = []
        # Told of every StoreUnavailable this store raises (a front end's one place to say so, e.g. the TUI's gateway).
        self.on_unavailable: Callable[[StoreUnavailable], None] | None = None
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            (self.home / "runs").mkdir(exist_ok=True)
        except OSError as e:
            raise StoreUnavailable(f"cannot use {self.home} as the qd home ({e.strerror or e}): pass --home DIR") \
                from None
        if self.path.is_dir():
            raise StoreUnavailable(f"{self.path} is a folder, not a qd store: move it away or use --home")
        with self._errors():
            self._migrate()
        if reap:
            self.reap()

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections and transactions -------------------------------------------------------

    def _connect(self) -> _Conn:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so the busy timeout covers
        # the write lock (a deferred BEGIN that upgrades to a write can fail without waiting).
        c = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                            check_same_thread=False, factory=_Conn)
        try:
            c.row_factory = sqlite3.Row
            c.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            c.execute("PRAGMA foreign_keys=ON")
            self._wal(c)
            # NORMAL is crash-safe in WAL mode (a killed process loses nothing committed).
            c.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            c.close()
            raise
        return c

    def _wal(self, c: _Conn) -> None:
        """Switch the file to WAL (it stays so), retrying within the timeout while another process holds it.

        SQLite answers a journal-mode change with SQLITE_BUSY at once, without its busy handler, when another
        connection has the file open: processes creating a fresh store together (torchrun's ranks) hit that.
        """
        deadline = time.monotonic() + self.timeout
        pause = 0.005
        while True:
            try:
                if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    c.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if not ("locked" in str(e).lower() or "busy" in str(e).lower()) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _conn(self) -> _Conn:
        """This thread's connection (a new one after a fork: SQLite handles must not cross it)."""
        if os.getpid() != self._pid:
            self._inherited.append((self._local, list(self._conns)))  # never closed in the child
            self._local, self._conns, self._pid = threading.local(), weakref.WeakSet(), os.getpid()
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._connect()
            self._local.conn = c
            with self._lock:
                self._conns.add(c)
        return c

    def close(self) -> None:
        """Close every thread's connection; the store reopens lazily if used again."""
        with self._lock:
            conns = list(self._conns)
            self._conns = weakref.WeakSet()
        self._local = threading.local()
        for c in conns:
            with c.busy:
                try:
                    c.close()
                except sqlite3.Error:
                    pass

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite errors into one-line StoreErrors naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as e:
            err = self._translate(e)
            if isinstance(err, StoreUnavailable) and self.on_unavailable is not None:
                self.on_unavailable(err)
            raise err from None
        except OverflowError:  # an id or count past SQLite's 64-bit integers: nothing can match it
            raise StoreError(f"a number given is beyond the store's 64-bit integers (at most {MAX_ID:,}); "
                             "see 'qd runs list' for the ids there are") from None

    def _translate(self, e: sqlite3.DatabaseError) -> StoreError:
        msg = str(e)
        low = msg.lower()
        if "not a database" in low or "malformed" in low or "encrypted" in low:
            return StoreUnavailable(f"{self.path} is not a qd store (corrupt?): move it away or use --home")
        if "disk is full" in low or "disk i/o" in low:
            return StoreUnavailable(f"no space left on the device (or it failed) writing {self.path}: free some space "
                              "and try again; the store keeps its last committed state")
        if "locked" in low or "busy" in low:
            return StoreUnavailable(f"{self.path} is locked by another process (waited {self.timeout:g} s): "
                              "try again, or look for a stuck qd process")
        if "unable to open" in low:
            return StoreUnavailable(f"cannot open {self.path}: check its permissions or use --home")
        if "readonly" in low or "read-only" in low:
            return StoreUnavailable(f"{self.path} is read-only: check its permissions or use --home")
        return StoreError(f"{self.path}: {msg}")

    @contextmanager
    def _write(self) -> Iterator[_Conn]:
        """A short write transaction that takes the write lock up front."""
        c = self._conn()
        with c.busy:
            c.execute("BEGIN IMMEDIATE")
            try:
                yield c
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def _read(self, sql: str, args: Sequence[Any] = (), plain: bool = False) -> list[Any]:
        with self._errors():
            c = self._conn()
            with c.busy:
                cur = c.cursor()
                if plain:
                    cur.row_factory = None  # tuples: much faster for many metric rows
                return cur.execute(sql, args).fetchall()

    def _migrate(self) -> None:
        if self._read("PRAGMA user_version")[0][0] == SCHEMA_VERSION:
            return
        with self._write() as c:  # re-read under the lock: another process may be migrating too
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} was written by a newer qd (schema v{version}, this qd knows "
                                 f"v{SCHEMA_VERSION}): upgrade qd or use --home")
            if version == 0 and c.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]:
                raise StoreError(f"{self.path} is an SQLite file but not a qd store: move it away or use --home")
            for migration in MIGRATIONS[version:]:
                for stmt in migration:
                    c.execute(stmt)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return self._read("PRAGMA user_version")[0][0]

    def _missing(self, run_id: int) -> StoreError:
        return StoreError(f"no run {run_id} in {self.home}; see 'qd runs list'")

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, name: str, kind: str, config: dict[str, Any], fingerprint: str = "",
                   device: str = "", parent: int | None = None) -> int:
        """Add a 'running' run owned by this process and return its id."""
        _check_kind(kind)
        now = time.time()
        name = _text(name)
        with self._errors(), self._write() as c:
            cur = c.execute(
                "INSERT INTO runs (name, kind, status, config, fingerprint, device, started, summary, pid, host,"
                " heartbeat, parent) VALUES (?, ?, 'running', ?, ?, ?, ?, '{}', ?, ?, ?, ?)",
                (name, kind, _dumps(config), fingerprint or "", device or "", now, os.getpid(), self._host,
                 now, parent))
            return inserted_id(cur)

    def get_run(self, run_id: int) -> RunRecord:
        """The run with this id; StoreError if there is none."""
        if not 0 < int(run_id) <= MAX_ID:
            raise self._missing(run_id)
        rows = self._read(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (int(run_id),))
        if not rows:
            raise self._missing(run_id)
        return _run(rows[0])

    def has_run(self, run_id: int) -> bool:
        """Whether a run with this id exists."""
        if not 0 < int(run_id) <= MAX_ID:
            return False
        return bool(self._read("SELECT 1 FROM runs WHERE id = ?", (int(run_id),)))

    def list_runs(self, kind: str | None = None, status: str | None = None,
                  limit: int | None = None, parent: int | None = None,
                  top_level: bool = False) -> list[RunRecord]:
        """Runs, newest first, optionally filtered (top_level: no study trials)."""
        if kind is not None:
            _check_kind(kind)
        if status is not None:
            _check(status, STATUSES, "status")
        where, args = _where(("kind = ?", kind), ("status = ?", status), ("parent = ?", _int(parent)),
                             ("parent IS NULL", True if top_level else None))
        sql = f"SELECT {_RUN_COLS} FROM runs" + where + " ORDER BY id DESC"
        if limit is not None:
            if limit < 0:
                raise ConfigError(f"--limit must be 0 or more, not {limit}")
            sql += " LIMIT ?"
            args.append(int(limit))
        return [_run(r) for r in self._read(sql, args)]

    def _update(self, run_id: int, sql: str, args: Sequence[Any]) -> None:
        with self._errors(), self._write() as c:
            if c.execute(sql, (*args, int(run_id))).rowcount == 0:
                raise self._missing(run_id)

    def set_status(self, run_id: int, status: str) -> None:
        """Set the status; 'running' claims the run for this process (resume), others set `ended`."""
        _check(status, STATUSES, "status")
        now = time.time()
        if status == "running":
            self._update(run_id, "UPDATE runs SET status = 'running', ended = NULL, pid = ?, host = ?, heartbeat = ?"
                         " WHERE id = ?", (os.getpid(), self._host, now))
        else:
            self._update(run_id, "UPDATE runs SET status = ?, ended = ? WHERE id = ?", (status, now))

    def claim_run(self, run_id: int, resumable: Sequence[str] = ("interrupted", "failed")) -> RunRecord:
        """Atomically take a run for training: compare-and-set its status and owner in one transaction.

        The run must be in a `resumable` status, or 'running' for a dead owner; a live owner's run raises
        StoreError naming the process that holds it, so two resumers can never both proceed.
        """
        now = time.time()
        with self._errors(), self._write() as c:
            row = c.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", (int(run_id),)).fetchone()
            if row is None:
                raise self._missing(run_id)
            rec = _run(row)
            if rec.status == "running":
                if rec.pid == os.getpid() and rec.host == self._host:
                    return rec  # already ours (a run created by this process)
                if self._owner_alive(rec.pid, rec.host, rec.heartbeat, now):
                    raise StoreError(f"run {run_id} is being trained by process {rec.pid} on {rec.host}: "
                                     "wait for it or stop it first")
            elif rec.status not in resumable:
                raise StoreError(f"run {run_id} is {rec.status}; only {' or '.join(resumable)} runs can be resumed")
            # How the last attempt ended is not this attempt's: its summary will say how it ends itself.
            summary = {k: v for k, v in (rec.summary or {}).items() if k not in ATTEMPT_KEYS}
            c.execute("UPDATE runs SET status = 'running', ended = NULL, pid = ?, host = ?, heartbeat = ?, summary = ?"
                      " WHERE id = ?", (os.getpid(), self._host, now, _dumps(summary), int(run_id)))
        self._clean_temp(run_id)
        return rec

    def set_started(self, run_id: int, device: str, fingerprint: str, summary: dict[str, Any]) -> None:
        """What a run's training reported when it began: device, data fingerprint, summary keys."""
        with self._errors(), self._write() as c:
            sets = ""
            args: list[str] = []
            if device:
                sets, args = sets + ", device = ?", args + [device]
            if fingerprint:
                sets, args = sets + ", fingerprint = ?", args + [fingerprint]
            self._merge_summary(c, run_id, dict(summary or {}), sets + ", heartbeat = ?", (*args, time.time()))

    def set_owner(self, run_id: int, pid: int) -> None:
        """Hand a running run to another process on this host (a launcher to the child it started)."""
        self._update(run_id, "UPDATE runs SET pid = ?, host = ?, heartbeat = ? WHERE id = ?",
                     (int(pid), self._host, time.time()))

    def update_config(self, run_id: int, config: dict[str, Any]) -> None:
        """Replace the run's config."""
        self._update(run_id, "UPDATE runs SET config = ? WHERE id = ?", (_dumps(config),))

    def update_summary(self, run_id: int, patch: dict[str, Any]) -> None:
        """Merge keys into the run's summary."""
        with self._errors(), self._write() as c:
            self._merge_summary(c, run_id, patch, "")

    def _merge_summary(self, c: _Conn, run_id: int, patch: dict[str, Any], extra_sql: str,
                       extra_args: Sequence[Any] = ()) -> None:
        row = c.execute("SELECT summary FROM runs WHERE id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise self._missing(run_id)
        summary = _loads(row[0], {})
        summary.update(patch)
        c.execute(f"UPDATE runs SET summary = ?{extra_sql} WHERE id = ?", (_dumps(summary), *extra_args, int(run_id)))

    def finish_run(self, run_id: int, status: str, summary: dict[str, Any]) -> None:
        """End a run: status done|failed|interrupted, summary merged into what is stored."""
        _check(status, STATUSES, "status")
        if status == "running":
            raise ValueError("finish_run needs a final status, not 'running'")
        now = time.time()
        with self._errors(), self._write() as c:
            self._merge_summary(c, run_id, summary, ", status = ?, ended = ?, heartbeat = ?", (status, now, now))

    def heartbeat(self, run_id: int) -> None:
        """Record that the owning process is alive (called by StoreSink every few seconds)."""
        self._update(run_id, "UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(),))

    def reap(self) -> list[int]:
        """Mark runs left 'running' by a dead process as 'interrupted'; return their ids."""
        rows = self._read("SELECT id, pid, host, heartbeat FROM runs WHERE status = 'running'")
        now = time.time()
        dead = [r["id"] for r in rows if not self._owner_alive(r["pid"], r["host"], r["heartbeat"], now)]
        if dead:
            with self._errors(), self._write() as c:
                # `ended` = last sign of life: the latest heartbeat or metric row. The pid is part of
                # the condition: a resumer that claimed the run meanwhile keeps it.
                c.executemany(
                    "UPDATE runs SET status = 'interrupted', ended = max(coalesce(heartbeat, started),"
                    " coalesce((SELECT max(t) FROM metrics WHERE run_id = runs.id), 0))"
                    " WHERE id = ? AND status = 'running' AND pid IS ?",
                    [(r["id"], r["pid"]) for r in rows if r["id"] in dead])
            for run_id in dead:
                self._clean_temp(run_id)
        return dead

    def _clean_temp(self, run_id: int) -> list[Path]:
        """Remove `.*.tmp*` files a killed writer left in the run's folder (the run has no live owner)."""
        d = self.home / "runs" / str(int(run_id))
        removed = []
        try:
            names = os.listdir(d) if d.is_dir() and not d.is_symlink() else []
        except OSError:
            names = []
        for name in names:
            if name.startswith(".") and ".tmp" in name:
                p = d / name
                try:
                    if p.is_file() and not p.is_symlink():
                        p.unlink()
                        removed.append(p)
                except OSError:
                    pass  # best effort: a stray temp file is harmless to readers
        return removed

    def _owner_alive(self, pid: int | None, host: str | None, heartbeat: float | None, now: float) -> bool:
        if host == self._host and pid:
            if pid == os.getpid():
                return True
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                pass  # alive, owned by another user
            except OSError:
                return False
            info = _proc_info(pid)
            if info is not None:
                state, start = info
                if state == "Z":
                    return False  # killed, not yet waited for
                if heartbeat is not None and start > heartbeat + 2.0:
                    return False  # the pid was reused by a process younger than the run's last heartbeat
            return True
        return heartbeat is not None and now - heartbeat < REMOTE_STALE_SECONDS

    def delete_run(self, run_id: int, force: bool = False) -> None:
        """Remove a run, its metrics and its folder; a live running run needs force=True."""
        run = self.get_run(run_id)
        if run.status == "running" and not force and self._owner_alive(run.pid, run.host, run.heartbeat, time.time()):
            raise StoreError(f"run {run_id} is still running (pid {run.pid} on {run.host}): stop it first "
                             "or pass --force")
        with self._errors(), self._write() as c:
            c.execute("DELETE FROM runs WHERE id = ?", (int(run_id),))
        _remove_tree(self.home / "runs" / str(int(run_id)), self.home / "runs")

    # -- artifacts --------------------------------------------------------------------------

    def run_dir(self, run_id: int, create: bool = True) -> Path:
        """`<home>/runs/<id>/` for an existing run (created unless create=False)."""
        if not self.has_run(run_id):
            raise self._missing(run_id)
        d = self.home / "runs" / str(int(run_id))
        if create:
            d.mkdir(parents=True, exist_ok=True)
        return d

    def write_json_artifact(self, run_id: int, name: str, obj: Any) -> Path:
        """Atomically write `obj` as JSON to runs/<id>/<name>."""
        path = self.run_dir(run_id) / name
        atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_default) + "\n").encode())
        return path

    def add_artifact(self, run_id: int, step: int, epoch: int, name: str, path: str) -> int:
        """Record an array artifact already written (atomically) to runs/<id>/<path>; returns its row id."""
        with self._errors(), self._write() as c:
            cur = c.execute("INSERT INTO artifacts (run_id, step, epoch, name, path, t) VALUES (?, ?, ?, ?, ?, ?)",
                            (int(run_id), int(step), int(epoch), str(name), str(path), time.time()))
            return inserted_id(cur)

    def artifacts_after(self, run_id: int, after_id: int = 0, name: str | None = None,
                        limit: int | None = None) -> list[ArtifactRow]:
        """Artifact rows of a run with id > after_id (poll with the last id seen), oldest first."""
        sql = "SELECT id, run_id, step, epoch, name, path, t FROM artifacts WHERE run_id = ? AND id > ?"
        args: list[Any] = [int(run_id), int(after_id)]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [ArtifactRow(*tuple(r)) for r in self._read(sql, args, plain=True)]

    def load_artifact(self, row: ArtifactRow) -> Any:
        """The array an artifact row points to (numpy, no pickle)."""
        import numpy as np  # lazy: numpy (~0.1 s) is not needed to list runs or studies

        path = self.home / "runs" / str(int(row.run_id)) / row.path
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise StoreError(f"artifact {str(path)!r} cannot be read: {e}") from None

    def artifacts(self, run_id: int) -> list[Path]:
        """Files in the run's folder (relative paths, sorted), skipping in-flight temp files."""
        d = self.home / "runs" / str(int(run_id))
        if not d.is_dir():
            return []
        return sorted(p.relative_to(d) for p in d.rglob("*")
                      if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp")))

    # -- metrics ----------------------------------------------------------------------------

    def log_metrics(self, run_id: int, rows: Iterable[tuple[int, int, str, str, float]]) -> None:
        """Append (step, epoch, split, name, value) rows in one transaction."""
        rows = list(rows)
        if rows:
            self._log_event(run_id, rows, beat=False)

    def _log_event(self, run_id: int, rows: list[tuple[int, int, str, str, float]], beat: bool) -> None:
        """Metric rows and an optional heartbeat in one transaction (StoreSink's hot path)."""
        now = time.time()
        data = [(int(run_id), int(s), int(e), sp, n, _num(v), now) for s, e, sp, n, v in rows]
        try:
            with self._errors(), self._write() as c:
                if data:
                    c.executemany("INSERT INTO metrics (run_id, step, epoch, split, name, value, t)"
                                  " VALUES (?, ?, ?, ?, ?, ?, ?)", data)
                if beat and c.execute("UPDATE runs SET heartbeat = ? WHERE id = ?",
                                      (now, int(run_id))).rowcount == 0:
                    raise self._missing(run_id)
        except StoreError as e:
            if "FOREIGN KEY" in str(e):
                raise self._missing(run_id) from None
            raise

    def metrics(self, run_id: int, after_id: int = 0, split: str | None = None,
                limit: int | None = None) -> list[MetricRow]:
        """Metric rows with id > after_id in write order (poll with the last id seen)."""
        sql = "SELECT id, step, epoch, split, name, value, t FROM metrics WHERE run_id = ? AND id > ?"
        args: list[Any] = [int(run_id), int(after_id)]
        if split is not None:
            sql += " AND split = ?"
            args.append(split)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        nan = math.nan
        return [MetricRow(i, s, e, sp, n, nan if v is None else v, t)
                for i, s, e, sp, n, v, t in self._read(sql, args, plain=True)]

    def history(self, run_id: int) -> dict[str, list[tuple[int, float]]]:
        """Per-epoch curves keyed "split/name", one value per epoch (the last written wins)."""
        rows = self._read("SELECT epoch, split, name, value FROM metrics WHERE run_id = ? AND split != 'step'"
                          " ORDER BY id", (int(run_id),), plain=True)
        curves: dict[str, dict[int, float]] = {}
        for epoch, split, name, value in rows:
            curves.setdefault(f"{split}/{name}", {})[epoch] = _val(value)
        return {k: sorted(v.items()) for k, v in curves.items()}

    # -- quiz -------------------------------------------------------------------------------

    def create_quiz_session(self, participant: str, config: dict[str, Any], run_id: int | None = None) -> int:
        """Start a quiz for a participant; `run_id` is the run whose drawings are shown, if any."""
        participant = (participant or "").strip()
        if not participant:
            raise ConfigError("the participant name is empty: pass --name NAME")
        if run_id is not None and not self.has_run(run_id):
            raise self._missing(run_id)
        with self._errors(), self._write() as c:
            cur = c.execute("INSERT INTO quiz_sessions (participant, config, run_id, started) VALUES (?, ?, ?, ?)",
                            (participant, _dumps(config), run_id, time.time()))
            return inserted_id(cur)

    def quiz_session(self, session: int) -> QuizSession:
        """One quiz session; StoreError if missing."""
        rows = self._read(_SESSION_SQL + " WHERE s.id = ? GROUP BY s.id", (int(session),))
        if not rows:
            raise StoreError(f"no quiz session {session} in {self.home}; see 'qd quiz report'")
        return _session(rows[0])

    def quiz_sessions(self, participant: str | None = None, run_id: int | None = None,
                      open_only: bool = False) -> list[QuizSession]:
        """Quiz sessions, oldest first, optionally for one participant or source run."""
        where, args = _where(("s.participant = ?", participant), ("s.run_id = ?", _int(run_id)),
                             ("s.ended IS NULL", True if open_only else None))
        sql = _SESSION_SQL + where + " GROUP BY s.id ORDER BY s.id"
        return [_session(r) for r in self._read(sql, args)]

    def finish_quiz_session(self, session: int) -> None:
        """Mark a quiz session as ended."""
        with self._errors(), self._write() as c:
            if c.execute("UPDATE quiz_sessions SET ended = ? WHERE id = ?", (time.time(), int(session))).rowcount == 0:
                raise StoreError(f"no quiz session {session} in {self.home}; see 'qd quiz report'")

    def delete_quiz_session(self, session: int) -> None:
        """Remove a quiz session and its answers."""
        with self._errors(), self._write() as c:
            c.execute("DELETE FROM quiz_sessions WHERE id = ?", (int(session),))

    def add_quiz_answer(self, session: int, drawing: str, truth: str, answer: str | None,
                        choices: Sequence[str], ms: float, skipped: bool = False, item: int | None = None) -> int:
        """Store one answer the moment it is given; returns its id."""
        with self._errors(), self._write() as c:
            row = c.execute("SELECT participant FROM quiz_sessions WHERE id = ?", (int(session),)).fetchone()
            if row is None:
                raise StoreError(f"no quiz session {session} in {self.home}; see 'qd quiz report'")
            cur = c.execute(
                "INSERT INTO quiz_answers (session, participant, item, drawing, truth, answer, choices, ms, skipped, t)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (int(session), row[0], item, drawing, truth, None if skipped else answer, _dumps(list(choices)),
                 float(ms), int(bool(skipped)), time.time()))
            return inserted_id(cur)

    def quiz_answers(self, session: int | None = None, participant: str | None = None,
                     run_id: int | None = None) -> list[QuizAnswer]:
        """Answers in the order given, optionally for one session, participant or source run."""
        where, args = _where(("session = ?", _int(session)), ("participant = ?", participant),
                             ("session IN (SELECT id FROM quiz_sessions WHERE run_id = ?)", _int(run_id)))
        sql = f"SELECT {_ANSWER_COLS} FROM quiz_answers" + where
        return [_answer(r) for r in self._read(sql + " ORDER BY id", args)]

    def delete_last_quiz_answer(self, session: int) -> QuizAnswer | None:
        """Undo: remove the session's latest answer and return it (None when there is none)."""
        with self._errors(), self._write() as c:
            row = c.execute(f"SELECT {_ANSWER_COLS} FROM quiz_answers WHERE session = ? ORDER BY id DESC LIMIT 1",
                            (int(session),)).fetchone()
            if row is None:
                return None
            c.execute("DELETE FROM quiz_answers WHERE id = ?", (row["id"],))
            return _answer(row)

    def quiz_participants(self) -> list[str]:
        """Everyone who has started a quiz, sorted."""
        return [r[0] for r in self._read("SELECT DISTINCT participant FROM quiz_sessions ORDER BY participant")]


_SESSION_SQL = ("SELECT s.id, s.participant, s.config, s.run_id, s.started, s.ended, count(a.id) AS answered"
                " FROM quiz_sessions s LEFT JOIN quiz_answers a ON a.session = s.id")


def _text(v: Any) -> str:
    """Text SQLite can store: the surrogates that stand for undecodable file-name bytes spelled out."""
    return text_path(str(v))


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _check_kind(kind: str) -> None:
    if not isinstance(kind, str) or not re.fullmatch(KIND_PATTERN, kind):
        raise ConfigError(f"run kind {kind!r} must be a short lower-case name, e.g. classifier")


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown run {what} {value!r}: choose one of {', '.join(allowed)}")


def _default(o: Any) -> Any:
    """JSON for numpy scalars/arrays, paths and sets."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _dumps(obj: Any) -> str:
    return json.dumps(obj if obj is not None else {}, default=_default)


def _loads(text: str | None, empty: Any) -> Any:
    if not text:
        return empty
    try:
        return json.loads(text)
    except ValueError:
        return empty


def _num(v: Any) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def _val(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _run(r: sqlite3.Row) -> RunRecord:
    return RunRecord(id=r["id"], name=r["name"], kind=r["kind"], status=r["status"], config=_loads(r["config"], {}),
                     fingerprint=r["fingerprint"], device=r["device"], started=r["started"], ended=r["ended"],
                     summary=_loads(r["summary"], {}), pid=r["pid"], host=r["host"], heartbeat=r["heartbeat"],
                     parent=r["parent"])


def _session(r: sqlite3.Row) -> QuizSession:
    return QuizSession(id=r["id"], participant=r["participant"], config=_loads(r["config"], {}), run_id=r["run_id"],
                       started=r["started"], ended=r["ended"], answered=r["answered"])


def _answer(r: sqlite3.Row) -> QuizAnswer:
    return QuizAnswer(id=r["id"], session=r["session"], participant=r["participant"], item=r["item"],
                      drawing=r["drawing"], truth=r["truth"], answer=r["answer"], choices=_loads(r["choices"], []),
                      ms=r["ms"], skipped=bool(r["skipped"]), t=r["t"])


def _proc_info(pid: int) -> tuple[str, float] | None:
    """(state, start time in epoch seconds) of a process from /proc, or None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                     if line.startswith("btime "))
        fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
        return fields[0], btime + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _remove_tree(path: Path, parent: Path) -> None:
    """Delete a run folder: rename it aside first (atomic), then remove, fixing permissions if needed."""
    if path.is_symlink():
        # Never follow a link out of the store: remove the link itself, not what it points at.
        try:
            path.unlink()
        except OSError as e:
            raise StoreError(f"the run is gone from the store but the link {path} could not be removed "
                             f"({e.strerror or e}): delete it by hand") from None
        return
    if not path.exists():
        return
    trash = parent / f".trash-{path.name}-{os.getpid()}-{time.time_ns()}"
    try:
        path.rename(trash)
    except OSError:
        trash = path

    def _retry(func: Any, p: str, _exc: Any) -> None:
        # chmod follows links: only ever loosen real folders and files inside the store.
        d = os.path.dirname(p)
        if not os.path.islink(d):
            os.chmod(d, 0o700)
        if not os.path.islink(p):
            try:
                os.chmod(p, 0o700)
            except OSError:
                pass
        func(p)

    try:
        if sys.version_info >= (3, 12):
            shutil.rmtree(trash, onexc=_retry)
        else:
            shutil.rmtree(trash, onerror=_retry)
    except OSError as e:
        raise StoreError(f"the run is gone from the store but {trash} could not be removed ({e.strerror or e}):"
                         " delete it by hand") from None
