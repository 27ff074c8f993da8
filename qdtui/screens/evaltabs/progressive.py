"""When tab: top-1 against the share of ink (or drawing time) as drawings are replayed, and when each class was known."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from qdcore.fmt import literal, percent
from qdtui.literal import plain
from qdtui.loaders import user_message
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.widgets.plot import TitledPlot
from qdtui.workers import deliver

PER_CLASS = 20  # drawings of each class replayed (each one 10-30 prefixes through the model)


class ProgressivePane(EvalPane):
    """The replay's curve (qdcore.analysis.progressive) and a per-class table: top-1 at 50% and 100%, knew at."""

    TAB, LABEL = "progressive", "When"  # its id and its tab's label
    DEFAULT_CSS = """
    ProgressivePane #progressive-summary { height: auto; padding: 0 1; }
    ProgressivePane #progressive-plot { height: 2fr; min-height: 10; }
    ProgressivePane #progressive-classes { height: 1fr; }
    """
    BINDINGS = [Binding("t", "toggle_axis", "Ink/time")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report: dict | None = None
        self.axis = "ink"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="progressive-summary")
        yield TitledPlot(id="progressive-plot")
        yield DataTable(id="progressive-classes", cursor_type="row", zebra_stripes=True)

    def start(self) -> None:
        self.busy(f"Replaying up to {PER_CLASS} drawings of each class stroke by stroke through run "
                  f"{self.data.run_id}'s model…")
        self.replay(self.data.run_id)

    @work(thread=True, exclusive=True, group="progressive", exit_on_error=False)
    def replay(self, run_id: int) -> None:
        """The replay report of the run's test split (or a local stroke folder of its classes)."""
        from qdcore.analysis.progressive import progressive_report
        from qdtui.store_gateway import stores

        try:
            report = progressive_report(stores(self).open(), [run_id], per_class=PER_CLASS)
        except Exception as e:  # noqa: BLE001 - no strokes, no model: a message, never a traceback
            deliver(self, self.say, f"No replay: {user_message(e)}\n`qd analyze {run_id} --progressive --data DIR` "
                                    "replays the strokes of any .ndjson/.bin folder.")
            return
        deliver(self, self._ready, report)

    def _ready(self, report: dict) -> None:
        self.report = report
        self.loaded()
        self.show()

    def show(self) -> None:
        """Fill the summary, the plot and the table for the current axis."""
        from qdcore.analysis.progressive import draw_curves, knew_text

        report = self.report
        if report is None:
            return
        run = report["runs"][0]
        axis = self.axis if run[self.axis] else "ink"
        t = Text()
        t.append(f"{run['n']:,} drawings of {literal(report['where'])}", style="bold")
        t.append(f" ({run['timed']:,} with times) · knew at {knew_text(run['knew']['ink'])} of the ink")
        if run["knew"]["time"]:
            t.append(f", {knew_text(run['knew']['time'])} of the time")
        t.append(" (median, 95% interval)")
        for note in report.get("notes", []):
            t.append(f"\n{literal(note)}", style="dim")
        t.append("\nknew at: after the stroke from which the top guess stayed right · t: ink/time", style="dim")
        self.query_one("#progressive-summary", Static).update(t)
        plot = self.query_one("#progressive-plot", TitledPlot)
        plt = plot.fresh_figure()
        draw_curves(plt, report, axis)
        plot.refresh()
        table = self.query_one("#progressive-classes", DataTable)
        table.clear(columns=True)
        for col in ("class", "n", f"50% of {axis}", f"100% of {axis}", "knew at (ink)"):
            table.add_column(col, key=col)
        half = run["grid"].index(0.5) if 0.5 in run["grid"] else len(run["grid"]) // 2
        for c in run["per_class"]:
            curve = c[axis] or c["ink"]
            table.add_row(plain(c["class"]), Text(str(c["n"]), justify="right"),
                          Text(percent(curve[half]["top1"], 0), justify="right"),
                          Text(percent(curve[-1]["top1"], 0), justify="right"), Text(knew_text(c["knew_ink"])))

    def action_toggle_axis(self) -> None:
        """Share of ink <-> share of drawing time."""
        self.axis = "time" if self.axis == "ink" else "ink"
        self.show()

    def focus_main(self) -> None:
        self.query_one("#progressive-classes", DataTable).focus()
