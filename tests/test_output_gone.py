"""A foreground `qd train` whose output nobody reads any more (`| head`, a dropped SSH session) stops with a
checkpoint as after Ctrl-C: status interrupted, resumable, never 'failed'."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from helpers import scaled_timeout

from qdcore.store import Store

# 12 short epochs: the run is still going when the pipe closes or the signal comes, even if this process is
# descheduled for seconds on a loaded box (a run that ended first would exit 0 and prove nothing).
TRAIN = ["train", "--per-class", "60", "--epochs", "12", "--width", "4", "--device", "cpu"]


def _start(home, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QD_HOME": str(home)}
    return subprocess.Popen([sys.executable, "-m", "qdcore.cli.main", *TRAIN], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


def _resumes_to_done(home) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QD_HOME": str(home)}
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "train", "--resume", "last"], env=env,
                       capture_output=True, text=True, timeout=scaled_timeout(300))
    assert p.returncode == 0, p.stderr[-2000:]
    assert Store(home).list_runs()[0].status == "done"


def test_a_closed_pipe_stops_the_run_with_a_checkpoint(tmp_path):
    p = _start(tmp_path)
    p.stdout.readline()  # the run's header
    p.stdout.readline()  # epoch 1
    p.stdout.close()  # `| head -2` has read its lines and left
    err = p.stderr.read().decode()
    assert p.wait(timeout=scaled_timeout(300)) == 130, err[-2000:]
    assert "Traceback" not in err and "output closed" in err
    run = Store(tmp_path).list_runs()[0]
    assert run.status == "interrupted", (run.status, run.summary.get("error"))
    assert (tmp_path / "runs" / str(run.id) / "resume.safetensors").is_file()
    _resumes_to_done(tmp_path)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_a_hang_up_stops_the_run_with_a_checkpoint(tmp_path):
    p = _start(tmp_path)
    p.stdout.readline()
    p.stdout.readline()  # an epoch has ended: the run is under way
    p.send_signal(signal.SIGHUP)  # the SSH session dropped
    out, err = p.communicate(timeout=scaled_timeout(300))
    assert p.returncode == 130, err.decode()[-2000:]
    run = Store(tmp_path).list_runs()[0]
    assert run.status == "interrupted", (run.status, run.summary.get("error"))
    _resumes_to_done(tmp_path)
