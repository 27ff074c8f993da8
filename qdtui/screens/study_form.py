"""The form that starts a named study in the background (through the core launcher)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from qdtui.loaders import user_message
from qdtui.store_gateway import stores
from qdtui.widgets.option_rows import DEFAULT, option_row, option_widget, read_rows
from qdtui.workers import post


def study_fields() -> list[Any]:
    """The dialog's rows: the study options (`qd study run`'s) declared with a form label, the spec first (as
    on the command line)."""
    from qdcore.kinds.study import StudyConfig, study_option
    from qdcore.options import form_fields

    return sorted((f for f in form_fields(StudyConfig) if study_option(f)), key=lambda f: not f.opt.argument)


@dataclass
class StudyStarted(Message):
    """A study was created and started in the background (or `error`)."""

    study: int | None
    notes: list[str]
    error: str = ""


class NewStudyDialog(ModalScreen[int | None]):
    """Start a named study in the background: its rows are the study options declared with a form label."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NewStudyDialog .form-row { height: 1; margin-bottom: 1; }
    NewStudyDialog .form-row Label { width: 12; padding: 0 1 0 0; }
    NewStudyDialog .form-row Input, NewStudyDialog .form-row Select { width: 1fr; }
    NewStudyDialog #new-note { height: auto; color: $text-muted; }
    NewStudyDialog #new-note.-error { color: $error; }
    """

    def __init__(self, home: Path, data: str = "demo") -> None:
        super().__init__()
        self.home = home
        self.data = data

    def compose(self) -> ComposeResult:
        from qdcore.studies.named import NAMED

        with Vertical(classes="dialog") as box:
            box.border_title = "Start a study"
            # A named study from the list, on the app's data, quick: what a first try wants.
            initial = {"spec": "data-size", "data": self.data, "quick": True}
            named = [(f"{n.name} ({n.source})", n.name) for n in NAMED.values()]
            for f in study_fields():
                widget = option_widget(f, initial.get(f.name), placeholder=DEFAULT,
                                       choices=named if f.name == "spec" else None)
                yield option_row(f, widget, classes="form-row")
            yield Static("", id="new-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.start()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        """Close without starting anything."""
        self.dismiss(None)

    @work(thread=True, exclusive=True, group="study-start", exit_on_error=False)
    def start(self) -> None:
        """Start the study through the core launcher (a detached process); errors stay in the form."""
        from qdcore.kinds.study import build_spec, study_config
        from qdcore.runs.launcher import launch

        try:
            cfg = study_config(read_rows(self, study_fields()))
            _, notes = build_spec(cfg)
            if cfg.quick:
                from qdcore.studies.quick_limits import cannot_quick_note

                notes = [*filter(None, [cannot_quick_note(cfg.spec, cfg.source(), project=False)]), *notes]
            # validates every trial first; the child adds and runs them
            job = launch(cfg, store=stores(self).open(self.home))
            post(self, StudyStarted(job.run_id, notes))
        except Exception as e:  # noqa: BLE001 - shown in the form
            post(self, StudyStarted(None, [], user_message(e)))

    def on_study_started(self, message: StudyStarted) -> None:
        note = self.query_one("#new-note", Static)
        if message.error:
            note.add_class("-error")
            note.update(Text(message.error))
            return
        for n in message.notes:
            self.notify(n, timeout=8)
        self.dismiss(message.study)
