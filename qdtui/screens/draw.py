"""Draw against your own model: a canvas, the 28x28 image the model sees, its live top 5, and the 20-second game.

qdcore.draw decides (strokes, simplification and rasterising, throttling, the game, saving);
this screen shows it. Guesses run in a thread worker so the canvas stays smooth.
"""

from __future__ import annotations

import getpass
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static

from qdcore.draw.game import Game, RoundResult, article
from qdcore.draw.recorder import StrokeRecorder
from qdcore.draw.throttle import Throttle
from qdtui.loaders import user_message
from qdtui.messages import StrokesChanged
from qdtui.store_gateway import stores
from qdtui.widgets.canvas import Canvas
from qdtui.widgets.drawing import Drawing
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class Guessed(Message):
    """The model's view of the drawing (`image`, uint8 28x28) and its top guesses for drawing `version`."""

    version: int
    key: Any
    image: Any
    guesses: list

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Guessed)  # guesses for a newer drawing supersede queued ones


@dataclass
class ModelReady(Message):
    """The draw screen's model was loaded (`predictor`), or could not be (`error`, one line)."""

    predictor: Any | None
    error: str = ""


@dataclass
class DrawingSaved(Message):
    """A drawing was written to the store (`drawing_id`), or not (`error`)."""

    result: Any
    drawing_id: int | None
    error: str = ""

TOP = 5
PAUSE = 2.0  # seconds the verdict stays up before the next round
TICK = 0.2  # clock refresh


def drawer_name() -> str:
    """Who is drawing, by default: the login name."""
    try:
        return getpass.getuser() or "someone"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "someone"


def guesses_text(guesses: list[tuple[str, float]], target: str | None, note: str = "") -> Text:
    """The top 5 as lines 'circle  82%', the asked category in bold green."""
    t = Text()
    if not guesses:
        t.append(note or "Draw something…", style="dim")
        return t
    for i, (c, p) in enumerate(guesses[:TOP]):
        if i:
            t.append("\n")
        name = c if len(c) <= 20 else c[:19] + "…"
        style = "bold green" if c == target else ("bold" if i == 0 else "")
        t.append(f"{i + 1} {name:<20} {100 * p:3.0f}%", style=style)
    return t


class DrawScreen(Screen):
    """Free drawing (a category to draw, no clock) or the game (six categories, 20 seconds each)."""

    DEFAULT_CSS = """
    DrawScreen #draw-status { height: 1; padding: 0 1; background: $panel; }
    DrawScreen #draw-body { height: 1fr; }
    DrawScreen #draw-side { width: 30; height: 1fr; padding: 0 1; }
    DrawScreen #draw-input-title, DrawScreen #draw-guess-title { height: 1; color: $text-muted; }
    DrawScreen #draw-input { width: 28; height: 14; }
    DrawScreen #draw-guesses { height: auto; }
    DrawScreen.-short #draw-input { height: 7; }
    """
    BINDINGS = [
        Binding("escape", "leave", "Back", show=False),
        Binding("enter", "submit", "Submit"),
        Binding("u", "undo", "Undo"),
        Binding("backspace", "undo", "Undo", show=False),
        Binding("c", "clear", "Clear"),
        Binding("n", "new_word", "Word"),
        Binding("g", "game", "Game"),
    ]
    HELP_EXTRA = [
        ("mouse", "press, drag, release: one stroke"),
        ("arrows space", "keyboard pen: move, put down / lift (shift+arrows: faster)"),
        ("enter", "submit the drawing (in a game: start the clock, give up a round, skip the pause)"),
    ]

    def __init__(self, run_id: int | None = None, *, game: bool = False, drawer: str | None = None,
                 home: str | Path | None = None, seconds: float | None = None, rounds: int | None = None,
                 seed: int | None = None, pause: float = PAUSE) -> None:
        super().__init__()
        self.run_id = run_id
        self.start_game = game
        self.drawer = (drawer or "").strip() or drawer_name()
        self.home = home
        self.seconds = seconds
        self.rounds = rounds
        self.rng = random.Random(seed)
        self.seed = seed
        self.pause = pause
        self.recorder = StrokeRecorder(Canvas.CLOCK)
        self.throttle = Throttle()
        self.predictor: Any = None
        self.model_note = "Loading the model…"
        self.word: str | None = None  # the category asked for
        self.game: Game | None = None
        self.game_id: str | None = None
        self.guesses: list[tuple[str, float]] = []
        self.recognized_ms: float | None = None  # free drawing: first right top guess, from the first point
        self.verdict = ""  # between game rounds
        self.round_key = 0  # guesses for an earlier round or drawing are dropped
        self._guess_timer: Timer | None = None
        self._tick: Timer | None = None
        self._next_round: Timer | None = None
        self.saved: list[int] = []

    # --- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="draw-status")
        with Horizontal(id="draw-body"):
            yield Canvas(self.recorder, id="canvas")
            with Vertical(id="draw-side"):
                yield Static("What the model sees", id="draw-input-title")
                yield Drawing(None, zoom=1.0, id="draw-input")
                yield Static("Its top 5", id="draw-guess-title")
                yield Static("", id="draw-guesses")
        yield Footer()

    def on_mount(self) -> None:
        self._fit()
        self.query_one(Canvas).focus()
        self._show_guesses()
        self._status()
        self.load_model()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        # Under 24 rows the 28x28 view shrinks to half size (14x7 cells).
        short = self.app.size.height < 24
        self.set_class(short, "-short")
        self.query_one("#draw-input", Drawing).zoom = 0.5 if short else 1.0

    # --- the model ----------------------------------------------------------

    @work(thread=True, exclusive=True, group="draw-model", exit_on_error=False)
    def load_model(self) -> None:
        """Load the chosen run's model (or the newest finished one) in a thread."""
        from qdcore.train.predictor import latest_model_run, load_predictor

        try:
            store = stores(self).open(self.home)
            run_id = self.run_id if self.run_id is not None else latest_model_run(store)
            predictor = load_predictor(store, run_id, "cpu")
            predictor.top(np.zeros((28, 28), np.uint8))  # warm up now, not on the first stroke
        except Exception as e:  # noqa: BLE001 - shown on the screen, never a traceback
            post(self, ModelReady(None, user_message(e)))
            return
        post(self, ModelReady(predictor))

    def on_model_ready(self, message: ModelReady) -> None:
        self.predictor = message.predictor
        if self.predictor is None:
            self.model_note = f"No model: {message.error}"
        else:
            self.model_note = ""
            self.run_id = self.predictor.run_id
            if self.start_game:
                self.action_game()
            else:
                self._new_word()
        self._show_guesses()
        self._status()
        self._want_guess()

    # --- status -------------------------------------------------------------

    def _status(self) -> None:
        t = Text()
        if self.verdict:
            t.append(self.verdict, style="bold")
        elif self.game is not None and not self.game.over:
            g = self.game
            if g.state == "ready":
                # Fits 78 cells with a long word: the whole prompt must show at 80x24.
                t.append(f"Round {g.index + 1}/{g.rounds}: draw {article(self.word or '')}", style="bold")
                t.append(f" · {g.seconds:.0f} s from your first stroke")
            else:
                left = g.remaining(time.monotonic())
                t.append(f"Draw {article(self.word or '')}", style="bold")
                t.append(f" · round {g.index + 1}/{g.rounds} · ")
                t.append(f"{left:4.1f} s", style="bold red" if left < 5 else "bold")
                if g.recognized_at is None and self.guesses:
                    t.append(" · " + g.message(self.guesses), style="italic")
        elif self.word:
            t.append(f"Draw {article(self.word)}", style="bold")
            if self.recognized_ms is not None:
                t.append(f" · Oh, I know, it's {article(self.word)}! ({self.recognized_ms / 1000:.1f} s)", style="green")
            t.append(f" · {self.drawer} · enter saves it")
        else:
            t.append("Free drawing", style="bold")
        if self.predictor is not None:
            t.append(f" · run {self.predictor.run_id}", style="dim")
        self.query_one("#draw-status", Static).update(t)

    def _show_guesses(self) -> None:
        self.query_one("#draw-guesses", Static).update(guesses_text(self.guesses, self.word, self.model_note))

    # --- guessing (throttled, in a thread) ----------------------------------

    def on_strokes_changed(self, message: StrokesChanged) -> None:
        game = self.game
        if game is not None and game.state == "ready" and not self.verdict and not self.recorder.empty:
            game.begin(time.monotonic())  # the first stroke starts the clock
        self._want_guess()

    def _want_guess(self) -> None:
        wait = self.throttle.request(time.monotonic())
        if wait is None:
            return  # a guess is running; done() asks again
        if wait > 0:
            if self._guess_timer is None:
                self._guess_timer = self.set_timer(wait, self._guess_due)
            return
        self.throttle.started(time.monotonic())
        self.guess(self.recorder.raw(), self.recorder.version, self.round_key)

    def _guess_due(self) -> None:
        self._guess_timer = None
        self._want_guess()

    @work(thread=True, group="draw-guess", exit_on_error=False)
    def guess(self, raw: list, version: int, key: int) -> None:
        """The model's input and top 5 for a snapshot of the strokes."""
        from qdcore.draw.recorder import model_drawing, model_input

        image = model_input(raw)
        guesses: list = []
        predictor = self.predictor
        if predictor is not None and image.any():
            try:
                guesses = predictor.top(image, TOP, strokes=model_drawing(raw))  # a stroke model reads these
            except Exception as e:  # noqa: BLE001 - one line, and drawing goes on
                self.app.call_from_thread(self.notify, user_message(e), severity="error")
        post(self, Guessed(version, key, image, guesses))

    def on_guessed(self, message: Guessed) -> None:
        if self.throttle.done():
            self._want_guess()
        if message.key != self.round_key:
            return  # for a drawing that is gone
        self.query_one("#draw-input", Drawing).image = message.image
        self.guesses = message.guesses
        self._show_guesses()
        now = time.monotonic()
        if self.game is not None:
            if self.game.observe(self.guesses, now):
                self._end_round(now)
                return
        elif self.word and self.recognized_ms is None and self.guesses and self.guesses[0][0] == self.word:
            self.recognized_ms = float(self.recorder.elapsed_ms)
        self._status()

    # --- free drawing -------------------------------------------------------

    def _new_word(self) -> None:
        if self.predictor is not None:
            choices = [c for c in self.predictor.classes if c != self.word] or self.predictor.classes
            self.word = self.rng.choice(choices)
        self._reset_drawing()

    def _reset_drawing(self) -> None:
        self.round_key += 1
        self.recognized_ms = None
        self.guesses = []
        self.query_one(Canvas).clear()
        self.query_one("#draw-input", Drawing).image = None
        self._show_guesses()
        self._status()

    def action_new_word(self) -> None:
        """Another category to draw (free drawing)."""
        if self.game is not None and not self.game.over:
            self.notify("A game is on: enter gives up this round.", severity="warning")
            return
        self._new_word()

    def action_undo(self) -> None:
        """Remove the last stroke."""
        self.query_one(Canvas).undo()

    def action_clear(self) -> None:
        """Start the drawing again."""
        self.query_one(Canvas).clear()

    def action_submit(self) -> None:
        """Save the drawing (free drawing) or end the round now (game)."""
        canvas = self.query_one(Canvas)
        canvas.end()
        if self.game is not None and self.verdict:
            self._after_round()  # skip the pause: the next round, or the results after the last
            return
        if self.game is not None and not self.game.over:
            if self.game.state == "ready":
                self.game.begin(time.monotonic())
                self._status()
            else:
                self._end_round(time.monotonic())
            return
        if self.predictor is None or not self.word:
            self.notify("Drawings are saved with a model's guesses: train a model first.", severity="warning")
            return
        if self.recorder.empty:
            self.notify("Draw something first.", severity="warning")
            return
        guesses = list(self.guesses)
        result = RoundResult(0, self.word, self.recorder.raw(), guesses, self.recognized_ms is not None,
                             self.recognized_ms, float(self.recorder.elapsed_ms))
        self._knew(result)
        self.save(result, None)
        self._new_word()

    # --- the game -----------------------------------------------------------

    def action_game(self) -> None:
        """Start a game: six categories, 20 seconds each."""
        if self.predictor is None:
            self.notify("The game needs a model: train one first (t on the home screen).", severity="warning")
            return
        kwargs: dict[str, Any] = {"seed": self.seed}
        if self.seconds is not None:
            kwargs["seconds"] = self.seconds
        if self.rounds is not None:
            kwargs["rounds"] = self.rounds
        self.game = Game(list(self.predictor.classes), **kwargs)
        self.game_id = uuid.uuid4().hex[:12]
        self._prepare_round()

    def _prepare_round(self) -> None:
        """Show the next category; its clock starts with the first stroke (or enter)."""
        assert self.game is not None
        if self._next_round is not None:
            self._next_round.stop()
            self._next_round = None
        self.verdict = ""
        self.word = self.game.word
        canvas = self.query_one(Canvas)
        canvas.disabled = False
        canvas.focus()
        self._reset_drawing()
        if self._tick is None:
            self._tick = self.set_interval(TICK, self._on_tick)

    def _on_tick(self) -> None:
        game = self.game
        if game is None or game.over:
            return
        now = time.monotonic()
        if game.out_of_time(now):
            self._end_round(now)
        elif not self.verdict:
            self._status()

    def _end_round(self, now: float) -> None:
        game = self.game
        assert game is not None
        canvas = self.query_one(Canvas)
        canvas.end()
        canvas.disabled = True  # no drawing while the verdict shows
        result = game.end(self.recorder.raw(), list(self.guesses), now)
        self.round_key += 1  # guesses still in flight belong to the finished round
        if not self.recorder.empty:
            self._knew(result)
            self.save(result, self.game_id)
        if result.recognized:
            self.verdict = f"Oh, I know, it's {article(result.word)}! ({result.seconds:.1f} s)"
        elif self.recorder.empty:
            self.verdict = f"Nothing drawn for {article(result.word)}."
        else:
            top = f" I thought it was {article(result.guesses[0][0])}." if result.guesses else ""
            self.verdict = f"Sorry, I couldn't guess {article(result.word)}.{top}"
        if game.over:
            self.verdict += " That was the last round (enter: results)."
        else:
            self.verdict += " (enter: next)"
        self._status()
        self._next_round = self.set_timer(self.pause, self._after_round)

    def _after_round(self) -> None:
        if self._next_round is not None:
            self._next_round.stop()
        self._next_round = None
        game = self.game
        if game is None:
            return
        if game.over:
            self._show_results()
        else:
            self._prepare_round()

    def _show_results(self) -> None:
        from qdtui.screens.draw_results import DrawResultsScreen

        game = self.game
        assert game is not None
        if self._tick is not None:
            self._tick.stop()
            self._tick = None
        self.verdict = ""
        self.word = None
        self.game = None
        canvas = self.query_one(Canvas)
        canvas.disabled = False
        canvas.focus()
        self._new_word()
        self.app.push_screen(DrawResultsScreen(game.results, self.predictor.name if self.predictor else "",
                                               self.run_id, self.drawer))

    def _knew(self, result: RoundResult) -> None:
        """When the model knew the drawing: replayed stroke by stroke (one drawing: milliseconds)."""
        from qdcore.analysis.progressive import moment
        from qdcore.draw.recorder import model_drawing

        if self.predictor is not None:
            result.knew_ink, result.knew_time = moment(self.predictor.probs, self.predictor.classes,
                                                       model_drawing(result.strokes), result.word)

    # --- saving -------------------------------------------------------------

    @work(thread=True, group="draw-save", exit_on_error=False)
    def save(self, result: RoundResult, game: str | None) -> None:
        """Write a drawing to the store."""
        try:
            did = stores(self).open(self.home).add_drawing(
                self.drawer, result.word, result.strokes, run_id=self.run_id, guesses=result.guesses,
                recognized=result.recognized, recognized_ms=result.recognized_ms, ms=result.ms, game=game,
                round=result.index if game else None, knew_ink=result.knew_ink, knew_time=result.knew_time)
        except Exception as e:  # noqa: BLE001
            post(self, DrawingSaved(result, None, user_message(e)))
            return
        result.drawing_id = did
        post(self, DrawingSaved(result, did))

    def on_drawing_saved(self, message: DrawingSaved) -> None:
        if message.drawing_id is None:
            self.notify(f"The drawing was not saved: {message.error}", severity="error")
            return
        self.saved.append(message.drawing_id)
        if self.game is None:
            self.notify(f"Saved drawing {message.drawing_id} ({message.result.word}).", timeout=2)

    def action_leave(self) -> None:
        """Back to where you came from (a game in progress is abandoned; saved rounds stay)."""
        self.app.pop_screen()
