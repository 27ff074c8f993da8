"""Starting runs as detached `qd train` processes: the run row first, then the child, its log in the run folder.

The TUI, studies and tests call `launch(spec, home)`; no front end builds a command line or finds a run
by its pid. The child survives the caller (its own session), so a run started from the app goes on when
the app quits; `runs/<id>/train.log` holds its output (shown by `qd runs show`, removed with the run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcore.errors import QDError
from qdcore.runs.run import prepare, resumable
from qdcore.store import Store

LOG_FILE = "train.log"


@dataclass(frozen=True)
class Resume:
    """A launch spec that continues an interrupted run (optionally on another device)."""

    run_id: int
    device: str | None = None


@dataclass
class Job:
    """A launched run: its id, the child's pid and its log file."""

    run_id: int
    pid: int
    log_path: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    def poll(self) -> int | None:
        """The child's exit code, or None while it runs (None too for a job of another process)."""
        return self.process.poll() if self.process is not None else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to end; its exit code."""
        if self.process is None:
            raise RuntimeError("this job's process was started elsewhere")
        return self.process.wait(timeout)

    def error(self) -> str:
        """The child's last line of output (its one-line error), without the 'qd: error:' prefix."""
        try:
            lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            lines = []
        code = self.poll()
        line = lines[-1] if lines else f"qd train exited with code {code}"
        return line.removeprefix("qd: error:").strip()


def _command(home: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", *args]


def _spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        # A new session: a closed terminal or a quitting app does not stop the run.
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))


def launch(spec: Any, home: str | Path | None = None, store: Any = None) -> Job:
    """Start `spec` (a kind's config, or Resume(run_id)) detached; QDError (one line) if it cannot start."""
    own = store is None
    store = Store(home) if own else store
    try:
        if isinstance(spec, Resume):
            rec, _, _ = resumable(store, spec.run_id)
            run_id = rec.id
            args = ["--resume", str(run_id)] + (["--device", spec.device] if spec.device else [])
        else:
            kind, cfg = prepare(spec, store)
            run_id = store.create_run(cfg.name, kind.name, cfg.to_dict())
            args = ["--run-id", str(run_id)]
        log = store.run_dir(run_id) / LOG_FILE
        try:
            child = _spawn(_command(store.home, args), log)
        except OSError as e:
            if not isinstance(spec, Resume):
                store.finish_run(run_id, "failed", {"error": f"could not start qd train: {e.strerror or e}"})
            raise QDError(f"could not start qd train: {e.strerror or e}") from None
        if not isinstance(spec, Resume):
            store.set_owner(run_id, child.pid)  # the row is the child's from now on
        return Job(run_id, child.pid, log, child)
    finally:
        if own:
            store.close()


def stop(store: Any, run_id: int) -> int:
    """Ask a running run's process (on this host) to stop after its step with a checkpoint; its pid.

    QDError saying why not: it runs on another host, it has ended, or the process is another user's.
    """
    rec = store.get_run(run_id)
    if rec.status != "running" or not rec.pid:
        raise QDError(f"run {run_id} is not running ({rec.status})")
    if rec.host != socket.gethostname():
        raise QDError(f"run {run_id} runs on {rec.host or 'another host'}: stop it there")
    if rec.pid == os.getpid():
        raise QDError(f"run {run_id} runs in this process")
    try:
        os.kill(rec.pid, signal.SIGTERM)  # `qd train` stops after the step and saves a checkpoint
    except ProcessLookupError:
        raise QDError(f"process {rec.pid} of run {run_id} has already ended") from None
    except PermissionError:
        raise QDError(f"not allowed to stop process {rec.pid} of run {run_id} (another user's?)") from None
    return rec.pid
