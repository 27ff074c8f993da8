"""Fixtures shared by the test files: a temporary run store, and a fixed relative one for SVG snapshots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


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
