"""The one percent format of the CLI and the TUI (qdcore.fmt)."""

from __future__ import annotations

import math

from qdcore.fmt import DASH, interval, percent, percent_ci, size


def test_percent_interval_and_dashes() -> None:
    assert percent(0.9125) == "91.2%" and percent(0.9125, 2) == "91.25%" and percent(1) == "100.0%"
    assert percent(0.5, 0) == "50%"
    for missing in (None, math.nan, True, "0.5"):
        assert percent(missing) == DASH
    assert interval(0.531, 0.888) == "53.1–88.8%" and interval(None, 0.5) == DASH
    assert percent_ci(0.7, 0.6, 0.8) == "70.0% (60.0–80.0%)" and percent_ci(0.7, None, None) == "70.0%"


def test_sizes_count_in_powers_of_1024_as_device_memory_does() -> None:
    assert size(812) == "812 B" and size(1024) == "1.0 KB" and size(95.4 * 2**20) == "95.4 MB"
    assert size(37.2 * 2**30) == "37.2 GB" and size(5000 * 2**30) == "5,000.0 GB"
    assert size(None) == "-" and size(math.nan) == "-"


def test_one_plural_formatter() -> None:
    from qdcore.fmt import plural

    assert plural(1, "epoch") == "1 epoch" and plural(5, "epoch") == "5 epochs" and plural(0, "run") == "0 runs"
    assert plural(1200, "drawing") == "1,200 drawings" and plural(1, "category") == "1 category"
    assert plural(2, "category") == "2 categories" and plural(3, "boosting round") == "3 boosting rounds"
    assert plural(2, "L-BFGS chunk", "L-BFGS chunks") == "2 L-BFGS chunks"
