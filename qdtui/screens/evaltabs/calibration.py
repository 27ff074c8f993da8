"""Calibration tab: does the model's confidence mean what it says? Reliability bins and expected calibration error."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from qdcore.fmt import percent
from qdtui.screens.evaltabs.common import EvalPane

BAR = 16  # cells of the accuracy bar at 100%


def bar(accuracy: float | None, confidence: float | None, width: int = BAR) -> Text:
    """Accuracy as a filled bar with the mean confidence marked '|' (the gap is what ECE averages)."""
    t = Text()
    if accuracy is None or confidence is None:
        return t
    filled = int(round(accuracy * width))
    mark = min(width - 1, int(round(confidence * width)))
    for i in range(width):
        if i == mark:
            t.append("|", style="bold")
        else:
            t.append("█" if i < filled else "·", style="cyan" if i < filled else "dim")
    return t


def summary_text(cal) -> Text:
    """'ECE 3.2% over 15 bins · largest gap ... · mean confidence ... vs top-1 ...' and what it means."""
    t = Text()
    t.append(f"expected calibration error {percent(cal.ece)}", style="bold")
    t.append(f" ({len(cal.bins)} bins)")
    t.append(f" · largest bin gap {percent(cal.mce)} · mean confidence {percent(cal.confidence)} "
             f"vs top-1 {percent(cal.accuracy)}")
    over = cal.confidence - cal.accuracy
    verdict = ("overconfident" if over > 0.01 else "underconfident" if over < -0.01 else "about as confident as right")
    t.append(f"\n{verdict}: bars are accuracy per confidence bin, | marks the bin's mean confidence "
             "(perfect calibration: the bar ends at the mark)", style="dim")
    return t


class CalibrationPane(EvalPane):
    """Reliability table: drawings per top-1 confidence bin, their accuracy and mean confidence."""

    TAB, LABEL = "calibration", "Calibration"  # its id and its tab's label

    DEFAULT_CSS = """
    CalibrationPane #calibration-summary { height: auto; padding: 0 1; }
    CalibrationPane #calibration-bins { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("", id="calibration-summary")
        yield DataTable(id="calibration-bins", cursor_type="row", zebra_stripes=True)

    def set_data(self, data, models) -> None:
        super().set_data(data, models)
        cal = data.calibration
        self.query_one("#calibration-summary", Static).update(summary_text(cal))
        table = self.query_one("#calibration-bins", DataTable)
        table.clear(columns=True)
        for label in ("confidence", "drawings", "mean conf", "accuracy", "gap pts"):
            table.add_column(label, key=label)
        table.add_column("accuracy, | conf", key="bar")
        for i, b in enumerate(cal.bins):
            if not b.count:
                continue  # empty bins say nothing; the summary counts all of them
            gap = None if b.accuracy is None else b.accuracy - b.confidence
            table.add_row(f"{b.lo:.2f}–{b.hi:.2f}", Text(f"{b.count:,}", justify="right"),
                          Text(percent(b.confidence), justify="right"), Text(percent(b.accuracy), justify="right"),
                          Text("" if gap is None else f"{100 * gap:+.1f}", justify="right"),
                          bar(b.accuracy, b.confidence), key=str(i))

    def focus_main(self) -> None:
        self.query_one("#calibration-bins", DataTable).focus()
