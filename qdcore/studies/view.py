"""What the front ends show of a study: plot series, a plotext text plot, and the paper's figures beside ours."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from qdcore.fmt import SERIES_COLORS
from qdcore.studies.results import StudyTable, aggregate

DEFAULT_METRICS = ("test_top1", "val_top1", "test_loss", "val_loss")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # plotext colours even with the clear theme


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def table_columns(table: StudyTable, wide: bool = False, prefer: list[str] | None = None) -> list[str]:
    """The trial table's columns: trial, axes, status, run, then the study's main metrics (`prefer`: a named
    study's own choice; all with wide)."""
    flag = ["not_trained"] if any(r.get("not_trained") for r in table.rows) else []  # "not trained: why"
    if prefer and not wide:
        return ["trial", *table.axes, "status", *flag, "run", *[m for m in prefer if m in table.metrics], "seconds"]
    main = default_metric(table)
    loss = main.replace("top1", "loss")
    best = "best_" + main if not main.startswith("test") else None  # test metrics are measured once, at the end
    picks = [main, loss, best, best and "best_" + loss, "best_epoch_loss", "best_epoch_top1", "top1_majority",
             "top1_minority", *(m for m in table.metrics if m.startswith("test_top1[")), "seconds"]
    metrics = table.metrics if wide else [m for m in dict.fromkeys(picks) if m in table.metrics]
    return ["trial", *table.axes, "status", *flag, "run", *metrics]


def default_metric(table: StudyTable) -> str:
    """The metric a study is judged by: test accuracy where trials have it, else validation accuracy."""
    for m in DEFAULT_METRICS:
        if any(_finite(r.get(m)) for r in table.rows):
            return m
    # No trial has finished yet: still the metric the study is judged by (its plot waits), never "seconds".
    return next((m for m in DEFAULT_METRICS if m in table.metrics), DEFAULT_METRICS[0])


def plot_axes(table: StudyTable) -> list[str]:
    """Axes a plot can use as x or as series (the seed axis is aggregated over)."""
    return [a for a in table.axes if a != "seed"]


def series(table: StudyTable, metric: str, x: str | None, by: str | None
           ) -> dict[str, tuple[list[Any], list[float], list[float]]]:
    """label -> (x values, means, 95% half-widths) of `metric` over seeds; x is the trial order without an axis."""
    keys = [a for a in plot_axes(table) if a not in (x, by)]
    out: dict[str, tuple[list[Any], list[float], list[float]]] = {}
    for agg in aggregate(table, [metric]):
        if f"{metric}_mean" not in agg:
            continue
        label = f"{by}={agg[by]}" if by else (", ".join(f"{k}={agg[k]}" for k in keys) if x is None else metric)
        if x is not None and keys:
            label = (label + " " if by else "") + ", ".join(f"{k}={agg[k]}" for k in keys)
        xs, ys, es = out.setdefault(label, ([], [], []))
        xs.append(agg[x] if x is not None else len(xs) + 1)
        ys.append(agg[f"{metric}_mean"])
        half = agg[f"{metric}_hi"] - agg[f"{metric}_mean"]
        es.append(0.0 if math.isnan(half) else half)
    for label, (xs, ys, es) in out.items():
        if xs and all(isinstance(v, (int, float)) for v in xs):
            order = sorted(range(len(xs)), key=lambda i: xs[i])
            out[label] = ([xs[i] for i in order], [ys[i] for i in order], [es[i] for i in order])
    return out


@dataclass
class XAxis:
    """Where a plot puts x values: log10 positions where they span a decade or more, ticks at the data's values."""

    name: str
    values: list[Any]  # the distinct x values in order
    log: bool = False
    numeric: bool = True

    def pos(self, v: Any) -> float:
        """The plotted position of an x value."""
        if not self.numeric:
            return float(self.values.index(v) + 1)
        return math.log10(v) if self.log else float(v)

    def ticks(self, most: int = 8) -> tuple[list[float], list[str]]:
        """Positions and labels of up to `most` ticks, each at a value the trials have (never 137.5 drawings)."""
        step = max(1, -(-len(self.values) // most))
        shown = self.values[::step]
        return [self.pos(v) for v in shown], [_tick(v) for v in shown]

    @property
    def label(self) -> str:
        return f"{self.name} (log scale)" if self.log else self.name


def _tick(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return f"{v:g}"[:10] if isinstance(v, float) else str(v)[:10]


def x_axis(data: dict[str, tuple[list[Any], list[float], list[float]]], x: str | None) -> XAxis:
    """The x axis of `series` output: numeric, log where all values are positive and max/min >= 8."""
    values = list(dict.fromkeys(v for xs, _, _ in data.values() for v in xs))
    numeric = all(_finite(v) for v in values)
    if numeric:
        values.sort()
    log = numeric and len(values) > 2 and values[0] > 0 and values[-1] / values[0] >= 8
    return XAxis(x or "trial", values, log, numeric)



def bounds(metric: str) -> tuple[float, float]:
    """The values a metric can take: shares (top-1, judged) 0..1, losses, distances and times >= 0."""
    if any(k in metric for k in ("top1", "top5", "recognised", "share")):
        return 0.0, 1.0
    if any(k in metric for k in ("loss", "seconds", "fid", "epoch")):
        return 0.0, math.inf
    return -math.inf, math.inf


def interval(metric: str, mean: float, half: float) -> tuple[float, float]:
    """mean ± half clipped to the metric's range (a t interval of two seeds can reach past 100%)."""
    lo, hi = bounds(metric)
    return max(lo, mean - half), min(hi, mean + half)


def draw_plot(plt, table: StudyTable, metric: str, x: str | None, by: str | None, label_width: int = 30) -> None:
    """Draw `metric` vs `x` on a plotext figure: one line of means per value of `by` with its 95% intervals over
    seeds (clipped to the metric's range), a title, axis labels and ticks at the trials' x values (log where
    they span a decade)."""
    data = series(table, metric, x, by)
    axis = x_axis(data, x)
    for i, (label, (xs, ys, es)) in enumerate(data.items()):
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        pos = [axis.pos(v) for v in xs]
        for x0, y, e in zip(pos, ys, es):  # intervals first: the line of means is drawn over them
            if e > 0:
                plt.plot([x0, x0], list(interval(metric, y, e)), marker="│", color=color)
        plt.plot(pos, ys, label=label[:label_width], marker="braille", color=color)  # 4 dots a row: finer
    if axis.values:
        plt.xticks(*axis.ticks())
    plt.title(f"{metric} vs {x or 'trial'}" + (f" by {by}" if by else "") + " (mean, 95% interval over seeds)")
    plt.xlabel(axis.label)
    plt.ylabel(metric)


def text_plot(table: StudyTable, metric: str, x: str | None = None, by: str | None = None,
              width: int = 78, height: int = 18) -> str:
    """`metric` vs `x`, one series per value of `by`, error bars = 95% interval over seeds (plotext text)."""
    import plotext as plt  # lazy: plotext is loaded only when used

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    draw_plot(plt, table, metric, x, by)
    return _ANSI.sub("", plt.build())


def paper_rows(table: StudyTable, paper: dict[str, Any]) -> tuple[list[str], list[list[Any]], bool]:
    """The paper's table, each number beside ours as 'paper · qd' where a trial matches its row (same key
    value); the flag says whether any row matched (otherwise the cells hold the paper's numbers alone)."""
    cols = paper.get("columns")
    if not cols:
        return [], [], False
    key = cols[0]
    ours_for = {"train_top1 first": "first_train_top1", "train_top1 last": "train_top1",
                "val_top1 first": "first_val_top1", "val_top1 last": "val_top1",
                "train_loss first": "first_train_loss", "train_loss last": "train_loss",
                "val_loss first": "first_val_loss", "val_loss last": "val_loss",
                "train %": "train_top1", "test %": "test_top1", "test_top1": "test_top1"}
    aggs = aggregate(table)
    matched = False
    rows = []
    for prow in paper.get("rows", []):
        match = [a for a in aggs if _same(a.get(key), prow[0])]
        matched = matched or bool(match)
        out: list[Any] = [prow[0]]
        for c, pv in zip(cols[1:], prow[1:]):
            m = ours_for.get(c) or paper.get("classes", {}).get(c)  # "hammer %": the minority's accuracy
            ours = match[0].get(f"{m}_mean") if (match and m) else None
            if ours is not None and c.endswith("%"):
                ours = 100 * ours
            out.append(pv if not match else f"{pv:g} · {'—' if ours is None else f'{ours:.3g}'}")
        rows.append(out)
    return list(cols), rows, matched


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return str(a) == str(b)
