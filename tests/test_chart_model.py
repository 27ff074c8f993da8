"""The chart view model: smoothing, constants, axes and shared ranges, without Textual."""

from __future__ import annotations

import pytest

from qdtui.chart_model import XMap, ema, is_constant, prepare, shared_range


def test_ema_matches_the_recurrence_and_zero_is_off():
    ys = [4.0, 2.0, 3.0, 1.0]
    out, last = [], ys[0]
    for y in ys:
        last = 0.5 * last + 0.5 * y
        out.append(last)
    assert ema(ys, 0.5) == out and ema(ys, 0.0) == ys


def test_constant_series_become_text_and_other_series_stay_plots():
    assert is_constant([1e-3] * 5) and not is_constant([1e-3, 1.1e-3]) and not is_constant([1.0])
    view = prepare("learning rate", [("lr", [1, 2, 3], [1e-3] * 3, "green")])
    assert view.collapsed and view.headline() == "learning rate: 0.001 (constant)"
    view = prepare("loss", [("train", [1, 2], [2.0, 1.0], "cyan"), ("lr", [1, 2], [0.1, 0.1], "green")])
    assert not view.collapsed and [s.name for s in view.series] == ["train"]
    assert "lr 0.1 (constant)" in view.headline()


def test_train_and_val_differ_by_marker_and_hidden_series_are_left_out():
    series = [("step", [1, 2, 3], [3.0, 2.0, 1.5], "gray"), ("train", [3], [2.0], "cyan"),
              ("val", [3], [2.2], "orange")]
    view = prepare("loss", series)
    assert len({s.marker for s in view.series}) == 3
    assert view.headline().startswith("loss") and "▬ train" in view.headline() and "• val" in view.headline()
    assert [s.name for s in prepare("loss", series, hidden=frozenset({"step"})).series] == ["train", "val"]


def test_axes_map_steps_to_epochs_and_seconds():
    xmap = XMap(10, {1: 4.0, 2: 6.0})
    assert xmap.available() == ("step", "epoch", "time")
    assert xmap("epoch", 15) == 1.5 and xmap("time", 15) == pytest.approx(4.0 + 0.5 * 6.0)
    assert xmap("time", 25) == pytest.approx(10.0 + 0.5 * 5.0)  # the epoch in progress at the mean pace
    assert XMap(None).available() == ("step",) and XMap(10).available() == ("step", "epoch")
    view = prepare("loss", [("train", [10, 20], [2.0, 1.0], "cyan")], axis="epoch", xmap=xmap)
    assert view.xlabel == "epoch" and view.series[0].xs == [1.0, 2.0]


def test_panels_share_one_x_range_and_ticks_lie_inside_it():
    assert shared_range([(1.0, 30.0), (10.0, 30.0), None]) == (1.0, 30.0) and shared_range([None]) is None
    view = prepare("top-1", [("val", [10, 20, 30], [0.2, 0.4, 0.5], "orange")], x_range=(1.0, 30.0))
    ticks, labels = view.x_ticks
    assert view.x_range == (1.0, 30.0) and all(1 <= t <= 30 for t in ticks) and labels == [f"{t:g}" for t in ticks]


def test_smoothing_and_log_scale_are_named_in_the_title():
    series = [("step", list(range(1, 30)), [1.0 / k for k in range(1, 30)], "gray")]
    view = prepare("loss", series, smooth=0.6, log_y=True)
    assert view.headline().startswith("loss · EMA 0.6 · log")
    assert view.series[0].ys != series[0][2] and all(y > 0 for y in view.series[0].ys)
