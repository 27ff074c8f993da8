"""QdApp, the Textual app, and `qdtui [--data ...] [--home DIR] [attach RUN]`."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from qdtui.commands import QdCommands
from qdtui.graphics import tmux_hides
from qdtui.kind_screens import own_screen
from qdtui.loaders import find_run, user_message
from qdtui.messages import RunChosen
from qdtui.routes import ROUTES
from qdtui.screens.dialogs import ErrorDialog, MessageScreen, TooSmallScreen
from qdtui.screens.home import HomeScreen
from qdtui.state import AppState
from qdtui.store_gateway import StoreGateway, store_notice
from qdtui.workers import post


@dataclass
class AttachChecked(Message):
    """`qdtui attach ID` looked the run up: `run` is its record, or `error` says why not."""

    run_id: int
    run: Any | None
    error: str = ""

MIN_SIZE = (80, 24)

THEMES = ("textual-dark", "textual-light")
GRAPHICS_NAMES = {"halfblock": "half-blocks", "kitty": "kitty graphics (real pixels)", "sixel": "sixel (real pixels)"}

class QdApp(App[None]):
    """The qd terminal app."""

    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {QdCommands}
    TITLE = "qd"
    SUB_TITLE = "Quick, Draw! workbench"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+t", "toggle_theme", "Theme", show=False),  # in ? and the palette: the footer keeps the screen's keys
        Binding("ctrl+g", "cycle_graphics", "Pixels", show=False),
        Binding("escape", "back", "Back", show=False),
    ]

    # How drawings reach the screen: kitty / sixel (real pixels) or halfblock; widgets follow changes.
    graphics: reactive[str] = reactive("halfblock")

    def __init__(self, state: AppState | None = None, *, theme: str = "textual-dark") -> None:
        self.started_at = time.perf_counter()
        self.first_paint_at: float | None = None
        super().__init__()
        self.state = state or AppState()
        self.set_reactive(QdApp.graphics, self.state.graphics)
        self.routes = dict(ROUTES)  # qdtui.routes; a name left out shows dimmed in the footer
        # Every screen's and worker's way to the store; it alone tells the user of a store that cannot be used.
        self.stores = StoreGateway(lambda: self.state.store_home, lambda text: store_notice(self, text))
        self._initial_theme = theme
        self._too_small: TooSmallScreen | None = None

    # --- start --------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        return HomeScreen()

    def on_mount(self) -> None:
        self.theme = self._initial_theme
        self.call_after_refresh(self._painted)
        self._check_size(self.size.width, self.size.height)
        if self.state.graphics_note:
            self.notify(self.state.graphics_note, severity="warning", timeout=15)
        if self.state.attach_run is not None:
            self.check_attach(self.state.attach_run)
        elif self.state.quiz is not None:
            self._open_quiz(self.state.quiz)
        elif self.state.draw is not None:
            start = self.state.draw.start
            self.action_open("draw", run_id=start.run, game=start.game, drawer=start.name)

    def _open_quiz(self, ns: argparse.Namespace) -> None:
        """`qdtui quiz ...`: the setup form prefilled (started at once when a name is given), or a resume."""
        if ns.resume is not None:
            from qdtui.screens.quiz import QuizScreen

            self.push_screen(QuizScreen(session_id=ns.resume))
            return
        from qdcore.quiz.session import QuizConfig
        from qdtui.screens.quiz_setup import QuizSetupScreen

        cfg = getattr(ns, "config", None) or QuizConfig(data=ns.data)
        self.push_screen(QuizSetupScreen(defaults=cfg, autostart=bool(cfg.participant)))

    def on_unmount(self) -> None:
        self.stores.close()

    def _painted(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()

    # --- navigation ---------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open" and parameters:
            return True if str(parameters[0]) in self.routes else None  # None: shown dimmed
        return super().check_action(action, parameters)

    def action_open(self, name: str, **kwargs) -> None:
        """Open the screen registered under name (qdtui.routes)."""
        route = self.routes.get(name)
        if route is None:
            self.notify(f"The {name} screen is not available yet.", severity="warning")
            return
        try:
            screen = route.load()(**kwargs)
        except Exception as e:  # noqa: BLE001 - a screen that cannot open is an error message
            self.show_error(user_message(e), title=f"Cannot open {name}")
            return
        self.push_screen(screen)

    def action_back(self) -> None:
        """Leave the current screen (never the home screen)."""
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_help(self) -> None:
        """Show the keys of the current screen."""
        from qdtui.screens.help import HelpScreen, screen_keys

        if isinstance(self.screen, (HelpScreen, TooSmallScreen)):
            return
        name = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", type(self.screen).__name__.removesuffix("Screen")).capitalize()
        self.push_screen(HelpScreen(screen_keys(self.screen), name))  # 'DataBrowserScreen' -> 'Data browser'

    def action_toggle_theme(self) -> None:
        """Switch between the dark and the light theme."""
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]

    def action_cycle_graphics(self) -> None:
        """The in-app graphics setting: half-blocks, kitty graphics, sixel, in turn (also in the palette)."""
        order = ("halfblock", "kitty", "sixel")
        self.set_graphics(order[(order.index(self.graphics) + 1) % len(order)] if self.graphics in order else order[0])

    def set_graphics(self, mode: str) -> None:
        """Draw drawings as half-blocks, kitty graphics or sixel from now on."""
        if mode not in GRAPHICS_NAMES:
            return
        self.graphics = self.state.graphics = mode
        hidden = tmux_hides(mode)
        self.notify(f"Drawings: {GRAPHICS_NAMES[mode]} (ctrl+g changes; start with --graphics to keep it)"
                    + (f"; but {hidden}" if hidden else ""), severity="warning" if hidden else "information")

    def on_run_chosen(self, message: RunChosen) -> None:
        self.open_run(message.run_id, message.status, message.kind)

    def open_run(self, run_id: int, status: str, kind: str) -> None:
        """What the run's kind opens (qdtui.kind_screens): evaluation once finished, its live view, its own screen."""
        from qdtui.kind_screens import route_for

        self.state.current_run = run_id
        route, arg = route_for(kind, finished=status == "done")
        self.action_open(route, **{arg: run_id})

    # --- attach -------------------------------------------------------------

    @work(thread=True, exclusive=True, group="attach", exit_on_error=False)
    def check_attach(self, run_id: int) -> None:
        """Look the run up in the store before following it."""
        run, error = find_run(self.stores, run_id)
        post(self, AttachChecked(run_id, run, error))

    def on_attach_checked(self, message: AttachChecked) -> None:
        if message.run is None:
            self.push_screen(MessageScreen(
                f"Run {message.run_id} not found",
                message.error or f"there is no run {message.run_id} in the store",
                f"Store: {self.state.store_home}\nList runs with `qd runs list` (or press r on the home screen); "
                "pick another store with --home DIR.\nEscape goes to the home screen."))
            return
        self.state.current_run = message.run_id
        if own_screen(getattr(message.run, "kind", "")):
            # a kind with a screen of its own (a study, a GAN) follows a headless run there
            self.open_run(message.run_id, message.run.status, message.run.kind)
        elif "attach" in self.routes:
            self.action_open("attach", run_id=message.run_id)
        else:
            run = message.run
            self.push_screen(MessageScreen(
                f"Run {message.run_id}",
                f"{getattr(run, 'name', '')} · {getattr(run, 'kind', '')} · {getattr(run, 'status', '')}",
                "Following a run live is not available in this version yet. Escape goes to the home screen."))

    # --- errors and size ----------------------------------------------------

    def notify(self, message: str, *, title: str = "", severity: str = "information",  # type: ignore[override]
               timeout: float | None = None, markup: bool = False) -> None:
        """Toasts never read their text as markup: they quote names, paths and errors (escapes visible)."""
        from qdcore.fmt import literal

        super().notify(literal(message, keep="\n"), title=literal(title), severity=severity,  # type: ignore[arg-type]
                       timeout=timeout, markup=markup)

    def show_error(self, message: str, title: str = "Error", hint: str = "") -> None:
        """Show an error dialog (safe to call for any user-facing failure)."""
        self.push_screen(ErrorDialog(message, title=title, hint=hint))

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        if small and self._too_small is None:
            self._too_small = TooSmallScreen(MIN_SIZE)
            self.push_screen(self._too_small, callback=self._too_small_closed)
        elif not small and self._too_small is not None and self.screen is self._too_small:
            self._too_small.dismiss(None)

    def _too_small_closed(self, _: None) -> None:
        self._too_small = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """`qdtui [--data demo|cache|PATH] [--home DIR] [--graphics MODE] [attach RUN | quiz ... | draw ... | serve ...]`."""
    from qdcore.draw.options import DrawStart
    from qdcore.options import field_of
    from qdcore.quiz.session import QuizConfig, QuizResume
    from qdcore.runs.view_options import RunRefs
    from qdtui.serve import ServeConfig

    common = _Parser(add_help=False)
    for f in _shared():  # given before or after the command: SUPPRESS keeps a value the other parser read
        add_flag(common, f, default=argparse.SUPPRESS)
    parser = _Parser(prog="qdtui", parents=[common],
                                     description="The qd terminal app: train, watch and inspect doodle classifiers.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    attach = sub.add_parser("attach", parents=[common], help="follow a run that `qd train` is writing")
    run = field_of(RunRefs, "run")
    attach.add_argument("run_id", type=_run_id, metavar=run.opt.metavar, help=run.opt.help)
    quiz = sub.add_parser("quiz", parents=[common], help="take a quiz: label drawings, compare with models")
    add_declared(quiz, QuizConfig, types={"run": _run_id})
    add_declared(quiz, QuizResume)
    draw = sub.add_parser("draw", parents=[common], help="draw against your model: live guesses, the 20-second game")
    add_declared(draw, DrawStart, types={"run": _run_id})
    serve = sub.add_parser("serve", parents=[common], help="serve the app to a web browser (textual-serve)")
    add_declared(serve, ServeConfig)
    ns = parser.parse_args(argv)
    data, home, graphics = _shared()
    given = _checked(ns, [data, home, graphics])
    ns.data = given.get("data", data.default)
    ns.home = given.get("home")
    env = os.environ.get("QD_GRAPHICS")
    ns.graphics = given.get("graphics") or (_checked_text(graphics, env, "$QD_GRAPHICS") if env else "auto")
    ns.run_id = getattr(ns, "run_id", None)
    return ns


class _Parser(argparse.ArgumentParser):
    """argparse with qd's bad-input rule: one `qdtui: error:` line naming the value, exit 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        sub = self.prog.removeprefix("qdtui").strip()
        hint = f"see 'qdtui {sub} --help'" if sub else "see 'qdtui --help'"
        from qdcore.fmt import literal

        self.exit(2, f"qdtui: error: {literal(message)}; {hint}\n")


def _shared() -> list[Any]:
    """The options every qdtui command takes: --data (as qd's), --home (as qd's) and --graphics."""
    from qdcore.options import DataSelection, StoreHome, field_of
    from qdtui.graphics import Display

    return [field_of(DataSelection, "data"), field_of(StoreHome, "home"), field_of(Display, "graphics")]


def add_declared(parser: argparse.ArgumentParser, cls: type, types: dict[str, Any] | None = None) -> None:
    """A flag for each declared option of a config dataclass (checked later by `declared`, as qd checks them);
    `types` converts a few at parse time (a run id or 'last')."""
    from qdcore.options import fields_of

    for f in fields_of(cls):
        if f.opt.cli:
            add_flag(parser, f, types=types)


def add_flag(parser: argparse.ArgumentParser, f: Any, default: Any = None, types: dict[str, Any] | None = None) -> None:
    """The argparse flag of one declared option (a switch on by default is turned off by --no-x)."""
    shown = f.shown_default()
    text = f.opt.help + (f" (default {shown})" if shown and f.base is not bool else "")
    text = text.replace("%", "%%")  # argparse formats help with %
    if f.base is bool and f.default is True:  # on by default: the flag turns it off
        parser.add_argument("--no-" + f.flag[2:], dest=f.name, action="store_false", default=default,
                            help="turn off: " + text)
    elif f.base is bool:
        parser.add_argument(f.flag, dest=f.name, action="store_true", default=default, help=text)
    else:
        parser.add_argument(f.flag, dest=f.name, default=default, metavar=f.opt.metavar or f.metavar(), help=text,
                            **({"type": types[f.name]} if types and f.name in types else {}))


def _checked_text(f: Any, text: str, origin: str = "") -> Any:
    """`text` converted and checked by its declaration; a bad one is one line, exit 2."""
    return _checked(argparse.Namespace(**{f.name: text}), [f], origin)[f.name]


def _checked(ns: argparse.Namespace, fields: list[Any], origin: str = "") -> dict[str, Any]:
    """The given values of `fields` in parsed flags, each checked against its declaration (one line, exit 2)."""
    from qdcore.errors import ConfigError
    from qdcore.options import check, parse_text

    values = {}
    try:
        for f in fields:
            raw = getattr(ns, f.name, None)
            if raw is not None:
                values[f.name] = parse_text(f, raw, origin) if isinstance(raw, str) else check(f, raw, origin)
    except ConfigError as e:
        print(f"qdtui: error: {e}", file=sys.stderr)
        sys.exit(2)
    return values


def declared(ns: argparse.Namespace, cls: type):
    """The config from parsed flags: each value checked against its declaration; a bad one is one line, exit 2."""
    from qdcore.options import fields_of

    return cls(**_checked(ns, fields_of(cls)))


def _run_id(text: str) -> int | str:
    """A run id, or 'last' kept as text until the store is open (resolve_run_refs)."""
    from qdcore.errors import ConfigError
    from qdcore.runs.refs import is_last, resolve_ref

    if is_last(text):
        return "last"
    try:
        return resolve_ref(None, text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def resolve_run_refs(ns: argparse.Namespace) -> None:
    """Turn 'last' in RUN / --run into a run id, as `qd` does (qdcore.runs.refs): the newest top-level run
    of the kinds the command can use."""
    from qdcore.runs.refs import evaluable_kinds, resolve_ref
    from qdcore.store import Store
    from qdcore.train.predictor import predicting_kinds

    wanted = {"attach": ("run_id", None), "quiz": ("run", evaluable_kinds), "draw": ("run", predicting_kinds)}
    attr, kinds = wanted.get(ns.command, ("", None))
    if not attr or getattr(ns, attr, None) != "last":
        return
    with Store(Path(ns.home).expanduser() if ns.home else None) as store:
        setattr(ns, attr, resolve_ref(store, "last", kinds() if kinds else None))


def state_from_args(ns: argparse.Namespace) -> AppState:
    """AppState for parsed arguments (a quiz's settings checked by their declarations: one line, exit 2)."""
    if ns.command == "quiz":
        from qdcore.quiz.session import QuizConfig, QuizResume

        ns.config = declared(ns, QuizConfig)
        ns.resume = declared(ns, QuizResume).resume
    if ns.command == "draw":
        from qdcore.draw.options import DrawStart

        ns.start = declared(ns, DrawStart)
    return AppState(data_spec=ns.data or "demo", home=Path(ns.home).expanduser() if ns.home else None,
                    attach_run=ns.run_id if ns.command == "attach" else None,
                    quiz=ns if ns.command == "quiz" else None, draw=ns if ns.command == "draw" else None)


def no_terminal() -> str:
    """Why the app cannot run here ('' when it can): without a terminal it would spin on a dead input forever."""
    import os

    if os.environ.get("TEXTUAL_DRIVER"):
        return ""  # textual-serve and other drivers bring their own input and output
    missing = [name for name, stream in (("input", sys.stdin), ("output", sys.stdout))
               if stream is None or not stream.isatty()]
    if not missing:
        return ""
    which = " and ".join(missing) + (" are not terminals" if len(missing) > 1 else " is not a terminal")
    return f"this app needs a terminal but its {which}; over SSH use 'ssh -t HOST qdtui', or the qd commands in scripts"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the app."""
    from qdcore.errors import QDError
    from qdtui.graphics import cell_pixels, resolve_graphics

    ns = parse_args(argv)
    try:
        resolve_run_refs(ns)
    except QDError as e:
        print(f"qdtui: error: {user_message(e)}", file=sys.stderr)
        sys.exit(2)
    if ns.command == "serve":
        from qdtui.serve import ServeConfig, serve

        sys.exit(serve(declared(ns, ServeConfig), ns.data, ns.home, ns.graphics))
    state = state_from_args(ns)  # a mistyped setting is named before the missing terminal
    refusal = no_terminal()
    if refusal:
        print(f"qdtui: error: {refusal}", file=sys.stderr)
        sys.exit(2)
    # The terminal answers questions only before Textual owns stdin: ask now.
    state.graphics = resolve_graphics(ns.graphics)
    hidden = tmux_hides(state.graphics)
    if hidden:  # the images would be swallowed without a word: half-blocks, and the app says why
        state.graphics_note = f"--graphics {state.graphics}: {hidden}; drawing half-blocks (ctrl+g switches)"
        state.graphics = "halfblock"
    cell_pixels()  # cached now: once Textual reads stdin the terminal can no longer be asked (ctrl+g needs it)
    app = QdApp(state)
    app.run()
    sys.exit(app.return_code or 0)
