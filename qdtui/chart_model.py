"""What a chart shows, worked out without Textual: ticks, ranges shared across panels, smoothing,
constant series, markers that tell series apart without colour. The plot widgets only draw it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def nice_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Evenly spaced round ticks (1, 2, 2.5 or 5 x 10^k apart) inside lo..hi: the most of them, up to `most`."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    most = max(2, most)
    mag = 10 ** math.floor(math.log10((hi - lo) / most))
    for step in (m * mag * 10 ** k for k in range(4) for m in (1, 2, 2.5, 5)):
        first = math.ceil(lo / step - 1e-9)
        last = math.floor(hi / step + 1e-9)
        if last - first + 1 <= most:
            return [round(i * step, 12) for i in range(first, last + 1)]
    return [lo, hi]


def tick_label(value: float, step: float) -> str:
    """A tick's text with as many decimals as the step needs (step 2.5 -> '2.5', 25 -> '25', 0.25 -> '0.25')."""
    decimals = next((d for d in range(7) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-6 * max(1.0, step * 10 ** d)), 6)
    return f"{value:.{decimals}f}"


def axis_ticks(lo: float, hi: float, most: int) -> tuple[list[float], list[str]]:
    """Ticks and their labels for an axis spanning lo..hi."""
    ticks = nice_ticks(lo, hi, most)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return ticks, [tick_label(t, step) for t in ticks]


# --- series -----------------------------------------------------------------------------------------

# How each role is drawn: train and val differ by marker, not only by colour (plotext markers:
# 'braille' is a fine dotted line, 'hd' a solid half-block line, any other string a glyph per point).
ROLE_MARKERS = {"step": "braille", "train": "hd", "val": "•", "lr": "braille"}
OTHER_MARKERS = ("hd", "•", "braille", "x", "+", "o", "*")
MARKER_GLYPHS = {"braille": "⠒", "hd": "▬", "dot": "•"}
X_AXES = ("step", "epoch", "time")
X_LABELS = {"step": "step", "epoch": "epoch", "time": "wall time (s)"}
SMOOTHING = (0.0, 0.6, 0.9)  # EMA weights of the smoothing key's settings (0: off)


@dataclass
class SeriesView:
    """One series ready to draw: x in the chosen axis, y smoothed, and how it looks."""

    name: str
    xs: list[float]
    ys: list[float]
    marker: str
    color: str

    @property
    def glyph(self) -> str:
        """The character the legend shows for the marker."""
        return MARKER_GLYPHS.get(self.marker, self.marker[:1])


@dataclass
class ChartView:
    """A panel's content: the series to draw, the axes, the legend line and the constants set aside."""

    title: str
    series: list[SeriesView] = field(default_factory=list)
    constants: list[tuple[str, float]] = field(default_factory=list)  # (name, value) of constant series
    x_range: tuple[float, float] | None = None
    x_ticks: tuple[list[float], list[str]] = ([], [])
    xlabel: str = ""
    log_y: bool = False
    smooth: float = 0.0

    @property
    def collapsed(self) -> bool:
        """Every series is constant: the panel is a line of text, not a plot."""
        return not self.series and bool(self.constants)

    def legend(self) -> str:
        """'▬ train  • val' plus 'lr 0.001 (constant)' for series set aside."""
        parts = [f"{s.glyph} {s.name}" for s in self.series]
        parts += [f"{name} {format_value(value)} (constant)" for name, value in self.constants]
        return "  ".join(parts)

    def headline(self, width: int | None = None, legend: bool = True) -> str:
        """The title with the legend beside it (unless the screen shows one): outside the data, above the plot.
        Within `width` the title always shows (plotext drops a title wider than the plot); the legend is cut
        with '…' or left out."""
        legend = self.legend() if legend and len(self.series) + len(self.constants) > 1 else ""
        if self.collapsed and len(self.constants) == 1:
            return f"{self.title}: {format_value(self.constants[0][1])} (constant)"
        if self.collapsed:
            return f"{self.title}: {legend}"
        title = self.title + "".join(f" · {o}" for o, on in ((f"EMA {self.smooth:g}", self.smooth), ("log", self.log_y))
                                     if on)
        full = f"{title}   {legend}" if legend else title
        if width is None or len(full) <= width:
            return full
        if len(title) > width:
            return title[:max(1, width - 1)] + "…"
        out = title + "  "  # whole legend entries while they fit, then '…'
        for item in legend.split("  "):
            if len(out) + 1 + len(item) + 2 > width:
                return out + " …"
            out += " " + item + " "
        return out.rstrip()


def format_value(v: float) -> str:
    """A short number: 0.001, 2.5e-05, 12.3."""
    return f"{v:.4g}"


def ema(ys: list[float], weight: float) -> list[float]:
    """Exponential moving average (TensorBoard's smoothing): weight 0 returns ys."""
    if weight <= 0 or len(ys) < 3:
        return list(ys)
    out, last = [], ys[0]
    for y in ys:
        last = weight * last + (1 - weight) * y
        out.append(last)
    return out


def is_constant(ys: list[float], rel: float = 1e-9) -> bool:
    """All values equal (up to rounding), with at least two of them."""
    if len(ys) < 2:
        return False
    lo, hi = min(ys), max(ys)
    return hi - lo <= rel * max(abs(lo), abs(hi), 1e-300)


class XMap:
    """Steps to the chosen x axis: steps, epochs (fractional) or training seconds."""

    def __init__(self, steps_per_epoch: int | None = None, epoch_seconds: dict[int, float] | None = None) -> None:
        self.spe = steps_per_epoch
        self.epoch_seconds = dict(epoch_seconds or {})

    def available(self) -> tuple[str, ...]:
        """The axes this run's facts allow (epochs need steps per epoch, time needs epoch durations too)."""
        if not self.spe:
            return ("step",)
        return X_AXES if self.epoch_seconds else ("step", "epoch")

    def __call__(self, axis: str, step: float) -> float:
        if axis == "step" or not self.spe:
            return step
        epoch_f = step / self.spe
        if axis == "epoch":
            return epoch_f
        # time: whole epochs' seconds, then the share of the epoch in progress at the last known pace
        whole = int(epoch_f)
        done = sum(self.epoch_seconds.get(e, 0.0) for e in range(1, whole + 1))
        pace = self.epoch_seconds.get(whole + 1) or (done / whole if whole else 0.0)
        return done + (epoch_f - whole) * pace


def prepare(title: str, series: list[tuple[str, list[float], list[float], str]], *, hidden: frozenset[str] = frozenset(),
            axis: str = "step", xmap: XMap | None = None, smooth: float = 0.0, log_y: bool = False,
            x_range: tuple[float, float] | None = None, x_ticks: int = 6, limit: int = 400) -> ChartView:
    """A panel's ChartView from (name, xs, ys, color) series whose xs are steps (or epochs for epoch-only
    charts, with xmap None): hidden series left out, constants set aside, x mapped, y smoothed and
    thinned to `limit` points, the x range shared when given."""
    xmap = xmap or XMap()
    view = ChartView(title, xlabel=X_LABELS.get(axis, axis), log_y=log_y, smooth=smooth)
    k_other = 0
    for name, xs, ys, color in series:
        if not xs or name in hidden:
            continue
        if is_constant(ys):
            view.constants.append((name, ys[-1]))
            continue
        role = name if name in ROLE_MARKERS else None
        marker = ROLE_MARKERS[role] if role else OTHER_MARKERS[k_other % len(OTHER_MARKERS)]
        k_other += role is None
        mx = [xmap(axis, x) for x in xs]
        my = ema(ys, smooth) if name == "step" or len(ys) > 20 else list(ys)
        if log_y:
            keep = [i for i, y in enumerate(my) if y > 0]
            mx, my = [mx[i] for i in keep], [my[i] for i in keep]
        mx, my = thin(mx, my, limit)
        if mx:
            view.series.append(SeriesView(name, mx, my, marker, color))
    if x_range is None and view.series:
        x_range = (min(s.xs[0] for s in view.series), max(s.xs[-1] for s in view.series))
    if x_range is not None:
        lo, hi = x_range
        view.x_range = (lo, hi if hi > lo else lo + 1)
        ticks = nice_ticks(*view.x_range, x_ticks)
        if axis == "step":
            ticks = [t for t in ticks if float(t).is_integer()] or ticks
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        view.x_ticks = (ticks, [tick_label(t, step) for t in ticks])
    return view


def shared_range(ranges: list[tuple[float, float] | None]) -> tuple[float, float] | None:
    """The x range covering every panel's (None where no panel has data)."""
    got = [r for r in ranges if r is not None]
    if not got:
        return None
    return min(r[0] for r in got), max(r[1] for r in got)


def thin(xs: list[float], ys: list[float], limit: int) -> tuple[list[float], list[float]]:
    """At most `limit` points, evenly strided, always keeping the last one."""
    n = len(xs)
    if n <= limit or limit < 2:
        return xs, ys
    step = (n - 1) / (limit - 1)
    idx = sorted({int(round(i * step)) for i in range(limit)})
    return [xs[i] for i in idx], [ys[i] for i in idx]
