"""The form that starts a named study in the background (through the core launcher)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Select, Static

from qdtui.loaders import user_message
from qdtui.store_gateway import stores


@dataclass
class StudyStarted(Message):
    """A study was created and started in the background (or `error`)."""

    study: int | None
    notes: list[str]
    error: str = ""


class NewStudyDialog(ModalScreen[int | None]):
    """Start a named study in the background: which one, --quick, data, workers."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    NewStudyDialog .form-row { height: 3; }
    NewStudyDialog .form-row Static { width: 12; padding: 1 1 0 0; }
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
            with Horizontal(classes="form-row"):
                yield Static("study")
                yield Select([(f"{n.name} ({n.source})", n.name) for n in NAMED.values()], value="data-size",
                             allow_blank=False, id="new-name")
            with Horizontal(classes="form-row"):
                yield Static("data")
                yield Input(self.data, id="new-data")
            with Horizontal(classes="form-row"):
                yield Static("workers")
                yield Input("1", id="new-workers", type="integer")
            yield Checkbox("quick (minutes on a CPU)", True, id="new-quick")
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
        from qdcore.runs.launcher import launch
        from qdcore.runs.study import StudyConfig, build_spec

        name = str(self.query_one("#new-name", Select).value)
        data = self.query_one("#new-data", Input).value.strip() or "demo"
        quick = self.query_one("#new-quick", Checkbox).value
        try:
            workers = max(1, int(self.query_one("#new-workers", Input).value or "1"))
            cfg = StudyConfig().replace(origin="form", spec=name, quick=quick, data=data, workers=workers)
            _, notes = build_spec(cfg)
            if quick:
                from qdcore.studies.quick_limits import cannot_quick_note

                notes = [*filter(None, [cannot_quick_note(name, data, project=False)]), *notes]
            # validates every trial first; the child adds and runs them
            job = launch(cfg, store=stores(self).open(self.home))
            self.post_message(StudyStarted(job.run_id, notes))
        except Exception as e:  # noqa: BLE001 - shown in the form
            self.post_message(StudyStarted(None, [], user_message(e)))

    def on_study_started(self, message: StudyStarted) -> None:
        note = self.query_one("#new-note", Static)
        if message.error:
            note.add_class("-error")
            note.update(Text(message.error))
            return
        for n in message.notes:
            self.notify(n, timeout=8)
        self.dismiss(message.study)
