"""Which rank the launcher's one line blames when several ranks ended in the same second."""

from __future__ import annotations

import signal

from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

from qdcore.train.torchrun import failure_line


def _failure(rank: int, pid: int, exitcode: int, timestamp: int) -> ProcessFailure:
    f = ProcessFailure(local_rank=rank, pid=pid, exitcode=exitcode, error_file="")
    f.timestamp = timestamp
    return f


def test_a_killed_rank_is_blamed_not_the_peer_that_aborted_when_it_vanished(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_HOME", str(tmp_path))  # no run owns these pids: the line goes without the run
    killed = _failure(1, 1001, -int(signal.SIGKILL), 100)
    aborted = _failure(0, 1000, -int(signal.SIGABRT), 100)
    line = failure_line({0: aborted, 1: killed}, [])
    assert line.startswith("rank 1 (pid 1001) was killed by SIGKILL"), line
    # an abort a whole second earlier is the first failure, and is blamed
    earlier = _failure(0, 1000, -int(signal.SIGABRT), 99)
    assert failure_line({0: earlier, 1: killed}, []).startswith("rank 0 (pid 1000) was killed by SIGABRT")
    # torchrun's SIGTERM of the survivors is never the cause while another failure is known
    termed = _failure(0, 1000, -int(signal.SIGTERM), 98)
    assert failure_line({0: termed, 1: killed}, []).startswith("rank 1 ")
