"""Named line series (train/val loss, top-1, lr) on a plotext plot; appending a point is O(1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qdtui.widgets.plot import TitledPlot

# plotext colour names that read on dark and light backgrounds
COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "gray")


@dataclass
class Series:
    """One curve: x and y values and how to draw it."""

    name: str
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    color: str = ""
    marker: str = "braille"


def thin(xs: list[float], ys: list[float], limit: int) -> tuple[list[float], list[float]]:
    """At most `limit` points, evenly strided, always keeping the last one."""
    n = len(xs)
    if n <= limit or limit < 2:
        return xs, ys
    step = (n - 1) / (limit - 1)
    idx = sorted({int(round(i * step)) for i in range(limit)})
    return [xs[i] for i in idx], [ys[i] for i in idx]


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
    """A plot of named series; `append()` only records the point, the plot is rebuilt once per frame."""

    DEFAULT_CSS = """
    Curves { height: 1fr; min-height: 6; }
    """

    def __init__(self, title: str = "", *, xlabel: str = "", ylog: bool = False,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(title, name=name, id=id, classes=classes)
        self.xlabel = xlabel
        self.ylog = ylog
        self._series: dict[str, Series] = {}
        self._builds = 0

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

    def render(self):
        """Rebuild the plotext figure from the stored series, thinned to the plot width."""
        plt = self.fresh_figure()
        if self.xlabel:
            plt.xlabel(self.xlabel)
        limit = max(8, 2 * self.size.width)
        drawn = 0
        all_x: list[float] = []
        for s in self._series.values():
            if not s.xs:
                continue
            xs, ys = thin(s.xs, s.ys, limit)
            plt.plot(xs, ys, label=s.name, color=s.color, marker=s.marker)
            all_x += (xs[0], xs[-1])
            drawn += 1
        if all_x and all(float(x).is_integer() for s in self._series.values() for x in s.xs[-1:] + s.xs[:1]):
            plt.xticks(int_ticks(min(all_x), max(all_x)))
        if self.ylog and drawn:
            plt.yscale("log")
        self._builds += 1
        return super().render()
