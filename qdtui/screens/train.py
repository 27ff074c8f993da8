"""The training form: model, preset, data, epochs, device; Start opens the live view that trains it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from qdtui.loaders import user_message

NO_PRESET = "none"
DEVICES = ("auto", "cpu", "cuda", "mps")


def classifier_models() -> list[Any]:
    """The zoo's trainable classifiers (ModelInfo), in table order."""
    from qdcore.models import list_models

    return list_models("classifier")


class TrainScreen(Screen):
    """A form for one training run; ctrl+s (or Enter in a field) starts it in the live view."""

    DEFAULT_CSS = """
    TrainScreen #train-main { height: 1fr; }
    TrainScreen #train-form { width: 46; height: 1fr; padding: 0 1; border: round $primary 60%; }
    TrainScreen #train-about { width: 1fr; height: 1fr; padding: 0 1; border: round $primary 60%; }
    TrainScreen .row { height: 1; margin-bottom: 1; }
    TrainScreen .row Label { width: 11; }
    TrainScreen .row Input, TrainScreen .row Select { width: 1fr; }
    TrainScreen .half Input { width: 8; }
    TrainScreen .half Select { width: 1fr; }
    TrainScreen .half Label.second { width: 12; padding-left: 2; }
    TrainScreen #train-start { width: auto; min-width: 16; }
    TrainScreen #train-note { height: auto; color: $text-muted; }
    TrainScreen #train-note.-error { color: $error; }
    TrainScreen .about-title { text-style: bold; color: $text-accent; }
    TrainScreen .about-text { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("ctrl+s", "start", "Start"),
        Binding("escape", "back", "Back"),
    ]
    HELP_EXTRA = [
        ("tab", "next field"),
        ("enter", "start training (in a text field)"),
        ("blank fields", "the preset's value, else the default"),
        ("categories", "names separated by commas, or a named set (see `qd data sets`)"),
    ]

    def __init__(self, *, model: str | None = None, data: str | None = None) -> None:
        super().__init__()
        from qdcore.train.config import TrainConfig

        self.defaults = TrainConfig()
        self.models = classifier_models()
        names = [m.name for m in self.models]
        self.initial_model = model if model in names else (self.defaults.model if self.defaults.model in names
                                                           else names[0])
        self.initial_data = data

    def compose(self) -> ComposeResult:
        from qdcore.train.config import PRESETS

        state = getattr(self.app, "state", None)
        data = self.initial_data or getattr(state, "data_spec", "demo") or "demo"
        yield Header()
        with Horizontal(id="train-main"):
            with Vertical(id="train-form") as form:
                form.border_title = "New training run"
                with Horizontal(classes="row"):
                    yield Label("Model")
                    yield Select([(m.name, m.name) for m in self.models], value=self.initial_model,
                                 allow_blank=False, id="f-model", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Preset")
                    yield Select([(NO_PRESET, NO_PRESET)] + [(p, p) for p in PRESETS], value=NO_PRESET,
                                 allow_blank=False, id="f-preset", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Data")
                    yield Input(str(data), placeholder="demo, cache or a folder", id="f-data", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Categories")
                    yield Input("", placeholder="all", id="f-categories", compact=True)
                with Horizontal(classes="row half"):
                    yield Label("Epochs")
                    yield Input("", id="f-epochs", compact=True, type="integer")
                    yield Label("Per class", classes="second")
                    yield Input("", placeholder="all", id="f-per-class", compact=True, type="integer")
                with Horizontal(classes="row half"):
                    yield Label("Batch")
                    yield Input("", id="f-batch", compact=True, type="integer")
                    yield Label("Device", classes="second")
                    yield Select([(d, d) for d in DEVICES], value="auto", allow_blank=False, id="f-device",
                                 compact=True)
                with Horizontal(classes="row"):
                    yield Label("Name")
                    yield Input("", placeholder="model on data", id="f-name", compact=True)
                yield Button("Start (ctrl+s)", variant="primary", id="train-start", compact=True)
                yield Static("", id="train-note")
            with VerticalScroll(id="train-about") as about:
                about.border_title = "About"
                yield Static("", id="about-model", classes="about-text")
                yield Static("", id="about-preset", classes="about-text")
                yield Static("", id="about-store", classes="about-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Train"
        self.query_one("#f-model", Select).focus()
        self._describe()
        self._describe_store()

    def on_resize(self) -> None:
        self._describe_store()

    def _describe_store(self) -> None:
        """Where the run goes: the store's path on a line of its own, shortened to the pane (never cut mid-name)."""
        from qdtui.textfit import short_path

        state = getattr(self.app, "state", None)
        width = self.query_one("#train-about").scrollable_content_region.width or 30
        store = Text("The run is saved in the store\n", style="dim")
        store.append(short_path(getattr(state, "store_home", ""), max(8, width - 1)), style="dim bold")
        store.append("\nLeave the live view and it keeps training. Runs (r on the home screen) lists it; "
                     "c in the live view stops it with a checkpoint, r resumes.", style="dim")
        self.query_one("#about-store", Static).update(store)

    # --- the side panel -------------------------------------------------------

    def _describe(self) -> None:
        from qdcore.train.config import PRESETS

        model = self._select("f-model")
        info = next((m for m in self.models if m.name == model), None)
        text = Text()
        if info is not None:
            text.append(f"{info.name}\n", style="bold")
            text.append(f"{info.summary}\n", style="")
            text.append(f"study {info.source_study}", style="dim")
            opts = ", ".join(f"{k}={_short(v)}" for k, v in info.options.items())
            if opts:
                text.append(f"\noptions: {opts}", style="dim")
        self.query_one("#about-model", Static).update(text)
        preset = self._select("f-preset")
        values = PRESETS.get(preset, {})
        ptext = Text()
        if values:
            ptext.append(f"preset {preset}\n", style="bold")
            ptext.append(", ".join(f"{k}={_short(v)}" for k, v in values.items() if k != "model"), style="")
            if values.get("model") and values["model"] != model:
                ptext.append(f"\n(made for {values['model']}; its model options are dropped)", style="dim")
        else:
            ptext.append("no preset: ", style="bold")
            d = self.defaults
            ptext.append(f"{d.optimizer} lr={d.lr:g}, batch {d.batch_size}, {d.epochs} epochs")
        self.query_one("#about-preset", Static).update(ptext)
        epochs = values.get("epochs", self.defaults.epochs)
        batch = values.get("batch_size", self.defaults.batch_size)
        self.query_one("#f-epochs", Input).placeholder = str(epochs)
        self.query_one("#f-batch", Input).placeholder = str(batch)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id in ("f-model", "f-preset"):
            self._describe()

    # --- reading the form ------------------------------------------------------

    def _select(self, field: str) -> str:
        value = self.query_one(f"#{field}", Select).value
        return "" if value is Select.NULL else str(value)

    def _text(self, field: str) -> str | None:
        text = self.query_one(f"#{field}", Input).value.strip()
        return text or None

    def _int(self, field: str, label: str) -> int | None:
        text = self._text(field)
        if text is None:
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{label} must be a whole number, not {text!r}") from None
        if value < 1:
            raise ValueError(f"{label} must be 1 or more, not {value}")
        return value

    def build(self) -> Any:
        """The TrainConfig the form describes (ValueError/QDError with one line when a field is wrong)."""
        from qdcore.train.config import build_config

        preset = self._select("f-preset")
        overrides = {
            "model": self._select("f-model") or None,
            "data": self._text("f-data") or "demo",
            "categories": self._text("f-categories"),
            "epochs": self._int("f-epochs", "Epochs"),
            "per_class": self._int("f-per-class", "Per class"),
            "batch_size": self._int("f-batch", "Batch"),
            "device": self._select("f-device") or "auto",
            "name": self._text("f-name"),
        }
        return build_config(None if preset in ("", NO_PRESET) else preset, None, overrides)

    def _note(self, text: str, error: bool = False) -> None:
        note = self.query_one("#train-note", Static)
        note.update(Text(text))
        note.set_class(error, "-error")

    # --- actions ------------------------------------------------------------------

    def action_start(self) -> None:
        """Check the form and open the live view, which trains in a worker thread."""
        try:
            cfg = self.build()
        except Exception as e:  # noqa: BLE001 - ConfigError, ValueError: a line under the form
            self._note(user_message(e) if not isinstance(e, ValueError) else str(e), error=True)
            return
        self._note("")
        from qdtui.screens.live import LiveScreen

        self.app.push_screen(LiveScreen(config=cfg))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "train-start":
            self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_back(self) -> None:
        """Back to the previous screen."""
        self.dismiss(None)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_short(x)}" for k, x in v.items()) + "}"
    return str(v)
