"""`qdtui quiz ...` opens the quiz from the command line and records answers."""

import asyncio

import pytest
from tui_helpers import wait_for

from qdcore.store import Store
from qdtui.app import QdApp, parse_args, state_from_args


def test_quiz_arguments_parse():
    ns = parse_args(["quiz", "--name", "ann", "--n", "5", "--choices", "4", "--seed", "3", "--no-feedback"])
    cfg = state_from_args(ns).quiz.config  # each value checked by QuizConfig's declarations
    assert (ns.command, ns.resume) == ("quiz", None)
    assert (cfg.participant, cfg.n, cfg.choices, cfg.seed, cfg.feedback, cfg.ink) == ("ann", 5, 4, 3, False, 100)
    with pytest.raises(SystemExit):
        parse_args(["quiz", "--run", "zero"])


def test_qdtui_quiz_with_a_name_starts_and_stores_answers(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_HOME", str(tmp_path))

    async def go():
        app = QdApp(state_from_args(parse_args(["quiz", "--name", "lead", "--n", "3"])))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: type(app.screen).__name__ == "QuizScreen", 30, "the quiz screen")
            await pilot.press("c", "i", "r", "enter")
            await wait_for(pilot, lambda: Store(tmp_path).quiz_answers(), 30, "the stored answer")

    asyncio.run(go())
    answers = Store(tmp_path).quiz_answers()
    assert len(answers) == 1 and answers[0].answer == "circle"


def test_qdtui_quiz_ink_shows_the_first_half_of_each_drawing(tmp_path, monkeypatch):
    """`qdtui quiz --ink 50` on the demo's strokes: the form carries 50 and the quiz shows the half-ink images."""
    from qdcore.quiz.session import QuizConfig, build_items

    monkeypatch.setenv("QD_HOME", str(tmp_path))

    async def go():
        app = QdApp(state_from_args(parse_args(["quiz", "--name", "lead", "--n", "3", "--ink", "50"])))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: type(app.screen).__name__ == "QuizScreen"
                           and app.screen.session is not None, 30, "the quiz's drawings")
            return app.screen.session.items

    items = asyncio.run(go())
    want = build_items(QuizConfig(participant="lead", n=3, ink=50))
    assert items.config.ink == 50 and items.fingerprint == want.fingerprint
    assert all(it.provenance.endswith("@50%ink") for it in items.items)
    full = build_items(QuizConfig(participant="lead", n=3))
    assert not any((a.image == b.image).all() for a, b in zip(items.items, full.items))
