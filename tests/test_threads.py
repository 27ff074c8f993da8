"""CPU threads fitted to the free cores (qdcore.train.threads): fewer threads on a busy machine, never zero."""

from __future__ import annotations

import subprocess
import sys

from qdcore.train.threads import threads_for


def test_threads_follow_the_free_cores():
    assert threads_for(2, 0.0) == 2          # quiet: every core
    assert threads_for(2, 0.4) == 2          # a little background noise
    assert threads_for(2, 1.0) == 1          # one core taken by someone else
    assert threads_for(2, 16.0) == 1         # 7 busy engineers: one thread, never zero
    assert threads_for(8, 3.0) == 5
    assert threads_for(4, 5.0, own=4) == 3   # our own threads are not someone else's load
    assert threads_for(4, None) == 4         # no load figure: torch's default


def test_omp_num_threads_is_the_users_choice(tmp_path):
    code = ("import torch; from qdcore.train.device import resolve; rt = resolve('cpu', False); "
            "print(torch.get_num_threads(), rt.threads, rt.describe())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out[:2] == ["1", "1"] and out[2:] == ["cpu", "fp32,", "1", "thread"]
