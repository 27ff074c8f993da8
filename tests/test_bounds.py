"""Spec and option bounds: every hostile spec, value and run id is one `qd: error:` line in under a CPU second."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import fast_invoker
from hostile_cases import judge, option_cases, spec_cases

invoke = fast_invoker()
SPECS = spec_cases(Path(os.environ.get("TMPDIR", "/tmp")) / f"qd-hostile-specs-{os.getpid()}")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("bounds-home")
    with pytest.MonkeyPatch.context() as mp:  # QD_HOME for the module, restored after
        mp.setenv("QD_HOME", str(home))
        r = invoke("gan", "train", "--data", "demo", "--categories", "moon", "--per-class", "20", "--epochs", "1",
                   "--g-width", "4", "--d-width", "4", "--no-judge", "--batch-size", "10")
        assert r.exit_code == 0, r.output
        r = invoke("train", "--data", "demo", "--per-class", "20", "--epochs", "1", "--width", "2", "--no-amp")
        assert r.exit_code == 0, r.output
        yield home


@pytest.mark.parametrize("name, args", SPECS, ids=[n for n, _ in SPECS])
def test_hostile_specs_are_one_line_in_under_a_second(home, name, args):
    held, detail = judge(invoke, args)
    assert held, detail


def test_hostile_options_and_run_ids_are_one_line(home, tmp_path):
    cases = option_cases(tmp_path, gan_run="1", run="2")
    bad = [f"{name}: {detail}" for name, args in cases for held, detail in [judge(invoke, args)] if not held]
    assert not bad, "\n".join(bad)
    assert (tmp_path / "victim" / "keep.txt").read_text() == "keep"  # the symlinked folder was left alone


def test_max_trials_bounds_the_grid_and_a_fair_grid_still_runs(home, tmp_path):
    spec = tmp_path / "grid.toml"
    spec.write_text('seeds = 2\n[base]\ndata = "demo"\nper_class = 20\nepochs = 1\n[axes]\nwidth = [2, 3, 4]\n')
    r = invoke("study", "run", str(spec), "--dry-run", "--max-trials", "5")
    assert r.exit_code == 2 and "6 trials (3 width x 2 seeds), more than --max-trials 5" in r.output, r.output
    r = invoke("study", "run", str(spec), "--dry-run", "--max-trials", "6")
    assert r.exit_code == 0 and "6 trials, all valid" in r.output, r.output


def test_gan_sample_in_batches_matches_one_pass(home, tmp_path):
    """Batched generation (any --n in bounded memory) draws exactly what one pass would."""
    import numpy as np

    from qdcore.store import Store
    from qdcore.train import gan_sample

    run_dir = Store(home).run_dir(1)
    whole, _ = gan_sample.sample_run(run_dir, n=10, seed=3)
    old = gan_sample.SAMPLE_BATCH
    gan_sample.SAMPLE_BATCH = 3
    try:
        parts, _ = gan_sample.sample_run(run_dir, n=10, seed=3)
    finally:
        gan_sample.SAMPLE_BATCH = old
    assert np.array_equal(whole, parts)


def test_every_numeric_option_at_10_to_the_23_is_refused_or_used(home, tmp_path):
    from fuzzing import run_case
    from hostile_cases import numeric_option_cases

    cases = numeric_option_cases(tmp_path, gan_run="1", run="2")
    assert len(cases) > 60, len(cases)  # the walk found the commands' options
    bad = [f"{name}: {outcome}: {detail}" for name, args in cases
           for outcome, detail in [run_case(lambda args=args: invoke(*args), seconds=60)] if outcome in ("traceback", "hang")]
    assert not bad, "\n".join(bad)
