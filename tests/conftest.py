"""Fixtures shared by the test files: a temporary run store, and a fixed relative one for SVG snapshots."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Tests measured over SLOW_SECONDS (setup + call, on the busy 2-core reference machine) carry the `slow` marker,
# which `scripts/test --fast` deselects. The list is tests/slow_tests.txt, one test function a line
# ("tests/file.py::name"; parametrized cases count for their function); `scripts/test --record-slow ...` adds
# the tests a run measured over SLOW_SECONDS and drops those under half of it.
SLOW_SECONDS = 10.0
SLOW_LIST = Path(__file__).with_name("slow_tests.txt")
_measured: dict[str, float] = {}


def _function_id(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def _slow_list() -> list[str]:
    if not SLOW_LIST.exists():
        return []
    return [ln.strip() for ln in SLOW_LIST.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def pytest_collection_modifyitems(config, items) -> None:
    slow = set(_slow_list())
    for item in items:
        if _function_id(item.nodeid) in slow:
            item.add_marker(pytest.mark.slow)


def pytest_runtest_logreport(report) -> None:
    if os.environ.get("QD_RECORD_SLOW") and report.when in ("setup", "call"):
        key = report.nodeid
        _measured[key] = _measured.get(key, 0.0) + report.duration


def pytest_sessionfinish(session) -> None:
    if not os.environ.get("QD_RECORD_SLOW") or hasattr(session.config, "workerinput") or not _measured:
        return
    per_function: dict[str, float] = {}
    for nodeid, seconds in _measured.items():
        key = _function_id(nodeid)
        per_function[key] = max(per_function.get(key, 0.0), seconds)
    kept = {t for t in _slow_list() if per_function.get(t, SLOW_SECONDS) >= SLOW_SECONDS / 2}
    kept |= {t for t, sec in per_function.items() if sec >= SLOW_SECONDS}
    header = "# Tests over ~10 s on a busy 2-core machine (scripts/test --record-slow); --fast deselects them.\n"
    SLOW_LIST.write_text(header + "".join(f"{t}\n" for t in sorted(kept)))


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty run store in a temporary directory (QD_HOME points at it)."""
    monkeypatch.setenv("QD_HOME", str(tmp_path / "qd-home"))
    return tmp_path / "qd-home"


@pytest.fixture
def snap_home(tmp_path, monkeypatch) -> Path:
    """`qd-home` relative to a temporary working directory, so snapshots show no temporary paths."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    return Path("qd-home")


QUIZ_CLASSES = ["apple", "bee"]


@pytest.fixture
def quizzed(home):
    """Run 4: eight test drawings (four apples, four bees), the model right on drawings 0-4; two people quizzed on them.

    ann answers the truth except on drawing 7 (7/8); bob answers 'apple' every time (4/8). People: 11/16.
    Each drawing is answered twice, so the model on the same drawings is 2 * 5 / 16.
    """
    from qdcore.predictions import Predictions
    from qdcore.quiz.session import QuizConfig, QuizSession

    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 0, 0, 0, 1, 0, 0, 0])
    probs = np.full((8, 2), 0.2, np.float32)
    probs[np.arange(8), predicted] = 0.8
    images = np.zeros((8, 28, 28), np.uint8)
    images[np.arange(8), np.arange(8), :] = 255
    from qdcore.store import Store

    with Store(home) as store:
        rid = store.create_run("quizzed", "classifier", {"model": "fc", "data": "demo"})
        Predictions(probs, labels, QUIZ_CLASSES, images, [f"q.npy#{i}" for i in range(8)]).save(
            store.run_dir(rid) / "predictions.npz")
        store.finish_run(rid, "done", {"test_top1": 5 / 8})
        for who, answer in (("ann", lambda i, truth: truth if i != 7 else "apple"), ("bob", lambda i, truth: "apple")):
            quiz = QuizSession.start(store, QuizConfig(participant=who, n=8, run=rid, seed=3))
            while not quiz.complete:
                item = quiz.current
                quiz.answer(answer(int(item.provenance.split("#")[1]), item.truth), 900)
    return rid
