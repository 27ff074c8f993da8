"""After a game: each drawing with the model's guesses, like the original game's results screen."""

from __future__ import annotations

import statistics
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from qdcore.draw.game import RoundResult
from qdcore.draw.recorder import model_input
from qdcore.draw.report import share_text
from qdcore.fmt import plural
from qdtui.widgets.drawing import Drawing
from qdtui.widgets.header import Header


def tile_title(r: RoundResult) -> Text:
    """'circle ✓ 3.2 s 60% ink' or 'circle ✗' (the share of ink: when the model knew, replayed stroke by stroke)."""
    t = Text(r.word if len(r.word) <= 16 else r.word[:15] + "…", style="bold")
    if r.recognized:
        t.append(f" ✓ {r.seconds:.1f} s", style="green")
    else:
        t.append(" ✗", style="red")
    if r.knew_ink is not None and r.knew_ink <= 1:
        t.append(f" {100 * r.knew_ink:.0f}% ink", style="dim")
    return t


def tile_guesses(r: RoundResult, k: int) -> Text:
    """The model's top k at the end of the round."""
    if not r.strokes:
        return Text("nothing drawn", style="dim")
    t = Text()
    for i, (c, p) in enumerate(r.guesses[:k]):
        if i:
            t.append("\n")
        name = c if len(c) <= 16 else c[:15] + "…"
        t.append(f"{name:<16} {100 * p:3.0f}%", style="bold green" if c == r.word else "")
    return t


def summary(results: list[RoundResult], run_name: str, run_id: int | None, drawer: str) -> Text:
    """One line: how many the model recognised, how fast."""
    n = len(results)
    hits = [r for r in results if r.recognized]
    t = Text(f"The model recognised {len(hits)} of your {plural(n, 'drawing')}", style="bold")
    if hits:
        t.append(f" · median {statistics.median(r.seconds for r in hits):.1f} s")
    knew = [r.knew_ink for r in results if r.knew_ink is not None]
    if knew:
        mid = statistics.median(knew)
        t.append(f" · knew at {share_text(mid)} of the ink (median)" if mid <= 1 else " · mostly never sure")
    who = f"run {run_id}" if run_id is not None else "the model"
    t.append(f" · {who} ({run_name}) · drawn by {drawer}", style="dim")
    return t


class DrawResultsScreen(Screen):
    """A grid of the game's drawings: the asked category, recognised or not and when, the model's top guesses."""

    DEFAULT_CSS = """
    DrawResultsScreen #results-line { height: 1; padding: 0 1; background: $panel; }
    DrawResultsScreen #results-grid { grid-size: 3; grid-gutter: 0 1; padding: 0 1; height: 1fr; }
    DrawResultsScreen .tile { height: auto; }
    DrawResultsScreen .tile-title { height: 1; }
    DrawResultsScreen .tile Drawing { width: 28; height: 14; }
    DrawResultsScreen.-short .tile Drawing { width: 14; height: 7; }
    DrawResultsScreen .tile-guesses { height: auto; color: $text; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("n", "again", "New game"),
    ]

    def __init__(self, results: list[RoundResult], run_name: str = "", run_id: int | None = None,
                 drawer: str = "") -> None:
        super().__init__()
        self.results = list(results)
        self.run_name = run_name
        self.run_id = run_id
        self.drawer = drawer

    def _short(self) -> bool:
        return self.app.size.height < 40

    def compose(self) -> ComposeResult:
        short = self._short()
        self.set_class(short, "-short")
        yield Header()
        yield Static(summary(self.results, self.run_name, self.run_id, self.drawer), id="results-line")
        with Grid(id="results-grid"):
            for r in self.results:
                with Vertical(classes="tile"):
                    yield Static(tile_title(r), classes="tile-title")
                    yield Drawing(model_input(r.strokes), zoom=0.5 if short else 1.0)
                    yield Static(tile_guesses(r, 2 if short else 3), classes="tile-guesses")
        yield Footer()

    def action_back(self) -> None:
        """Back to the canvas."""
        self.app.pop_screen()

    def action_again(self) -> None:
        """Another game with the same model."""
        screen: Any = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        self.app.pop_screen()
        if screen is not None and hasattr(screen, "action_game"):
            screen.action_game()
