"""Worst tab: every test drawing ranked from most to least confusing, browsed by percentile."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from qdcore.fmt import literal
from qdtui.loaders import user_message
from qdtui.messages import DrawingFocused, DrawingHighlighted
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.screens.gallery import drawing_items
from qdtui.widgets.drawing_grid import DrawingGrid
from qdtui.workers import deliver

SHOWN = 48  # drawings around the chosen percentile
RANKS = (("prob", "p(true)"), ("loss", "loss"), ("margin", "margin"))


class WorstPane(EvalPane):
    """Drawings around the p% worst (0 = the very worst) by true-class probability, loss or margin."""

    TAB, LABEL = "worst", "Worst"  # its id and its tab's label

    BINDINGS = [
        Binding("left_square_bracket", "shift(-1)", "-1%", key_display="["),
        Binding("right_square_bracket", "shift(1)", "+1%", key_display="]"),
        Binding("left_curly_bracket", "shift(-5)", "-5%", key_display="{"),
        Binding("right_curly_bracket", "shift(5)", "+5%", key_display="}"),
        Binding("w", "goto(5)", "5% worst"),
        Binding("r", "cycle_rank", "Rank by"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pct = 0.0  # opens at the very worst drawings; w jumps to the 5% worst
        self.by = "prob"
        self.ranking = None
        self.positions = np.zeros(0, np.int64)
        self.shown = np.zeros(0, np.int64)

    def compose_body(self) -> ComposeResult:
        yield Static("", id="worst-line", classes="pane-line")
        yield DrawingGrid(id="worst-grid")
        yield Static("", id="worst-detail", classes="pane-line")

    def start(self) -> None:
        self.loading = True
        self.rank(self.by)

    @work(thread=True, exclusive=True, group="worst", exit_on_error=False)
    def rank(self, by: str) -> None:
        """Rank the drawings (an argsort of N) off the UI thread."""
        from qdcore.analysis.worst import rank_drawings

        try:
            ranking = rank_drawings(self.data.pred, by)
        except Exception as e:  # noqa: BLE001
            deliver(self, self.say, f"cannot rank the drawings: {user_message(e)}")
            return
        deliver(self, self._ranked, ranking)

    def _ranked(self, ranking) -> None:
        self.loaded()
        self.ranking = ranking
        self.positions = ranking.rank_of()
        self.by = ranking.by
        self.show()

    def show(self) -> None:
        """Fill the grid with the drawings around the current percentile."""
        from qdcore.analysis.worst import around_percentile

        if self.ranking is None or self.data is None:
            return
        self.shown = around_percentile(self.ranking, self.pct, SHOWN)
        grid = self.query_one("#worst-grid", DrawingGrid)
        grid.set_items(drawing_items(self.data, self.shown))
        total = len(self.ranking)
        pos = self.positions[self.shown] if self.shown.size else np.zeros(0, np.int64)
        label = dict(RANKS)[self.by]
        where = "the worst drawings" if self.pct == 0 else f"around the {self.pct:g}% worst"
        line = Text(f"by {label} · {where}", style="bold")
        if self.shown.size:
            p_true = self.data.pred.probs[self.shown, np.asarray(self.data.pred.labels)[self.shown]]
            line.append(f" · ranks {int(pos.min()) + 1}–{int(pos.max()) + 1} of {total:,}"
                        f" · p(true) {float(p_true.min()):.2f}–{float(p_true.max()):.2f}", style="")
        self.query_one("#worst-line", Static).update(line)
        self._detail(0)

    def _detail(self, k: int) -> None:
        if not 0 <= k < self.shown.size:
            self.query_one("#worst-detail", Static).update("")
            return
        i = int(self.shown[k])
        rank = int(self.positions[i]) + 1
        self.query_one("#worst-detail", Static).update(
            Text(f"rank {rank:,} · {literal(self.data.describe(i))}"))
        self.post_message(DrawingFocused(i))

    def on_drawing_highlighted(self, message: DrawingHighlighted) -> None:
        self._detail(message.index)

    def action_shift(self, step: float) -> None:
        """Move the window by step percent (towards the best drawings when positive)."""
        self.action_goto(self.pct + step)

    def action_goto(self, pct: float) -> None:
        """Show the drawings around the pct% worst."""
        self.pct = float(min(100.0, max(0.0, pct)))
        self.show()

    def action_cycle_rank(self) -> None:
        """Rank by true-class probability, loss, then margin."""
        names = [r for r, _ in RANKS]
        if self.data is not None and self.data.ok:
            self.rank(names[(names.index(self.by) + 1) % len(names)])

    def focus_main(self) -> None:
        self.query_one("#worst-grid", DrawingGrid).focus()
