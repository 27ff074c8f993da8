"""Processes qd starts end with it: kill -9 of a 2-worker study leaves no worker behind (drills kept as tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import drill_faults  # noqa: E402

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")


@linux_only
def test_kill_9_of_a_two_worker_study_leaves_no_worker_behind(tmp_path):
    assert drill_faults.study_orphan_once(tmp_path / "home") == ""


def test_sigterm_stops_lightgbm_after_its_round_keeping_every_recorded_round(tmp_path):
    why, marked, exited = drill_faults.lightgbm_stop_once(tmp_path / "home", rounds=2)
    assert why == ""


@linux_only
def test_kill_9_of_one_ddp_rank_is_one_line_and_the_resume_says_its_world_size(tmp_path):
    assert drill_faults.ddp_rank_kill_once(tmp_path / "home") == ""
