"""Study plots' axes: log x where the values span a decade, ticks at the trials' own values, the judged metric by default."""

from __future__ import annotations

import math

from qdcore.studies.results import StudyTable
from qdcore.studies.view import default_metric, text_plot, x_axis


def _table(per_class: list[int], top1: list[float | None]) -> StudyTable:
    rows = [{"trial": i + 1, "per_class": n, "seed": 0, "status": "done" if t is not None else "running",
             "test_top1": t, "seconds": 1.0 + i} for i, (n, t) in enumerate(zip(per_class, top1))]
    return StudyTable(["per_class", "seed"], ["test_top1", "seconds"], rows)


def test_data_size_gets_a_log_axis_with_ticks_at_the_trials_values():
    axis = x_axis({"a": ([25, 50, 100, 200, 400], [0.1] * 5, [0.0] * 5)}, "per_class")
    assert axis.log and axis.label == "per_class (log scale)"
    pos, labels = axis.ticks()
    assert labels == ["25", "50", "100", "200", "400"]
    assert math.isclose(pos[1] - pos[0], pos[4] - pos[3])  # doublings evenly spaced
    plot = text_plot(_table([25, 50, 100, 200, 400], [0.3, 0.4, 0.5, 0.6, 0.7]), "test_top1", "per_class", None)
    assert "137.5" not in plot and "(log scale)" in plot and " 400" in plot


def test_a_narrow_range_stays_linear_and_words_keep_their_order():
    assert not x_axis({"a": ([3, 4, 5], [0.1] * 3, [0.0] * 3)}, "categories").log
    words = x_axis({"a": (["adam", "sgd"], [0.1, 0.2], [0.0] * 2), "b": (["sgd"], [0.3], [0.0])}, "optimizer")
    assert not words.numeric and [words.pos(v) for v in ("adam", "sgd")] == [1.0, 2.0]
    many = x_axis({"a": (list(range(1, 21)), [0.1] * 20, [0.0] * 20)}, "width")
    assert len(many.ticks(most=8)[0]) <= 8


def test_a_running_study_plots_its_accuracy_not_seconds():
    assert default_metric(_table([25, 50], [None, None])) == "test_top1"
    assert default_metric(_table([25, 50], [0.4, None])) == "test_top1"


def test_a_panel_title_always_shows_and_its_legend_keeps_whole_entries():
    from qdtui.chart_model import ChartView, SeriesView

    view = ChartView("loss · EMA 0.6", [SeriesView(n, [1.0], [1.0], m, "cyan")
                                        for n, m in (("step", "braille"), ("train", "hd"), ("val", "•"))])
    assert view.headline() == view.headline(80) == "loss · EMA 0.6   ⠒ step  ▬ train  • val"
    assert view.headline(34) == "loss · EMA 0.6   ⠒ step  ▬ train  …"   # plotext drops a wider title
    assert view.headline(20) == "loss · EMA 0.6   …"
    assert view.headline(80, legend=False) == "loss · EMA 0.6"          # the overlay lists its runs below
