"""Several runs' validation curves on one pair of plots (o on the runs screen)."""

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
from textual.screen import Screen
from textual.widgets import Footer, Static

from qdcore.fmt import literal
from qdtui.live_state import fmt_pct
from qdtui.loaders import user_message
from qdtui.store_gateway import stores
from qdtui.widgets.curves import Curves
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class HistoriesLoaded(Message):
    """Per-epoch curves of several runs, for the overlay."""

    curves: list[tuple[Any, dict[str, list[tuple[int, float]]]]]
    error: str = ""


class OverlayScreen(Screen):
    """Validation top-1 and loss per epoch of several runs, one colour per run."""

    DEFAULT_CSS = """
    OverlayScreen #overlay-plots { height: 1fr; }
    OverlayScreen #overlay-legend { height: auto; max-height: 12; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("s", "smooth", "Smooth"),
        Binding("l", "log_scale", "Log loss"),
    ]

    def __init__(self, run_ids: list[int], *, home: str | Path | None = None) -> None:
        super().__init__()
        self.run_ids = list(run_ids)
        self.home = home
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            with Horizontal(id="overlay-plots"):
                yield Curves("val top-1 (%)", xlabel="epoch", legend=False, id="overlay-top1")
                yield Curves("val loss (cross-entropy)", xlabel="epoch", legend=False,
                             id="overlay-loss")
            yield Static("", id="overlay-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"Overlay of runs {', '.join(map(str, self.run_ids))}"
        self.query_one("#overlay-plots").loading = True
        self.load()

    @work(thread=True, exclusive=True, group="overlay", exit_on_error=False)
    def load(self) -> None:
        """Read each run's history in a thread."""
        try:
            store = stores(self).open(self.home)
            post(self, HistoriesLoaded([(store.get_run(i), store.history(i)) for i in self.run_ids]))
        except Exception as e:  # noqa: BLE001
            post(self, HistoriesLoaded([], user_message(e)))

    def on_histories_loaded(self, message: HistoriesLoaded) -> None:
        self.query_one("#overlay-plots").loading = False
        self.loaded = True
        legend = self.query_one("#overlay-legend", Static)
        if message.error:
            legend.update(Text(literal(message.error), style="red"))
            return
        top1, loss = self.query_one("#overlay-top1", Curves), self.query_one("#overlay-loss", Curves)
        lines: list[tuple[str, str, str]] = []
        for run, hist in message.curves:
            label = f"#{run.id} {run.name}"  # whole: the legend below has a line for it
            acc = hist.get("val/top1", [])
            top1.set_series(label, [e for e, _ in acc], [100.0 * v for _, v in acc])
            vl = hist.get("val/loss", [])
            loss.set_series(label, [e for e, _ in vl], [v for _, v in vl])
            best = max((v for _, v in acc), default=None)
            color = top1.series[label].color
            lines.append((label, color, f"{label} · {len(acc)} epoch{'' if len(acc) == 1 else 's'} · "
                                        f"best val top-1 {fmt_pct(best)}"))
        # each run has its own marker as well as its colour, so the legend reads without colour too
        glyphs = {sv.name: sv.glyph for sv in top1.chart().series}
        legend.update(Text("\n").join(Text(f"{glyphs.get(label, '■')} ", style=_rich_color(color)) + Text(text)
                                      for label, color, text in lines))
        from qdtui.chart_model import shared_range

        shared = shared_range([top1.natural_range(), loss.natural_range()])
        for plot in (top1, loss):
            plot.shared_x = shared
            plot.refresh()

    def action_smooth(self) -> None:
        """Smoothing off, light, heavy (long runs)."""
        for plot in self.query(Curves):
            plot.cycle_smoothing()

    def action_log_scale(self) -> None:
        """Log scale for the loss."""
        loss = self.query_one("#overlay-loss", Curves)
        loss.ylog = not loss.ylog
        loss.refresh()

    def action_back(self) -> None:
        """Back to the runs."""
        self.dismiss(None)


def _rich_color(plotext_color: str) -> str:
    return {"orange": "dark_orange", "gray": "grey50"}.get(plotext_color, plotext_color)
