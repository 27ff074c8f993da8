"""Named line series on a plotext plot, drawn from a ChartView (qdtui.chart_model); appending is O(1).

The widget only draws: which series, on which x axis and range, smoothed or on a log scale, with
which markers, and whether the panel collapses to a line of text is decided by chart_model."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text

from qdtui.chart_model import SMOOTHING, ChartView, XMap, axis_ticks, is_constant, prepare
from qdtui.chart_model import thin as thin
from qdtui.widgets.plot import TitledPlot

# plotext colour names that read on dark and light backgrounds
COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "gray")


@dataclass
class Series:
    """One curve: x and y values and its colour."""

    name: str
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    color: str = ""


def int_ticks(lo: float, hi: float, most: int = 6) -> list[int]:
    """Whole-number ticks from lo to hi, at most `most`, on a round step (epochs and steps are integers)."""
    lo_i, hi_i = int(lo), int(round(hi))
    span = max(1, hi_i - lo_i)
    step = 1
    for mult in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000):
        step = mult
        if span / mult <= most - 1:
            break
    first = -(-lo_i // step) * step
    return list(range(first, hi_i + 1, step)) or [lo_i]


class Curves(TitledPlot):
    """A panel of named series with a labelled x axis, the legend beside the title and options:
    `axis` (step/epoch/time through `xmap`), `smooth` (EMA weight), `ylog`, `hidden` series and a
    `shared_x` range set by the screen so the panels of one run line up."""

    DEFAULT_CSS = """
    Curves { height: 1fr; min-height: 6; }
    Curves.-constant { height: 1; min-height: 1; }
    """

    def __init__(self, title: str = "", *, xlabel: str = "", ylog: bool = False, legend: bool = True,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(title, name=name, id=id, classes=classes)
        self.legend = legend  # False where the screen shows the legend itself (the overlay's run list)
        self.xlabel = xlabel  # fixed label for charts whose x is not a step (e.g. 'epoch' in overlays)
        self.ylog = ylog
        self.axis = "step"
        self.xmap: XMap | None = None
        self.smooth = 0.0
        self.hidden: set[str] = set()
        self.shared_x: tuple[float, float] | None = None
        self.view: ChartView | None = None  # what the last render drew
        self.empty_note = ""  # shown, wrapped, instead of an empty plot: why there is nothing to draw
        self._series: dict[str, Series] = {}
        self._builds = 0
        self._restore_height = None

    @property
    def series(self) -> dict[str, Series]:
        """The series by name, in the order they were added."""
        return self._series

    @property
    def builds(self) -> int:
        """How many times the plot was rebuilt (tests check bursts do not rebuild per point)."""
        return self._builds

    def _get(self, name: str) -> Series:
        s = self._series.get(name)
        if s is None:
            s = self._series[name] = Series(name, color=COLORS[len(self._series) % len(COLORS)])
        return s

    def append(self, name: str, x: float, y: float) -> None:
        """Add one point to a series (created on first use) and schedule a redraw."""
        if y is None or y != y:  # skip None and NaN
            return
        s = self._get(name)
        s.xs.append(float(x))
        s.ys.append(float(y))
        self.refresh()

    def set_series(self, name: str, xs: list[float], ys: list[float]) -> None:
        """Replace a series' points (e.g. a whole history read from the store)."""
        s = self._get(name)
        s.xs, s.ys = [float(x) for x in xs], [float(y) for y in ys]
        self.refresh()

    def clear(self) -> None:
        """Remove every series."""
        self._series.clear()
        self.refresh()

    # --- options --------------------------------------------------------------

    def cycle_smoothing(self) -> float:
        """Off, light, heavy smoothing in turn; the new weight."""
        self.smooth = SMOOTHING[(SMOOTHING.index(self.smooth) + 1) % len(SMOOTHING)] if self.smooth in SMOOTHING else 0.0
        self.refresh()
        return self.smooth

    def toggle(self, name: str) -> bool:
        """Show or hide a series; whether it is now shown."""
        self.hidden ^= {name}
        self.refresh()
        return name not in self.hidden

    def natural_range(self) -> tuple[float, float] | None:
        """The x range of the plotted series on the present axis (before sharing; constants are text)."""
        xmap = self.xmap or XMap()
        ends = [xmap(self.axis, x) for s in self._series.values()
                if s.xs and s.name not in self.hidden and not is_constant(s.ys) for x in (s.xs[0], s.xs[-1])]
        return (min(ends), max(ends)) if ends else None

    def chart(self) -> ChartView:
        """The ChartView for the present data and options."""
        width = max(10, self.size.width)
        view = prepare(self.title, [(s.name, s.xs, s.ys, s.color) for s in self._series.values()],
                       hidden=frozenset(self.hidden), axis=self.axis, xmap=self.xmap, smooth=self.smooth,
                       log_y=self.ylog, x_range=self.shared_x, x_ticks=max(3, width // 8), limit=2 * width)
        if self.xlabel:
            view.xlabel = self.xlabel
        return view

    @property
    def collapsed(self) -> bool:
        """Whether the last render showed a line of text (every series constant)."""
        return self.has_class("-constant")

    # --- drawing ----------------------------------------------------------------

    def render(self):
        """Rebuild the plotext figure from the ChartView (or one line of text when every series is constant)."""
        if not self._series and self.empty_note:
            return Text(f"{self.title}\n{self.empty_note}", style="dim")
        view = self.view = self.chart()
        self._builds += 1
        if view.collapsed != self.collapsed:
            self.call_later(self._set_collapsed, view.collapsed)
        if view.collapsed:
            return Text(view.headline(), style="dim", no_wrap=True, overflow="ellipsis")
        plt = self.fresh_figure()
        plt.title(view.headline(self.size.width - 4, self.legend))  # plotext drops a title wider than this
        plt.xlabel(view.xlabel)
        for s in view.series:
            plt.plot(s.xs, s.ys, color=s.color, marker=s.marker)
        if view.x_range is not None:
            plt.xlim(*view.x_range)
            if view.x_ticks[0]:
                plt.xticks(*view.x_ticks)
        if view.log_y and view.series:
            plt.yscale("log")
        elif view.series:
            ys = [y for s in view.series for y in s.ys]
            plt.yticks(*axis_ticks(min(ys), max(ys), max(3, self.size.height // 4)))
        return super(TitledPlot, self).render()

    def _set_collapsed(self, collapsed: bool) -> None:
        self.set_class(collapsed, "-constant")
        if collapsed:
            self._restore_height, self.styles.height = self.styles.height, 1
        elif self._restore_height is not None:
            self.styles.height = self._restore_height
            self._restore_height = None
