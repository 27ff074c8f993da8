"""Taking a quiz: one drawing at a time, shown large; number keys or type-to-filter; every answer stored at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from qdcore.fmt import interval, literal, percent
from qdtui.loaders import user_message
from qdtui.store_gateway import stores
from qdtui.widgets.drawing import FitDrawing, best_scale  # noqa: F401 - best_scale: the tests use it from here
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class QuizReady(Message):
    """The quiz session was opened (items built or rebuilt)."""

    session: Any


@dataclass
class QuizFailed(Message):
    """The quiz could not be opened; `error` is one line for the user."""

    error: str

FILTER_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789 -'")


class QuizDrawing(FitDrawing):
    """The drawing on show, as large as the widget allows."""


def _matches(classes: list[str], text: str) -> list[str]:
    """Classes containing the typed text, those starting with it first."""
    t = text.strip().lower()
    if not t:
        return list(classes)
    starts = [c for c in classes if c.lower().startswith(t)]
    return starts + [c for c in classes if t in c.lower() and c not in starts]


def key_label(i: int) -> str:
    """The number key of the i-th candidate: 1..9, then 0."""
    return str((i + 1) % 10)


class QuizScreen(Screen):
    """One drawing at a time; the answer is written to the store before the next drawing shows."""

    DEFAULT_CSS = """
    QuizScreen #quiz-status { height: 1; padding: 0 1; background: $panel; }
    QuizScreen #quiz-body { height: 1fr; }
    QuizScreen #quiz-drawing { width: 60%; height: 1fr; }
    QuizScreen #quiz-side { width: 1fr; min-width: 24; height: 1fr; padding: 0 1; }
    QuizScreen #quiz-prompt { height: auto; color: $text-muted; }
    QuizScreen #quiz-filter { height: 1; background: $boost; }
    QuizScreen #quiz-choices { height: 1fr; border: none; padding: 0; background: $surface; }
    QuizScreen #quiz-choices:focus { border: none; }
    QuizScreen #quiz-feedback { height: auto; min-height: 2; }
    QuizScreen #quiz-message { margin: 1 2; height: auto; border: round $primary; padding: 1 2; }
    QuizScreen #quiz-message.-error { border: round $error; }
    """
    BINDINGS = [
        Binding("escape", "leave", "Save & leave"),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("tab", "skip_tab", "Skip", key_display="tab"),
        Binding("backspace", "undo_back", "Undo", key_display="⌫"),
        Binding("enter", "results", "Results"),
    ]
    HELP_EXTRA = [
        ("1-9 0", "answer with a numbered candidate"),
        ("letters", "filter the categories (many classes)"),
        ("up/down enter", "choose a category and answer"),
        ("tab ⌫", "skip / undo while typing"),
    ]

    def __init__(self, config: Any = None, *, session_id: int | None = None, items: Any = None,
                 home: str | Path | None = None) -> None:
        super().__init__()
        if config is None and session_id is None:
            raise ValueError("QuizScreen needs a QuizConfig or a session id to resume")
        self.config = config
        self.session_id = session_id
        self.prebuilt = items
        self.home = home
        self.session: Any = None
        self.error: str | None = None
        self.filter = ""
        self._shown_at = time.monotonic()
        self._limit_timer: Timer | None = None
        self._tick_timer: Timer | None = None
        self._feedback = Text("")

    # --- layout -------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Preparing the quiz…", id="quiz-status")
        with Horizontal(id="quiz-body"):
            yield QuizDrawing(id="quiz-drawing")
            with Vertical(id="quiz-side"):
                yield Static("", id="quiz-prompt")
                yield Static("", id="quiz-filter")
                yield OptionList(id="quiz-choices")
                yield Static("", id="quiz-feedback")
        yield Static("", id="quiz-message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#quiz-body").display = False
        self._message("Preparing the drawings…")
        self.open_session()

    @work(thread=True, exclusive=True, group="quiz-open", exit_on_error=False)
    def open_session(self) -> None:
        """Build (or rebuild, on resume) the items and open the session in a thread."""
        from qdcore.quiz.session import QuizSession
        try:
            store = stores(self).open(self.home)
            if self.session_id is not None:
                session = QuizSession.resume(store, self.session_id, items=self.prebuilt)
            else:
                session = QuizSession.start(store, self.config, self.prebuilt)
        except Exception as e:  # noqa: BLE001 - shown in the screen, never a traceback
            post(self, QuizFailed(user_message(e)))
            return
        post(self, QuizReady(session))

    def on_quiz_failed(self, message: QuizFailed) -> None:
        self.error = message.error
        self._message(f"The quiz cannot start: {message.error}\n\nEscape goes back.", error=True)
        self.refresh_bindings()

    def on_quiz_ready(self, message: QuizReady) -> None:
        self.session = message.session
        self.query_one("#quiz-message").display = False
        self.query_one("#quiz-filter").display = not self.keyed
        self._show_current()

    def _message(self, text: str, error: bool = False) -> None:
        box = self.query_one("#quiz-message", Static)
        box.update(Text(text))
        box.set_class(error, "-error")
        box.display = True
        self.query_one("#quiz-body").display = False

    # --- state ----------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the session opened (or failed to)."""
        return self.session is not None or self.error is not None

    @property
    def keyed(self) -> bool:
        """Whether candidates are numbered (else the participant types to filter)."""
        return self.session is not None and self.session.items.keyed

    @property
    def complete(self) -> bool:
        """Whether every drawing is answered."""
        return self.session is not None and self.session.complete

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer shows s/u with numbered candidates, tab/backspace while typing (letters are text there).
        if action in ("skip", "undo", "skip_tab", "undo_back", "results"):
            if self.session is None:
                return False
            if action == "results":
                return self.complete
            if action in ("skip", "skip_tab") and self.complete:
                return False
            typing = not self.keyed and not self.complete
            return typing if action in ("skip_tab", "undo_back") else not typing
        return True

    def _status_text(self) -> Text:
        s = self.session
        score = s.score()
        done, total = s.progress()
        t = Text()
        t.append(literal(s.participant), style="bold")
        shown = min(done + 1, total)
        t.append(f" · drawing {shown} of {total}" if not s.complete else f" · all {total} done")
        if s.config.feedback and score.done:
            t.append(f" · score {score.correct}/{score.done} ({percent(score.correct / score.done, 0)})")
        elif not s.config.feedback:
            t.append(" · feedback off")
        if s.items.synthetic:
            t.append(" · synthetic drawings", style="dim")
        if s.config.time_limit and not s.complete:
            left = max(0.0, s.config.time_limit - (time.monotonic() - self._shown_at))
            t.append(f" · {left:.0f}s left", style="yellow")
        return t

    def _update_status(self) -> None:
        if self.session is not None:
            self.query_one("#quiz-status", Static).update(self._status_text())

    def _show_current(self) -> None:
        s = self.session
        self._cancel_timers()
        self.filter = ""
        body = self.query_one("#quiz-body")
        item = s.current
        if item is None:
            self._show_done()
            return
        body.display = True
        self.query_one("#quiz-message").display = False
        self.query_one(QuizDrawing).show(item.image)
        prompt = self.query_one("#quiz-prompt", Static)
        if self.keyed:
            prompt.update(Text("Which is it? Press its number.", style=""))
        else:
            prompt.update(Text("Which is it? Type to filter, enter to answer.\ntab skips · ⌫ on empty undoes"))
        self._fill_choices()
        self.query_one("#quiz-feedback", Static).update(self._feedback)
        self._shown_at = time.monotonic()
        if s.config.time_limit:
            self._limit_timer = self.set_timer(float(s.config.time_limit), self._time_up)
            self._tick_timer = self.set_interval(1.0, self._update_status)
        self._update_status()
        self.query_one("#quiz-choices", OptionList).focus()
        self.refresh_bindings()

    def _fill_choices(self) -> None:
        item = self.session.current
        options = self.query_one("#quiz-choices", OptionList)
        options.clear_options()
        if item is None:
            return
        if item.choices:
            options.add_options([Option(f"{key_label(i)}  {c}", id=c) for i, c in enumerate(item.choices)])
        else:
            self.query_one("#quiz-filter", Static).update(Text(f"› {self.filter}▏"))
            matches = _matches(self.session.items.classes, self.filter)
            options.add_options([Option(c, id=c) for c in matches])
        if options.option_count:
            options.highlighted = 0

    def _show_done(self) -> None:
        s = self.session
        score = s.score()
        self.query_one(QuizDrawing).show(None)
        from qdcore.quiz.report import accuracy

        acc = accuracy(score.correct, score.total)
        text = Text()
        text.append("Quiz complete. ", style="bold")
        text.append(f"{score.correct} of {score.total} right ({percent(acc.top1, 0)}, 95% CI {interval(acc.lo, acc.hi, 0)})")
        if score.skipped:
            text.append(f", {score.skipped} skipped")
        text.append(".\n\n")
        if self._feedback.plain:
            text.append_text(self._feedback)
            text.append("\n\n")
        text.append("enter: results and leaderboard · u: undo the last answer · escape: leave", style="dim")
        self._message("")
        self.query_one("#quiz-message", Static).update(text)
        self._update_status()
        self.refresh_bindings()

    # --- answering ------------------------------------------------------------

    def _elapsed_ms(self) -> float:
        return (time.monotonic() - self._shown_at) * 1000.0

    def _after(self, rec: Any, how: str = "") -> None:
        """Feedback for the answer just stored, then the next drawing."""
        if not self.session.config.feedback:
            self._feedback = Text(f"Saved ({how or 'answer'}).", style="dim")
        elif rec.skipped:
            self._feedback = Text(f"{how or 'Skipped'}: it was {literal(rec.truth)}.", style="yellow")
        elif rec.correct:
            self._feedback = Text(f"✓ Right: {literal(rec.truth)}.", style="green")
        else:
            self._feedback = Text(f"✗ It was {literal(rec.truth)} (you said {literal(rec.answer)}).", style="red")
        self._show_current()

    def _store_call(self, fn, *args) -> Any:
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - a locked store or a bad key is a message, not a crash
            self.notify(user_message(e), title="Quiz", severity="error")
            return None

    def answer(self, label: str) -> None:
        """Answer the drawing on show with a class name."""
        if self.session is None or self.complete:
            return
        rec = self._store_call(self.session.answer, label, self._elapsed_ms())
        if rec is not None:
            self._after(rec)

    def answer_key(self, key: int) -> None:
        """Answer with number key 1..9, 0."""
        item = self.session.current if self.session is not None else None
        if item is None or not item.choices:
            return
        pos = 9 if key == 0 else key - 1
        if pos >= len(item.choices):
            self.notify(f"Only {len(item.choices)} candidates: press 1 to {key_label(len(item.choices) - 1)}.",
                        severity="warning")
            return
        self.answer(item.choices[pos])

    def action_skip(self) -> None:
        """Skip the drawing on show."""
        if self.session is None or self.complete:
            return
        rec = self._store_call(self.session.skip, self._elapsed_ms())
        if rec is not None:
            self._after(rec, "Skipped")

    def action_skip_tab(self) -> None:
        """Skip (tab)."""
        self.action_skip()

    def action_undo_back(self) -> None:
        """Undo (backspace with nothing typed)."""
        self.action_undo()

    def _time_up(self) -> None:
        if self.session is None or self.complete:
            return
        rec = self._store_call(self.session.skip, self._elapsed_ms())
        if rec is not None:
            self._after(rec, "Time's up")

    def action_undo(self) -> None:
        """Take back the last answer and show its drawing again."""
        if self.session is None:
            return
        if not self.session.answers:
            self.notify("Nothing to undo.", severity="warning")
            return
        removed = self._store_call(self.session.undo)
        if removed is None:
            return
        said = "skipped" if removed.skipped else f"you said {removed.answer}"
        self._feedback = Text(f"Undone: drawing {removed.item + 1 if removed.item is not None else ''} ({said}).",
                              style="dim")
        self._show_current()

    def action_results(self) -> None:
        """Close the complete session and show the results."""
        if not self.complete:
            return
        from qdtui.screens.quiz_results import QuizResultsScreen

        self._store_call(self.session.finish)
        self.app.switch_screen(QuizResultsScreen(session=self.session.id, participant=self.session.participant,
                                                 home=self.home))

    def action_leave(self) -> None:
        """Leave; the session stays resumable unless it is complete (then it is closed)."""
        self._cancel_timers()
        if self.session is not None:
            if self.complete:
                self._store_call(self.session.finish)
            else:
                done, total = self.session.progress()
                self.notify(f"Saved {done} of {total} answers: resume session {self.session.id} from the quiz screen.",
                            title="Quiz")
        self.dismiss(None)

    def _cancel_timers(self) -> None:
        for t in (self._limit_timer, self._tick_timer):
            if t is not None:
                t.stop()
        self._limit_timer = self._tick_timer = None

    def on_unmount(self) -> None:
        self._cancel_timers()

    # --- keys -----------------------------------------------------------------

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.answer(event.option.id)

    def on_key(self, event: events.Key) -> None:
        if self.session is None:
            return
        if self.complete:
            if event.key == "backspace":  # undo works in the done view too
                event.stop()
                self.action_undo()
            return
        if self.keyed:
            if event.character and event.character.isdigit():
                event.stop()
                event.prevent_default()
                self.answer_key(int(event.character))
            elif event.key in ("tab", "backspace"):
                event.stop()
                event.prevent_default()
                self.action_skip() if event.key == "tab" else self.action_undo()
            return
        # Typing mode: letters build the filter before any binding sees them ('s' and 'u' are letters here).
        ch = event.character
        if ch and ch.lower() in FILTER_CHARS and event.is_printable:
            event.stop()
            event.prevent_default()
            self.filter += ch.lower()
            self._fill_choices()
        elif event.key == "backspace" and self.filter:
            event.stop()
            event.prevent_default()
            self.filter = self.filter[:-1]
            self._fill_choices()
