"""Quizzes on the first 25/50/75% of each drawing's ink: exact prefixes, and people vs the model on the same images."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import require_shared_quickdraw
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.data.prefix import ink_prefix, ink_share
from qdcore.data.raster import rasterize
from qdcore.data.strokes import load_drawings
from qdcore.errors import ConfigError
from qdcore.quiz.session import QuizConfig, QuizSession, build_items


@pytest.mark.parametrize("ink", [25, 50, 75])
def test_items_show_exactly_that_share_of_the_ink(ink):
    root = require_shared_quickdraw()
    items = build_items(QuizConfig(participant="a", n=8, data=str(root / "raw"), categories="cat,apple,fish", ink=ink))
    assert items.label.endswith(f"first {ink}% of the ink")
    for it in items.items:
        key, share = it.provenance.rsplit("@", 1)
        assert share == f"{ink}%ink"
        path, row = key.rsplit("#", 1)
        whole = load_drawings(path)[int(row)]
        prefix = ink_prefix(whole, ink / 100)
        assert ink_share(prefix, whole) == pytest.approx(ink / 100, abs=1e-9)
        assert np.array_equal(it.image, rasterize(prefix.simplified()))
    full = build_items(QuizConfig(participant="a", n=8, data=str(root / "raw"), categories="cat,apple,fish"))
    assert [i.provenance.rsplit("@", 1)[0] for i in items.items] == [i.provenance for i in full.items]


def test_ink_settings_and_bitmaps_only_are_one_line_errors():
    root = require_shared_quickdraw()
    for bad in (0, 101):
        with pytest.raises(ConfigError, match=f"--ink={bad} must be a whole number >= 1 and <= 100"):
            build_items(QuizConfig(participant="a", n=2, data="demo", ink=bad))
    with pytest.raises(ConfigError, match="needs strokes, but .* holds bitmaps only"):
        build_items(QuizConfig(participant="a", n=2, data=str(root / "numpy_bitmap"), categories="cat", ink=50))


def test_people_and_the_model_at_half_the_ink(home):
    """A CNN trained on real drawings; a quiz on its test split at 50% of the ink: the comparison uses the model's
    answers on the same half drawings (not its test predictions on the whole ones), with McNemar as for any quiz."""
    from qdcore.data.drawings import Drawings
    from qdcore.quiz.report import build_report, human_baseline
    from qdcore.store import Store
    from qdcore.train.predictor import load_predictor

    root = require_shared_quickdraw()
    r = CliRunner().invoke(app, ["train", "--model", "widthk", "--width", "4", "--data", str(root / "simplified"),
                                 "--categories", "apple,fish,diamond", "--epochs", "2", "--test", "0.4", "--json"])
    assert r.exit_code == 0, r.output
    rid = json.loads(r.stdout)["run_id"]
    with Store(home) as store:
        quiz = QuizSession.start(store, QuizConfig(participant="ann", n=9, run=rid, seed=1, ink=50))
        items = quiz.items.items
        for k, it in enumerate(items):
            quiz.answer(it.truth if k % 3 else next(c for c in quiz.items.classes if c != it.truth), 500)
        model = load_predictor(store, rid, "cpu")
        half = np.array([it.image for it in items])
        # The stored answers of the model are its top-1 on exactly the images people saw.
        top = model.probs(Drawings(half)).argmax(1)
        assert [quiz.items.model_at_ink[it.provenance] for it in items] == [model.classes[t] for t in top]
        rep = build_report(store, session=quiz.id)
        v = rep.vs_model
        model_right = sum(model.classes[t] == it.truth for t, it in zip(top, items))
        assert v is not None, rep.notes
        assert v.matched == 9 and v.unmatched == 0
        assert (v.people.correct, v.model.correct) == (6, model_right)
        assert v.both_right + v.only_people == 6 and v.only_people + v.only_model + v.both_right + v.both_wrong == 9
        # Answers on half drawings never count as answers on the whole test drawings.
        assert human_baseline(store, run=rid) is None


@pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux installed (apt-get install tmux)")
def test_qd_quiz_start_opens_the_apps_ink_quiz_in_a_real_terminal(tmp_path):
    sock = f"qd-quiz-{os.getpid()}"
    cmd = (f"{sys.executable} -m qdcore.cli.main --home {tmp_path} quiz start --ink 50 --name ann --n 4 "
           "--graphics halfblock")
    subprocess.run(["tmux", "-L", sock, "new-session", "-d", "-x", "120", "-y", "30", cmd], check=True)
    try:
        screen, end = "", time.monotonic() + 120
        while "drawing 1 of 4" not in screen and time.monotonic() < end:
            time.sleep(0.2)
            screen = subprocess.run(["tmux", "-L", sock, "capture-pane", "-p"], capture_output=True, text=True).stdout
        assert "ann · drawing 1 of 4" in screen, screen
    finally:
        subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True)
    r = CliRunner().invoke(app, ["--home", str(tmp_path), "quiz", "list", "--json"])
    [session] = json.loads(r.output)
    assert session["participant"] == "ann" and session["source"].endswith("first 50% of the ink"), session


def test_qd_quiz_start_refuses_what_qdtui_quiz_refuses():
    r = CliRunner().invoke(app, ["quiz", "start", "--inkk", "50"])
    assert r.exit_code == 2 and "unrecognized arguments: --inkk 50" in r.output, r.output
