"""Set up a quiz (name, drawings, how many, how to answer) or resume an unfinished one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from qdcore.fmt import literal
from qdtui.loaders import user_message
from qdtui.screens.quiz import QuizScreen
from qdtui.store_gateway import stores
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class SetupLoaded(Message):
    """Runs with test predictions and unfinished sessions, read from the store."""

    runs: list[tuple[Any, int]]
    sessions: list[Any]
    error: str = ""


@dataclass
class ItemsBuilt(Message):
    """The quiz's drawings are ready (or `error` says why not)."""

    config: Any
    items: Any
    error: str = ""
    session_id: int | None = None

DATA = "data"


def session_line(s: Any) -> str:
    """'#3 ann · 5/20 · demo (synthetic…)' for the resume list."""
    n = s.config.get("n_items") or s.config.get("quiz", {}).get("n") or "?"
    return f"#{s.id} {s.participant} · {s.answered}/{n} · {s.config.get('label') or s.config.get('source', '')}"


class QuizSetupScreen(Screen):
    """The quiz form; enter in a field (or ctrl+s) starts, enter on an unfinished session resumes it."""

    DEFAULT_CSS = """
    QuizSetupScreen #setup-main { height: 1fr; }
    QuizSetupScreen #setup-form { width: 46; height: 1fr; padding: 0 1; border: round $primary 60%; }
    QuizSetupScreen #setup-resume { width: 1fr; height: 1fr; border: round $primary 60%; }
    QuizSetupScreen .row { height: 1; margin-bottom: 1; }
    QuizSetupScreen .row Label { width: 11; }
    QuizSetupScreen .row Input { width: 1fr; }
    QuizSetupScreen .row Select { width: 1fr; }
    QuizSetupScreen .half Input { width: 8; }
    QuizSetupScreen .half Label.second { width: 10; padding-left: 2; }
    QuizSetupScreen .row Checkbox { width: 1fr; }
    QuizSetupScreen #setup-start { margin-top: 0; width: auto; min-width: 16; }
    QuizSetupScreen #setup-note { height: auto; color: $text-muted; }
    QuizSetupScreen #setup-note.-error { color: $error; }
    QuizSetupScreen #setup-sessions { height: 1fr; border: none; }
    QuizSetupScreen #setup-sessions:focus { border: none; }
    QuizSetupScreen #setup-resume-note { height: auto; color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+s", "start", "Start"),
        Binding("ctrl+r", "results", "Results"),
    ]
    HELP_EXTRA = [
        ("tab", "next field"),
        ("enter", "start (in a field) / resume (on a session)"),
        ("Choices", "blank: all classes; 2-10: multiple choice"),
        ("Hard", "the model's top K: needs a run's test split"),
        ("Ink %", "show the first 25/50/75% of each drawing's ink (needs strokes)"),
    ]

    def __init__(self, defaults: Any = None, *, autostart: bool = False, home: str | Path | None = None) -> None:
        super().__init__()
        from qdcore.quiz.session import QuizConfig

        self.defaults = defaults if defaults is not None else QuizConfig(data="")  # "": the app's data
        self.autostart = autostart
        self.home = home
        self.busy = False
        self.ready = False  # the store was read (runs and unfinished sessions listed)

    def compose(self) -> ComposeResult:
        d = self.defaults
        state = getattr(self.app, "state", None)
        data = d.data if d.data not in ("", None) else getattr(state, "data_spec", "demo")
        yield Header()
        with Horizontal(id="setup-main"):
            with Vertical(id="setup-form") as form:
                form.border_title = "New quiz"
                with Horizontal(classes="row"):
                    yield Label("Name")
                    yield Input(d.participant, placeholder="your name", id="f-name", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Drawings")
                    yield Select([("data selection", DATA)], value=DATA, allow_blank=False, id="f-source",
                                 compact=True)
                with Horizontal(classes="row"):
                    yield Label("Data")
                    yield Input(str(data), placeholder="demo, cache or a folder", id="f-data", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Categories")
                    yield Input(d.categories or "", placeholder="all", id="f-categories", compact=True)
                with Horizontal(classes="row half"):
                    yield Label("How many")
                    yield Input(str(d.n), id="f-n", compact=True, type="integer")
                    yield Label("Seed", classes="second")
                    yield Input(str(d.seed), id="f-seed", compact=True, type="integer")
                with Horizontal(classes="row half"):
                    yield Label("Choices")
                    yield Input("" if d.choices is None else str(d.choices), placeholder="all", id="f-choices",
                                compact=True, type="integer")
                    yield Label("Seconds", classes="second")
                    yield Input(f"{d.time_limit:g}" if d.time_limit else "", placeholder="none", id="f-time",
                                compact=True, type="number")
                with Horizontal(classes="row half"):
                    yield Label("Ink %")
                    yield Input("" if d.ink >= 100 else str(d.ink), placeholder="100", id="f-ink", compact=True,
                                type="integer")
                with Horizontal(classes="row"):
                    yield Checkbox("Hard (model's top K)", d.hard, id="f-hard", compact=True)
                with Horizontal(classes="row"):
                    yield Checkbox("Feedback after each answer", d.feedback, id="f-feedback", compact=True)
                yield Button("Start (ctrl+s)", variant="primary", id="setup-start", compact=True)
                yield Static("", id="setup-note")
            with Vertical(id="setup-resume") as resume:
                resume.border_title = "Resume"
                yield OptionList(id="setup-sessions")
                yield Static("", id="setup-resume-note")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Quiz"
        self.query_one("#f-name", Input).focus()
        self.load()
        if self.autostart:
            self.action_start()

    def on_screen_resume(self) -> None:
        # Back from a quiz or the results: sessions may have been added or finished.
        if self.is_mounted:
            self.load()

    # --- store reads ------------------------------------------------------------

    @work(thread=True, exclusive=True, group="quiz-setup", exit_on_error=False)
    def load(self) -> None:
        """Runs that can be quizzed on and unfinished sessions."""
        from qdcore.quiz.session import open_sessions, quiz_runs
        try:
            store = stores(self).open(self.home)
            post(self, SetupLoaded(quiz_runs(store), open_sessions(store)))
        except Exception as e:  # noqa: BLE001
            post(self, SetupLoaded([], [], user_message(e)))

    def on_setup_loaded(self, message: SetupLoaded) -> None:
        self.ready = True
        source = self.query_one("#f-source", Select)
        options = [("data selection", DATA)]
        options += [(f"run {r.id} {r.name} ({n} test)"[:40], f"run:{r.id}") for r, n in message.runs]
        want = f"run:{self.defaults.run}" if self.defaults.run is not None else source.value
        source.set_options(options)
        values = {v for _, v in options}
        if self.defaults.run is not None and want not in values:
            options.append((f"run {self.defaults.run}", want))
            source.set_options(options)
        source.value = want if want in values or self.defaults.run is not None else DATA
        sessions = self.query_one("#setup-sessions", OptionList)
        sessions.clear_options()
        sessions.add_options([Option(session_line(s), id=str(s.id)) for s in message.sessions])
        if sessions.option_count:
            sessions.highlighted = 0
        note = self.query_one("#setup-resume-note", Static)
        if message.error:
            note.update(Text(literal(message.error), style="red"))
        elif not message.sessions:
            note.update("No unfinished quiz. Quitting a quiz keeps it here.")
        else:
            note.update("enter on a session resumes it")

    # --- the form ---------------------------------------------------------------

    def _note(self, text: str, error: bool = False) -> None:
        note = self.query_one("#setup-note", Static)
        note.update(Text(text))
        note.set_class(error, "-error")

    def _value(self, name: str, widget: str, default: Any) -> Any:
        """A typed field read as `qdtui quiz`'s flag is: converted and checked by QuizConfig's declaration."""
        from qdcore.options import field_of, parse_text
        from qdcore.quiz.session import QuizConfig

        text = self.query_one(f"#{widget}", Input).value.strip()
        return default if not text else parse_text(field_of(QuizConfig, name), text, "")

    def read_config(self) -> Any:
        """The QuizConfig the form describes (ConfigError with the line the same flag gives when it cannot)."""
        from qdcore.quiz.session import QuizConfig

        source = self.query_one("#f-source", Select).value
        run = int(str(source).split(":", 1)[1]) if str(source).startswith("run:") else None
        cfg = QuizConfig(
            participant=self.query_one("#f-name", Input).value.strip(),
            n=self._value("n", "f-n", self.defaults.n),
            data=self.query_one("#f-data", Input).value.strip() or "demo",
            categories=self.query_one("#f-categories", Input).value.strip() or None,
            per_class=self.defaults.per_class,
            run=run,
            seed=self._value("seed", "f-seed", 0),
            choices=self._value("choices", "f-choices", None),
            hard=self.query_one("#f-hard", Checkbox).value,
            time_limit=self._value("time_limit", "f-time", 0.0),
            feedback=self.query_one("#f-feedback", Checkbox).value,
            ink=self._value("ink", "f-ink", 100),
        )
        cfg.check()
        return cfg

    def action_start(self) -> None:
        """Check the form, build the drawings in a thread, then start."""
        if self.busy:
            return
        try:
            cfg = self.read_config()
        except Exception as e:  # noqa: BLE001 - a ConfigError: one line in the form
            self._note(user_message(e), error=True)
            if "participant" in str(e):
                self.query_one("#f-name", Input).focus()
            return
        self.busy = True
        self._note("Preparing the drawings…")
        self.build(cfg)

    @work(thread=True, exclusive=True, group="quiz-build", exit_on_error=False)
    def build(self, cfg: Any) -> None:
        """Build the quiz items (reads data or a run's predictions)."""
        from qdcore.quiz.session import build_items
        try:
            store = stores(self).open(self.home)
            post(self, ItemsBuilt(cfg, build_items(cfg, store)))
        except Exception as e:  # noqa: BLE001
            post(self, ItemsBuilt(cfg, None, user_message(e)))

    def on_items_built(self, message: ItemsBuilt) -> None:
        self.busy = False
        if message.items is None:
            self._note(message.error, error=True)
            return
        self._note("")
        self.app.push_screen(QuizScreen(message.config, items=message.items, home=self.home))

    @on(Select.Changed, "#f-source")
    def _source_changed(self, event: Select.Changed) -> None:
        # A run's test split fixes the drawings: the data field does not apply.
        self.query_one("#f-data", Input).disabled = event.value != DATA

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    @on(Button.Pressed, "#setup-start")
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_start()

    @on(OptionList.OptionSelected, "#setup-sessions")
    def _resume(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.app.push_screen(QuizScreen(session_id=int(event.option.id), home=self.home))

    def action_results(self) -> None:
        """Everyone's results."""
        from qdtui.screens.quiz_results import QuizResultsScreen

        self.app.push_screen(QuizResultsScreen(home=self.home))

    def action_back(self) -> None:
        """Leave the quiz screens."""
        self.dismiss(None)
