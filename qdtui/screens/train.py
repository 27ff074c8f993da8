"""The training form: rows generated from the run kind's declared options; Start launches the run and follows it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from qdcore.data.categories import NAMED_SETS
from qdtui.loaders import user_message
from qdtui.widgets.header import Header
from qdtui.widgets.option_rows import DEFAULT, option_row, option_widget, read_rows, row_id

NO_PRESET = "none"


def trainable_models() -> list[tuple[str, str]]:
    """(model, kind) for every model a registered kind trains, the classifier's first."""
    from qdcore.runs.kinds import all_kinds

    return [(m, k.name) for k in all_kinds() for m in k.models()]


class TrainScreen(Screen):
    """A form for one training run; ctrl+s (or Enter in a field) starts it in the live view.

    Its rows are the chosen kind's options declared with a form label (qdcore.options): each is
    read as text and checked by the same code as `qd train`'s flags, so both give the same message.
    """

    DEFAULT_CSS = """
    TrainScreen #train-main { height: 1fr; }
    TrainScreen #train-form { width: 46; height: 1fr; padding: 0 1; border: round $primary 60%; }
    TrainScreen #train-about { width: 1fr; height: 1fr; padding: 0 1; border: round $primary 60%; }
    TrainScreen .row { height: 1; }
    TrainScreen .row Label { width: 12; }  /* "Label noise" and a space */
    TrainScreen .row Input, TrainScreen .row Select { width: 1fr; }
    TrainScreen #train-fields { height: auto; }
    TrainScreen #train-start { width: auto; min-width: 16; margin-top: 1; }
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
        ("categories", "names separated by commas (see `qd data list`), or a named set: " + ", ".join(NAMED_SETS)),
    ]

    def __init__(self, *, model: str | None = None, data: str | None = None) -> None:
        super().__init__()
        from qdcore.runs.kinds import choose_kind

        self.models = trainable_models()
        names = [m for m, _ in self.models]
        self.kind = choose_kind(model=model if model in names else None)
        default_model = getattr(self.kind.config(), "model", names[0] if names else "")
        self.initial_model = model if model in names else default_model
        self.initial_data = data
        self._shown_preset = NO_PRESET

    # --- layout -----------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="train-main"):
            with VerticalScroll(id="train-form") as form:
                form.border_title = "New training run"
                with Horizontal(classes="row"):
                    yield Label("Model")
                    yield Select([(m, m) for m, _ in self.models], value=self.initial_model, allow_blank=False,
                                 id="f-model", compact=True)
                with Horizontal(classes="row"):
                    yield Label("Preset")
                    yield Select(self._preset_options(), value=NO_PRESET, allow_blank=False, id="f-preset",
                                 compact=True)
                yield Vertical(*self._rows(), id="train-fields")
                yield Button("Start (ctrl+s)", variant="primary", id="train-start", compact=True)
                yield Static("", id="train-note")
            with VerticalScroll(id="train-about") as about:
                about.border_title = "About"
                yield Static("", id="about-model", classes="about-text")
                yield Static("", id="about-preset", classes="about-text")
                yield Static("", id="about-store", classes="about-text")
        yield Footer()

    def _preset_options(self) -> list[tuple[str, str]]:
        return [(NO_PRESET, NO_PRESET)] + [(p, p) for p in self.kind.presets]

    def _fields(self) -> list[Any]:
        from qdcore.options import form_fields

        return [f for f in form_fields(self.kind.config) if f.name != "model"]

    def _rows(self) -> list[Horizontal]:
        """One row per declared form field (qdtui.widgets.option_rows)."""
        rows = []
        for f in self._fields():
            initial = str(self.initial_data or f.default or "demo") if f.name == "data" else None
            placeholder = "all" if f.name in ("categories", "per_class") else (
                "model and what differs" if f.name == "name" else _short(f.default) if f.default is not None
                else "model default")
            rows.append(option_row(f, option_widget(f, initial, placeholder=placeholder)))
        return rows

    def on_mount(self) -> None:
        self.sub_title = "Train"
        data = self.query("#f-data")
        if data and not self.initial_data:
            state = getattr(self.app, "state", None)
            spec = getattr(state, "data_spec", None)
            if spec:
                data.first(Input).value = str(spec)
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

    async def _switch_kind(self, model: str) -> None:
        """Another kind trains this model: its rows and presets replace the others."""
        from qdcore.runs.kinds import choose_kind

        kind = choose_kind(model=model)
        if kind is self.kind:
            return
        self.kind = kind
        fields = self.query_one("#train-fields", Vertical)
        await fields.remove_children()
        await fields.mount_all(self._rows())
        self.query_one("#f-preset", Select).set_options(self._preset_options())

    # --- the side panel -------------------------------------------------------

    def _describe(self) -> None:
        from qdcore.models import list_models

        model = self._select("f-model")
        info = next((m for m in list_models() if m.name == model), None)
        text = Text()
        if info is not None:
            text.append(f"{info.name}", style="bold")
            text.append(f" ({self.kind.title})\n", style="dim")
            text.append(f"{info.summary}\n", style="")
            text.append(f"study {info.source_study}", style="dim")
            opts = ", ".join(f"{k}={_short(v)}" for k, v in info.options.items())
            if opts:
                text.append(f"\noptions: {opts}", style="dim")
        else:
            text.append(f"{model} ({self.kind.title})", style="bold")
        self.query_one("#about-model", Static).update(text)
        preset = self._select("f-preset")
        values = self.kind.presets.get(preset, {})
        ptext = Text()
        d = self.kind.config()
        if values:
            ptext.append(f"preset {preset}\n", style="bold")
            ptext.append(", ".join(f"{k}={_short(v)}" for k, v in values.items() if k != "model"), style="")
            if values.get("model") and values["model"] != model:
                ptext.append(f"\n(made for {values['model']}; its model options are dropped)", style="dim")
        else:
            ptext.append("no preset: ", style="bold")
            shown = [f"{f.opt.form.lower()} {_short(getattr(d, f.name))}" for f in self._fields()
                     if f.name not in ("data", "categories", "per_class", "name") and getattr(d, f.name) is not None]
            ptext.append(", ".join(shown[:6]))
        self.query_one("#about-preset", Static).update(ptext)
        # Blank text fields show what they will be: the preset's value, else the default; choices take it.
        for f in self._fields():
            w = self.query(f"#{row_id(f.name)}")
            if w and isinstance(w.first(), Select) and preset != self._shown_preset:
                v = values.get(f.name, getattr(d, f.name))
                text = DEFAULT if v is None else ("true" if v else "false") if isinstance(v, bool) else str(v)
                if text in {str(o[1]) for o in w.first(Select)._options}:
                    w.first(Select).value = text
            if w and isinstance(w.first(), Input) and f.name in values:
                w.first(Input).placeholder = _short(values[f.name])
            elif w and isinstance(w.first(), Input) and getattr(d, f.name) is not None and f.name != "data":
                w.first(Input).placeholder = _short(getattr(d, f.name))
        self._shown_preset = preset

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "f-model":
            await self._switch_kind(self._select("f-model"))
        if event.select.id in ("f-model", "f-preset"):
            self._describe()

    # --- reading the form ------------------------------------------------------

    def _select(self, field: str) -> str:
        value = self.query_one(f"#{field}", Select).value
        return "" if value is Select.NULL else str(value)

    def texts(self) -> dict[str, str]:
        """The rows the user set, as text (blank fields and 'default' choices are left out)."""
        return {"model": self._select("f-model"), **read_rows(self, self._fields())}

    def build(self) -> Any:
        """The config the form describes (QDError with the line `qd train` would print for the same values)."""
        from qdcore.runs.kinds import config_from_text

        preset = self._select("f-preset")
        return config_from_text(self.texts(), None if preset in ("", NO_PRESET) else preset, None, self.kind.name)

    def _note(self, text: str, error: bool = False) -> None:
        note = self.query_one("#train-note", Static)
        note.update(Text(text))
        note.set_class(error, "-error")

    # --- actions ------------------------------------------------------------------

    def action_start(self) -> None:
        """Check the form and open the live view, which launches the run as a detached `qd train`."""
        try:
            cfg = self.build()
        except Exception as e:  # noqa: BLE001 - ConfigError: a line under the form
            self._note(user_message(e), error=True)
            return
        self._note("")
        from qdtui.screens.live import LiveScreen

        self.app.push_screen(LiveScreen(config=cfg), callback=self._live_closed)

    def _live_closed(self, run_id: int | None) -> None:
        """Leaving the live view of a run started here goes back past the form (the run is on the home screen),
        so the next key lands on no half-edited field; a run that could not start comes back to the form."""
        if run_id is not None:
            self.dismiss()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "train-start":
            self.action_start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def action_back(self) -> None:
        """Back to the previous screen."""
        self.dismiss(None)


def _short(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return ",".join(_short(x) for x in v)
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_short(x)}" for k, x in v.items()) + "}"
    return str(v)
