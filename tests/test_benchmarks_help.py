"""Every benchmark script answers --help with its usage and runs nothing (a mistyped flag must not start an hour)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import scaled_timeout

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_help_is_usage_not_a_run(script):
    p = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], capture_output=True, text=True,
                       timeout=scaled_timeout(120), cwd=BENCHMARKS.parent)
    assert p.returncode == 0 and p.stdout.startswith(f"usage: {script}"), (p.stdout[-500:], p.stderr[-2000:])
    assert "Traceback" not in p.stderr


def test_a_bad_count_is_an_argparse_error_not_a_traceback():
    p = subprocess.run([sys.executable, str(BENCHMARKS / "bench_raster.py"), "many"], capture_output=True, text=True,
                       timeout=scaled_timeout(120), cwd=BENCHMARKS.parent)
    assert p.returncode == 2 and "invalid int value: 'many'" in p.stderr and "Traceback" not in p.stderr
