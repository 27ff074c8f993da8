"""Fuzzed drawing files (seeded mutations of real npy/bin/ndjson files) against qd's readers, in-process.

Every case must end in one `qd: error:` line with exit code 2, or be accepted: never a traceback or a hang.
benchmarks/drill_faults.py runs the same cases, as many as asked, and counts the outcomes.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import Tally, cases, fast_invoker, run_case, seed_files

CASES = 240
SEED = 20261130
invoke = fast_invoker()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny trained run in its own store (predict needs a model); QD_HOME points at it for the module."""
    home = tmp_path_factory.mktemp("fuzz-home")
    old = os.environ.get("QD_HOME")
    os.environ["QD_HOME"] = str(home)
    result = invoke("train", "--data", "demo", "--per-class", "20", "--epochs", "1", "--width", "2", "--no-amp")
    assert result.exit_code == 0, result.output
    yield home
    if old is None:
        os.environ.pop("QD_HOME", None)
    else:
        os.environ["QD_HOME"] = old


def test_fuzzed_files_give_one_line_errors_or_are_accepted(trained, tmp_path):
    tally = Tally()
    seeds = seed_files()
    for i, path, what in cases(CASES, SEED, tmp_path):
        commands = [("data info", ["data", "info", "--data", str(path), "--json"]),
                    ("predict", ["predict", "last", str(path), "--json"])]
        if i % 2 == 0:
            commands.append(("data show", ["data", "show", "apple", "--data", str(path), "--n", "2"]))
        if i % 24 == 0:
            # Training needs two categories: the fuzzed one beside an intact one of the same format.
            (path.parent / f"zebra{path.suffix}").write_bytes(seeds[what.split()[0]])
            commands.append(("train", ["train", "--data", str(path.parent), "--epochs", "1", "--width", "2",
                                       "--batch-size", "8", "--no-amp"]))
        for name, args in commands:
            outcome, detail = run_case(lambda args=args: invoke(*args))
            tally.add(name, outcome, f"case {i} ({what}): {detail}")
        shutil.rmtree(path.parent, ignore_errors=True)
    summary = tally.summary()
    assert summary["traceback"] == 0 and summary["hang"] == 0, "\n".join(tally.bad)
    # The cases really exercise both paths: many refused, some accepted.
    assert summary["clean error"] > 100 and summary["accepted"] > 20, summary


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_special_files_are_refused_not_read(trained, tmp_path):
    """A FIFO in place of a drawing file or of the run's model files, and /dev/zero as data: refused at once."""
    from qdcore.store import Store

    fifo = tmp_path / "apple.npy"
    os.mkfifo(fifo)
    for args in (["data", "info", "--data", str(fifo)], ["predict", "last", str(fifo)],
                 ["data", "info", "--data", "/dev/zero"], ["train", "--data", "/dev/zero", "--epochs", "1"]):
        outcome, detail = run_case(lambda args=args: invoke(*args), seconds=10)
        assert outcome == "clean error", (args, outcome, detail)
    run_dir = Store(trained).run_dir(Store(trained).list_runs()[-1].id)  # the fixture's run, the oldest
    for name in ("model.json", "model.safetensors"):
        real = run_dir / name
        keep = real.read_bytes()
        real.unlink()
        os.mkfifo(real)
        try:
            rid = run_dir.name
            for args in (["eval", rid], ["predict", rid, str(tmp_path / "none.npy")]):
                outcome, detail = run_case(lambda args=args: invoke(*args), seconds=10)
                assert outcome == "clean error", (name, args, outcome, detail)
        finally:
            real.unlink()
            real.write_bytes(keep)
