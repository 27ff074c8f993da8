"""Ordinary least squares over a study's trials (statsmodels), with the numbers a report needs."""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.studies.results import StudyTable, trained_rows

# Names a formula may use that are not columns (patsy's functions and numpy).
_FUNCTIONS = {"C", "I", "Q", "np", "log", "exp", "sqrt", "center", "standardize", "scale", "bs", "cr", "cc", "te",
              "Treatment", "Sum", "Poly", "Diff", "Helmert"}


@dataclass
class Fit:
    """An OLS fit: coefficients with standard errors, t, p and 95% intervals, R^2, F; `text` as statsmodels prints."""

    formula: str
    n: int
    names: list[str]
    coef: list[float]
    se: list[float]
    t: list[float]
    p: list[float]
    low: list[float]
    high: list[float]
    r2: float
    r2_adj: float
    f: float
    f_p: float
    text: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able fit."""
        return {"formula": self.formula, "n": self.n, "r2": self.r2, "r2_adj": self.r2_adj, "f": self.f,
                "f_p": self.f_p, "terms": [{"name": n, "coef": c, "se": s, "t": t, "p": p, "low": lo, "high": hi}
                                           for n, c, s, t, p, lo, hi in zip(self.names, self.coef, self.se, self.t,
                                                                            self.p, self.low, self.high)]}

    def coefficient(self, name: str) -> float:
        """One coefficient by term name."""
        return self.coef[self.names.index(name)]


def _frame(table: StudyTable, include_untrained: bool = False):
    import pandas as pd  # lazy: pandas (~0.3 s) is loaded only when used

    rows = [{k: v for k, v in r.items() if not isinstance(v, (list, dict))}
            for r in trained_rows(table, include_untrained)]
    return pd.DataFrame(rows)


def check_formula(formula: str, columns: list[str]) -> tuple[str, list[str]]:
    """(response, names) of 'y ~ a + b'; ConfigError for a malformed formula or a column that does not exist."""
    if formula.count("~") != 1:
        raise ConfigError(f"formula {formula!r} must read 'response ~ term + term', e.g. 'test_top1 ~ classes + rows'")
    names = [n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", formula) if n not in _FUNCTIONS]
    for n in names:
        if n not in columns:
            raise ConfigError(f"formula {formula!r} names column {n!r}, which this study does not have"
                              f"{suggest(n, columns)}; columns: {', '.join(columns)}")
    return formula.split("~")[0].strip(), names


def fit(table: StudyTable, formula: str, include_untrained: bool = False) -> Fit:
    """OLS of `formula` over the study's finished trials (those flagged "not trained" left out by default)."""
    import statsmodels.formula.api as smf  # lazy: pandas (~0.3 s) is loaded only when used

    df = _frame(table, include_untrained)
    columns = [c for c in df.columns if c not in ("status", "error", "not_trained")] if len(df) else []
    if not len(df):
        raise ConfigError("the study has no finished trained trials to fit yet; see 'qd study show'")
    _, names = check_formula(formula, columns)
    df = df.dropna(subset=list(dict.fromkeys(names)))
    if len(df) < 2:
        raise ConfigError(f"only {len(df)} finished trial(s) have every column of {formula!r}; a fit needs more")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-sample kurtosis warnings: the table says n
        try:
            res = smf.ols(formula, data=df).fit()
        except Exception as e:  # noqa: BLE001 - patsy errors are user input errors
            raise ConfigError(f"cannot fit {formula!r}: {str(e).splitlines()[0]}") from None
        text = _timeless(str(res.summary()))
    ci = res.conf_int(0.05)
    names_out = [str(n) for n in res.params.index]
    return Fit(formula, int(res.nobs), names_out, _floats(res.params), _floats(res.bse), _floats(res.tvalues),
               _floats(res.pvalues), _floats(ci[0]), _floats(ci[1]), float(res.rsquared), float(res.rsquared_adj),
               _num(res.fvalue), _num(res.f_pvalue), text)


def _timeless(text: str) -> str:
    """statsmodels' table without its Date and Time fields (the fit, not the clock, is the result)."""
    return re.sub(r"(?:Date|Time):\s+\S+(?: \S+)*", lambda m: " " * len(m.group(0)), text)


def _floats(series) -> list[float]:
    return [_num(v) for v in series]


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan
