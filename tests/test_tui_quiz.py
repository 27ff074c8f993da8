"""Pilot tests of the quiz screens: answering with keys, typing, undo, skip, time-outs, quit and resume, snapshots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual.app import App
from textual.widgets import OptionList, Static
from tui_helpers import pressing, sync, wait_for

from qdcore.predictions import Predictions
from qdcore.quiz.session import QuizConfig
from qdcore.store import Store
from qdtui.screens.quiz import QuizDrawing, QuizScreen, best_scale
from qdtui.screens.quiz_results import QuizResultsScreen
from qdtui.screens.quiz_setup import QuizSetupScreen

SHAPES = ["circle", "cross", "square"]
MANY = ["apple", "banana", "bee", "cat", "dog", "duck", "eye", "fish", "frog", "owl", "pig", "zebra"]


def shape(kind: int, jitter: int) -> np.ndarray:
    """A 28x28 white-on-black circle, cross or square, shifted by jitter pixels."""
    img = np.zeros((28, 28), np.uint8)
    yy, xx = np.mgrid[0:28, 0:28]
    c = 13.5 + jitter
    if kind == 0:
        r = np.hypot(yy - c, xx - c)
        img[(r > 7) & (r < 10)] = 255
    elif kind == 1:
        img[(abs(yy - xx) < 2) & (yy > 4) & (yy < 24)] = 255
        img[(abs(yy + xx - 27 - 2 * jitter) < 2) & (yy > 4) & (yy < 24)] = 255
    else:
        img[6 + jitter:22 + jitter, 6:8] = img[6 + jitter:22 + jitter, 20:22] = 255
        img[6 + jitter:8 + jitter, 6:22] = img[20 + jitter:22 + jitter, 6:22] = 255
    return img


def save_run(store: Store, classes: list[str], n: int) -> int:
    """A finished run with n test drawings whose model is right on every other one."""
    labels = np.arange(n) % len(classes)
    predicted = np.where(np.arange(n) % 2 == 0, labels, (labels + 1) % len(classes))
    probs = np.full((n, len(classes)), 0.2 / (len(classes) - 1), np.float32)
    probs[np.arange(n), predicted] = 0.8
    images = np.stack([shape(int(lab) % 3, i % 3) for i, lab in enumerate(labels)])
    rid = store.create_run("shapes", "classifier", {"data": "shapes"})
    Predictions(probs, labels, classes, images, [f"shapes.npy#{i}" for i in range(n)]).save(
        store.run_dir(rid) / "predictions.npz")
    store.finish_run(rid, "done", {"test_top1": 0.5})
    return rid


class QuizApp(App[None]):
    """A bare app that opens one screen (the quiz screens need nothing from QdApp)."""

    TITLE = "qd"

    def __init__(self, make_screen) -> None:
        super().__init__()
        self.make_screen = make_screen

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


async def settle(app, pilot) -> None:
    """Let the screen's store/data worker finish and its message land (screens say so with `ready`)."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await wait_for(pilot, lambda: getattr(app.screen, "ready", True), 30, "the screen's data")
    await app.workers.wait_for_complete()
    await pilot.pause()


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


@sync
async def test_number_keys_answer_and_every_answer_is_stored(home):
    with Store(home) as store:
        rid = save_run(store, SHAPES, 9)
    cfg = QuizConfig(participant="ann", n=6, run=rid, seed=1)
    app = QuizApp(lambda: QuizScreen(cfg, home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, QuizScreen) and screen.keyed
        truths = [it.truth for it in screen.session.items.items]
        keys = ["1", "2", "3", "3", "2", "1"]
        for i, key in enumerate(keys[:3]):
            await pilot.press(key)
            await pilot.pause()
            stored = Store(home).quiz_answers(session=screen.session.id)
            assert len(stored) == i + 1  # in the store before the next drawing
        assert "drawing 4 of 6" in text(screen, "#quiz-status")
        await pilot.press("s")  # skip the fourth
        await pilot.press("u")  # ...and take the skip back
        await pilot.press(*keys[3:])
        await pilot.pause()
        stored = Store(home).quiz_answers(session=screen.session.id)
        assert [a.answer for a in stored] == [SHAPES[int(k) - 1] for k in keys]
        assert [a.truth for a in stored] == truths
        assert [a.item for a in stored] == list(range(6)) and not any(a.skipped for a in stored)
        assert all(a.choices == SHAPES and a.ms >= 0 for a in stored)
        assert screen.complete and "Quiz complete" in text(screen, "#quiz-message")
        right = sum(a.correct for a in stored)
        assert f"{right} of 6 right" in text(screen, "#quiz-message")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, QuizResultsScreen)
        assert Store(home).quiz_session(stored[0].session).ended is not None
        assert f"{right}/6 right" in text(app.screen, "#results-summary")


@sync
async def test_typing_filters_the_categories(home):
    with Store(home) as store:
        rid = save_run(store, MANY, 24)
    app = QuizApp(lambda: QuizScreen(QuizConfig(participant="bo", n=4, run=rid, seed=0), home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert not screen.keyed
        options = screen.query_one("#quiz-choices", OptionList)
        assert options.option_count == 12
        await pilot.press("s", "u")  # letters are text here, not skip and undo: "su" matches nothing
        assert screen.filter == "su" and options.option_count == 0
        await pilot.press("backspace", "backspace", "d", "u")
        assert screen.filter == "du" and [options.get_option_at_index(i).id for i in range(options.option_count)] == ["duck"]
        await pilot.press("enter")
        await pilot.pause()
        first = Store(home).quiz_answers()
        assert [(a.answer, a.item) for a in first] == [("duck", 0)]
        assert screen.filter == ""
        await pilot.press("e", "down", "enter")  # 'e' -> eye first (starts with), then bee...; down picks the 2nd
        await pilot.press("tab")  # skip the third
        await pilot.pause()
        stored = Store(home).quiz_answers()
        assert [a.answer for a in stored] == ["duck", stored[1].answer, None] and stored[2].skipped
        assert stored[1].answer != "eye" and "e" in stored[1].answer
        await pilot.press("backspace")  # nothing typed: undo the skip
        await pilot.pause()
        assert len(Store(home).quiz_answers()) == 2 and screen.session.position == 2


@sync
async def test_quit_mid_quiz_and_resume(home):
    with Store(home) as store:
        rid = save_run(store, SHAPES, 9)
    cfg = QuizConfig(participant="cy", n=5, run=rid, seed=4, feedback=False)
    app = QuizApp(lambda: QuizScreen(cfg, home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        sid = app.screen.session.id
        items = [it.provenance for it in app.screen.session.items.items]
        assert "feedback off" in text(app.screen, "#quiz-status") and "score" not in text(app.screen, "#quiz-status")
        await pilot.press("2", "2")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuizScreen)
    assert Store(home).quiz_session(sid).ended is None  # resumable

    app = QuizApp(lambda: QuizSetupScreen(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        sessions = app.screen.query_one("#setup-sessions", OptionList)
        assert sessions.option_count == 1 and "cy · 2/5" in str(sessions.get_option_at_index(0).prompt)
        sessions.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        quiz = app.screen
        assert isinstance(quiz, QuizScreen) and quiz.session.id == sid and quiz.session.position == 2
        assert "drawing 3 of 5" in text(quiz, "#quiz-status")
        await pilot.press("1", "1", "1")
        await pilot.pause()
        stored = Store(home).quiz_answers(session=sid)
        assert [a.drawing for a in stored] == items and [a.answer for a in stored] == ["cross"] * 2 + ["circle"] * 3
        await pilot.press("escape")  # leaving a complete quiz closes it
        await settle(app, pilot)
        assert Store(home).quiz_session(sid).ended is not None
        assert isinstance(app.screen, QuizSetupScreen)
        assert app.screen.query_one("#setup-sessions", OptionList).option_count == 0


@sync
async def test_time_limit_records_a_skip(home):
    with Store(home) as store:
        rid = save_run(store, SHAPES, 6)
    # A limit long enough that a loaded machine still shows the clock, then polling (not one fixed pause)
    # until the time-out is stored.
    cfg = QuizConfig(participant="di", n=2, run=rid, time_limit=2.0)
    app = QuizApp(lambda: QuizScreen(cfg, home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert "s left" in text(app.screen, "#quiz-status")
        await wait_for(pilot, lambda: Store(home).quiz_answers(), 30, "the timed-out answer")
        stored = Store(home).quiz_answers()
        assert stored and stored[0].skipped and stored[0].answer is None and stored[0].ms >= 1500
        assert "Time's up" in str(app.screen.query_one("#quiz-feedback", Static).content)


@pytest.mark.parametrize("make_cfg, words", [
    (lambda rid, bare: QuizConfig(participant="", n=2, run=rid), "participant name is empty"),
    (lambda rid, bare: QuizConfig(participant="x", n=2, run=bare), "has no test predictions"),
    (lambda rid, bare: QuizConfig(participant="x", n=50, run=rid), "asked for 50 drawings"),
])
@sync
async def test_bad_input_is_a_message_not_a_crash(home, make_cfg, words):
    with Store(home) as store:
        rid = save_run(store, SHAPES, 6)
        bare = store.create_run("bare", "classifier", {})
    app = QuizApp(lambda: QuizScreen(make_cfg(rid, bare), home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        assert words in text(app.screen, "#quiz-message")
        await pilot.press("1", "s", "u", "enter")  # keys do nothing harmful
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuizScreen)


@sync
async def test_setup_checks_the_form_and_starts(home):
    with Store(home) as store:
        rid = save_run(store, SHAPES, 9)
    app = QuizApp(lambda: QuizSetupScreen(QuizConfig(n=3, run=rid), home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        screen = app.screen
        await pilot.press("enter")
        await settle(app, pilot)
        assert "participant name is empty" in text(screen, "#setup-note")
        await pilot.press(*"eve")
        screen.query_one("#f-n").value = "99"
        await pilot.press("enter")
        await settle(app, pilot)
        assert f"asked for 99 drawings but run {rid}'s test split holds 9" in text(screen, "#setup-note")
        screen.query_one("#f-n").value = "3"
        screen.query_one("#f-choices").value = "12"
        await pilot.press("enter")
        await settle(app, pilot)
        assert "--choices=12 must be a whole number >= 2 and <= 10" in text(screen, "#setup-note")
        screen.query_one("#f-choices").value = "2"
        screen.query_one("#f-time").value = "-1"  # read as `qdtui quiz --time-limit -1` is: the same line
        await pilot.press("enter")
        await settle(app, pilot)
        assert "--time-limit=-1.0 must be a number >= 0" in text(screen, "#setup-note")
        screen.query_one("#f-time").value = ""
        await pilot.press("enter")
        await settle(app, pilot)
        quiz = app.screen
        assert isinstance(quiz, QuizScreen) and quiz.session.participant == "eve"
        assert quiz.session.config.run == rid and all(len(it.choices) == 2 for it in quiz.session.items.items)


@sync
async def test_tiny_terminal_does_not_crash(home):
    with Store(home) as store:
        rid = save_run(store, SHAPES, 6)
    app = QuizApp(lambda: QuizScreen(QuizConfig(participant="ti", n=2, run=rid), home=home))
    async with app.run_test(size=(30, 10)) as pilot:
        await settle(app, pilot)
        await pilot.press("1")
        await pilot.pause()
        assert len(Store(home).quiz_answers()) == 1
        await pilot.resize_terminal(100, 40)
        await pilot.pause()
        assert app.screen.query_one(QuizDrawing).image.shape[0] >= 56  # 2x or more with room
    assert best_scale(42, 21) == 1.5 and best_scale(56, 28) == 2.0 and best_scale(20, 8) == 0.5


# -- snapshots (80x24; fixed data and seed, no clocks or timings on screen) ---------------------------------


@pytest.fixture
def snap_home(snap_home) -> Path:
    """The shared snapshot store with a run and two people's quizzes on it."""
    with Store(snap_home) as store:
        rid = save_run(store, SHAPES, 9)
        sid = store.create_quiz_session("ann", {"quiz": {"n": 6, "run": rid}, "classes": SHAPES, "n_items": 6,
                                                "label": "run 1 test split"}, run_id=rid)
        for i, answer in enumerate(["circle", "cross", "cross", "circle", "square", "square"]):
            store.add_quiz_answer(sid, f"shapes.npy#{i}", SHAPES[i % 3], answer, SHAPES, 1500.0, item=i)
        store.finish_quiz_session(sid)
        tid = store.create_quiz_session("bob", {"quiz": {"n": 3, "run": rid}, "classes": SHAPES, "n_items": 3},
                                        run_id=rid)
        for i, answer in enumerate(["circle", "square", None]):
            store.add_quiz_answer(tid, f"shapes.npy#{i}", SHAPES[i % 3], answer, SHAPES, 900.0,
                                  skipped=answer is None, item=i)
    return snap_home


def test_snapshot_quiz(snap_compare, snap_home):
    cfg = QuizConfig(participant="zoe", n=5, run=1, seed=0)
    app = QuizApp(lambda: QuizScreen(cfg, home=snap_home))
    assert snap_compare(app, terminal_size=(80, 24), run_before=pressing("2", settle_with=settle))


def test_snapshot_results(snap_compare, snap_home):
    app = QuizApp(lambda: QuizResultsScreen(home=snap_home))
    assert snap_compare(app, terminal_size=(80, 24), run_before=pressing(settle_with=settle))


def test_snapshot_setup(snap_compare, snap_home):
    from textual.widgets import Input

    async def steady_cursor(pilot) -> None:
        await pressing(settle_with=settle)(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blinking cursor would make the picture depend on timing
        await pilot.pause()

    app = QuizApp(lambda: QuizSetupScreen(QuizConfig(participant="zoe", n=5, run=1), home=snap_home))
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady_cursor)
