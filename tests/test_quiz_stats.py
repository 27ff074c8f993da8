"""Wilson intervals, McNemar's test and a mean's interval against hand-worked and scipy values."""

import math

import numpy as np
import pytest

from qdcore.stats import mcnemar, mean_interval, wilson_interval


def test_wilson_hand_worked():
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4)
    assert hi == pytest.approx(0.9433, abs=1e-4)


def test_wilson_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and 0.15 < hi < 0.17
    lo, hi = wilson_interval(20, 20)
    assert hi == 1.0 and 0.83 < lo < 0.85
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_wilson_matches_statsmodels_formula_via_scipy():
    stats = pytest.importorskip("scipy.stats")
    for k, n in [(3, 7), (45, 60), (123, 400)]:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        lo, hi = wilson_interval(k, n)
        assert lo == pytest.approx(ci.low, abs=1e-6) and hi == pytest.approx(ci.high, abs=1e-6)


def test_mcnemar_exact_hand_worked():
    r = mcnemar(1, 5)
    assert r.exact and r.p_value == pytest.approx(2 * (1 + 6) / 64)


def test_mcnemar_chi2_hand_worked():
    r = mcnemar(10, 30)
    assert not r.exact
    assert r.statistic == pytest.approx(19 ** 2 / 40)
    assert r.p_value == pytest.approx(math.erfc(math.sqrt(9.025 / 2)))
    stats = pytest.importorskip("scipy.stats")
    assert r.p_value == pytest.approx(stats.chi2.sf(9.025, 1))


def test_mcnemar_exact_matches_binomtest_and_symmetric():
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(0, 7), (3, 9), (12, 4)]:
        assert mcnemar(b, c).p_value == pytest.approx(stats.binomtest(min(b, c), b + c, 0.5).pvalue)
        assert mcnemar(b, c).p_value == pytest.approx(mcnemar(c, b).p_value)
    assert mcnemar(0, 0).p_value == 1.0


def test_mean_interval_is_the_mean_plus_minus_two_standard_errors():
    v = np.array([0, 0, 1, 3, 1, 0, 2, 1])  # per-drawing counts, as speckle's
    m, lo, hi = mean_interval(v)
    se = math.sqrt(sum((x - 1.0) ** 2 for x in v) / 7 / 8)  # sample standard deviation over sqrt(n), by hand
    assert m == 1.0 and lo == pytest.approx(1.0 - 1.959964 * se) and hi == pytest.approx(1.0 + 1.959964 * se)
    assert mean_interval(np.array([4]))[0] == 4.0 and math.isnan(mean_interval(np.array([4]))[1])
