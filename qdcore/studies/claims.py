"""A study's claims: the paper's findings as checkable statements, each judged over seeds with a 95% interval.

How to declare a claim (a named study's `claims=[...]`, or a spec file's `[[paper.claims]]` tables with the
same keys as `Claim`):

    trend("top1_minority", "imbalance", "+", "minority recall rises with the ratio", log=True,
          paper=0.086, paper_text="43% at 1:500 to 98% at 1:1")
    differs("test_top1", {"variant": "batch norm"}, {"variant": "baseline"}, "+", "batch norm beats the baseline")
    coef("test_top1 ~ classes + rows", "classes", "-", "accuracy falls with each extra category", paper=-0.0188)
    differs("test_top1", {"variant": "gan 50%"}, {"variant": "real"}, "~", "50% GAN data scores within 0.05",
            margin=0.05)

Each claim reduces every seed's trials to one number (a slope, a difference, a coefficient, a level; a hump: two
contrasts at a peak other seeds chose, see qdcore.studies.hump), then takes the 95% t interval of that number
over seeds. `expect` says what the paper found: "+" (above 0), "-" (below 0) or "~" (within `margin` of `target`). The verdict is "agrees" when the whole interval says what
the paper says, "disagrees" when the whole interval says the opposite, "inconclusive" otherwise (the interval
straddles the line, or there are fewer than two seeds to make an interval from). Trials flagged "not trained"
(qdcore.studies.degenerate) are left out unless asked. Front ends only present `Verdict`s.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError
from qdcore.studies.fit import check_formula, fit
from qdcore.studies.hump import hump_interval
from qdcore.studies.results import StudyTable, t_interval, trained_rows, untrained_count

KINDS = ("trend", "diff", "coef", "level", "hump")
EXPECT = ("+", "-", "~")
VERDICTS = ("agrees", "disagrees", "inconclusive")
VERDICT_STYLES = {"agrees": "green", "disagrees": "bold red", "inconclusive": "yellow"}  # Rich styles, front ends


@dataclass(frozen=True)
class Claim:
    """One finding of a paper: which number each seed gives (kind, metric, axis, selections) and what the paper
    says about it (expect, paper, paper_text)."""

    kind: str  # trend: slope of metric on axis | diff: where minus versus | coef: OLS term | level | hump
    metric: str  # a column of the study's table
    text: str  # the finding in words, as the table prints it
    expect: str = "+"  # "+", "-" or "~" (within margin of target)
    axis: str | None = None  # trend, hump: the x axis
    log: bool = False  # trend: slope on log(axis)
    where: dict[str, Any] = field(default_factory=dict)  # trials the number is taken over ("min"/"max": an end)
    versus: dict[str, Any] | None = None  # diff: the trials subtracted (same metric)
    minus: str | None = None  # the number is metric minus this column (a gap, e.g. train_top1 - val_top1)
    formula: str | None = None  # coef: the OLS formula fitted per seed
    term: str | None = None  # coef: the term whose coefficient is the number
    margin: float = 0.0  # "~": how close to target counts as agreeing
    target: float = 0.0  # "~": the value the interval must lie near
    paper: float | None = None  # the paper's value of the same number, where it gives one
    paper_text: str = ""  # the paper's finding as it reports it ("43% at 1:500", "better")
    # Why a --quick run cannot judge this claim (its protocol cannot show the effect): there the verdict is
    # "inconclusive" with this reason, qd's estimate still shown.
    quick_cannot: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (stored in the study's spec)."""
        defaults = Claim("", "", "")
        return {k: v for k, v in asdict(self).items() if k in ("kind", "metric", "text") or v != getattr(defaults, k)}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "claim") -> Claim:
        """Build and check one claim; ConfigError naming `where` and the key otherwise."""
        if not isinstance(d, dict):
            raise ConfigError(f"{where} must be a table of claim keys (kind, metric, text, ...)")
        keys = list(cls.__dataclass_fields__)
        for k in d:
            if k not in keys:
                raise ConfigError(f"{where}: unknown claim key {k!r}{suggest(k, keys)}; a claim holds "
                                  f"{', '.join(keys)}")
        for k in ("kind", "metric", "text"):
            if not isinstance(d.get(k), str) or not d[k]:
                raise ConfigError(f"{where}: a claim needs {k} = \"...\"")
        for k in ("where", "versus"):
            if k in d and not isinstance(d[k], dict) and not (k == "versus" and d[k] is None):
                raise ConfigError(f"{where}: {k} must be a table of axis values, e.g. {{ variant = \"baseline\" }}")
        for k in ("paper_text", "quick_cannot"):
            if k in d and not isinstance(d[k], str):
                raise ConfigError(f"{where}: {k}={d[k]!r} must be a string")
        for k in ("margin", "target", "paper"):
            if d.get(k) is not None and (isinstance(d[k], bool) or not isinstance(d[k], (int, float))):
                raise ConfigError(f"{where}: {k}={d[k]!r} must be a number")
        c = cls(**{k: v for k, v in d.items()})
        if c.kind not in KINDS:
            raise ConfigError(f"{where}: claim kind {c.kind!r} must be one of {', '.join(KINDS)}")
        if c.expect not in EXPECT:
            raise ConfigError(f"{where}: expect {c.expect!r} must be one of {', '.join(EXPECT)}")
        need = {"trend": ("axis",), "hump": ("axis",), "coef": ("formula", "term")}.get(c.kind, ())
        for k in need:
            if not getattr(c, k):
                raise ConfigError(f"{where}: a {c.kind} claim needs {k}")
        if c.kind == "diff" and c.versus is None and not c.minus:
            raise ConfigError(f"{where}: a diff claim needs versus (other trials) or minus (another column)")
        if c.expect == "~" and not c.margin > 0:
            raise ConfigError(f"{where}: expect \"~\" needs margin > 0")
        return c

    @property
    def paper_label(self) -> str:
        """The paper's side of the table: its number (same quantity) and/or its words."""
        num = "" if self.paper is None else f"{self.paper:.4g}"
        return " · ".join(p for p in (num, self.paper_text) if p) or _EXPECT_WORDS[self.expect]


_EXPECT_WORDS = {"+": "> 0", "-": "< 0", "~": "≈"}


def trend(metric: str, axis: str, expect: str, text: str, log: bool = False, **kw: Any) -> Claim:
    """`metric` rises ("+") or falls ("-") along `axis` (per seed: the OLS slope, on log(axis) with `log`)."""
    return Claim("trend", metric, text, expect, axis=axis, log=log, **kw)


def differs(metric: str, where: dict[str, Any], versus: dict[str, Any] | None, expect: str, text: str,
            **kw: Any) -> Claim:
    """`metric` over the `where` trials minus over the `versus` trials (per seed); with versus=None pass
    minus=COLUMN for a difference of two columns on the same trials (with versus too: the gaps compared)."""
    return Claim("diff", metric, text, expect, where=dict(where), versus=None if versus is None else dict(versus),
                 **kw)


def coef(formula: str, term: str, expect: str, text: str, **kw: Any) -> Claim:
    """The OLS coefficient of `term` in `formula`, fitted on each seed's trials."""
    return Claim("coef", formula.split("~")[0].strip(), text, expect, formula=formula, term=term, **kw)


def level(metric: str, where: dict[str, Any], text: str, target: float, margin: float, **kw: Any) -> Claim:
    """`metric` over the `where` trials lies within `margin` of `target` (a number the paper reports)."""
    return Claim("level", metric, text, "~", where=dict(where), target=target, margin=margin, **kw)


def hump(metric: str, axis: str, text: str, **kw: Any) -> Claim:
    """`metric` rises then falls along `axis`: how far the peak stands above the lowest point on each side, each
    seed judged at the peak and troughs other seeds chose (qdcore.studies.hump: no bias from picking maxima)."""
    return Claim("hump", metric, text, "+", axis=axis, **kw)


@dataclass(frozen=True)
class Verdict:
    """A claim judged: qd's estimate, its 95% interval over `n` seeds, the verdict and why."""

    claim: Claim
    estimate: float | None
    low: float | None
    high: float | None
    n: int
    verdict: str  # agrees | disagrees | inconclusive
    why: str  # one line: what decided it
    left_out: int = 0  # trials flagged "not trained" and excluded

    @property
    def interval(self) -> str:
        """'est [lo, hi]' as the tables print it (— where there is none)."""
        if self.estimate is None:
            return "—"
        if self.low is None or self.high is None or math.isnan(self.low):
            return f"{_num(self.estimate)} (n={self.n})"
        return f"{_num(self.estimate)} [{_num(self.low)}, {_num(self.high)}]"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able verdict."""
        return {"claim": self.claim.text, "kind": self.claim.kind, "metric": self.claim.metric,
                "paper": self.claim.paper, "paper_text": self.claim.paper_label, "estimate": self.estimate,
                "low": self.low, "high": self.high, "seeds": self.n, "verdict": self.verdict, "why": self.why,
                "left_out": self.left_out}


def _num(v: float) -> str:
    return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"


def judge_all(claims: list[Claim], table: StudyTable, include_untrained: bool = False) -> list[Verdict]:
    """Every claim judged on the study's table."""
    return [judge(c, table, include_untrained) for c in claims]


def judge(claim: Claim, table: StudyTable, include_untrained: bool = False) -> Verdict:
    """One claim's verdict: its number per seed, the 95% t interval over seeds, and what the interval says."""
    rows = trained_rows(table, include_untrained)
    left_out = 0 if include_untrained or table.include_untrained else untrained_count(table)

    def cannot(why: str) -> Verdict:
        return Verdict(claim, None, None, None, 0, "inconclusive", why, left_out)

    missing = _missing_columns(claim, table) or _not_run(claim, table)
    if missing:
        return cannot(missing)
    if not rows:
        return cannot("no finished trained trials yet" + (f" ({left_out} not trained, left out)" if left_out else ""))
    if claim.kind == "hump":
        return _judge_hump(claim, rows, left_out)
    values = []
    for seed_rows in _by_seed(rows).values():
        v = _per_seed(claim, seed_rows)
        if v is not None and math.isfinite(v):
            values.append(v)
    if not values:
        return cannot("no seed has the trials this claim compares")
    mean, _, lo, hi = t_interval(values)
    if len(values) < 2:
        return Verdict(claim, mean, None, None, 1, "inconclusive",
                       "one seed: an interval needs at least 2 (run with --seeds 3)", left_out)
    verdict, why = decide(claim, lo, hi)
    return Verdict(claim, mean, lo, hi, len(values), verdict, why, left_out)


def _judge_hump(claim: Claim, rows: list[dict[str, Any]], left_out: int) -> Verdict:
    """A hump judged at peaks chosen on other seeds (qdcore.studies.hump), on the x points every seed has."""
    curves = [dict(_curve(_pick(r, claim.where, r), claim.axis or "", claim.metric, claim.minus))
              for r in _by_seed(rows).values()]
    curves = [c for c in curves if c]
    xs = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    got = hump_interval([[c[x] for x in xs] for c in curves])
    if isinstance(got, str):
        return Verdict(claim, None, None, None, len(curves), "inconclusive", got, left_out)
    est, lo, hi, n = got
    verdict, why = decide(claim, lo, hi)
    return Verdict(claim, est, lo, hi, n, verdict, why, left_out)


def decide(claim: Claim, lo: float, hi: float) -> tuple[str, str]:
    """The verdict of a 95% interval [lo, hi] against what the paper says."""
    if claim.expect == "~":
        a, b = claim.target - claim.margin, claim.target + claim.margin
        if a <= lo and hi <= b:
            return "agrees", f"the interval lies within {_num(claim.target)} ± {_num(claim.margin)}"
        if hi < a or lo > b:
            return "disagrees", f"the interval lies outside {_num(claim.target)} ± {_num(claim.margin)}"
        return "inconclusive", f"the interval is too wide to place within {_num(claim.target)} ± {_num(claim.margin)}"
    sign = 1 if claim.expect == "+" else -1
    if sign * lo > 0 and sign * hi > 0:
        return "agrees", f"the whole interval is {'above' if sign > 0 else 'below'} 0, as the paper found"
    if sign * lo < 0 and sign * hi < 0:
        return "disagrees", f"the whole interval is {'below' if sign > 0 else 'above'} 0, against the paper"
    return "inconclusive", "the interval spans 0: too wide to tell the direction"


def _missing_columns(claim: Claim, table: StudyTable) -> str | None:
    """One line naming what the claim asks for that the study does not record, or None."""
    cols = [*table.metrics, *table.axes, "classes", "rows"]
    for m in (claim.metric, claim.minus):
        if m and m not in table.metrics:
            return f"the study does not record metric {m!r}"
    for a in (claim.axis, *claim.where, *(claim.versus or {})):
        if a and a not in table.axes and a not in ("classes", "rows"):
            return f"the study has no axis {a!r} (axes: {', '.join(table.axes) or 'none'})"
    if claim.formula:
        try:
            check_formula(claim.formula, cols)
        except ConfigError as e:
            return str(e).split(";")[0]
    return None


def _not_run(claim: Claim, table: StudyTable) -> str | None:
    """One line naming a selection no trial of the study has (a variant its protocol does not run), or None."""
    for sel in (claim.where, claim.versus or {}):
        fixed = {k: v for k, v in sel.items() if v not in ("min", "max")}
        if fixed and table.rows and not _pick(table.rows, fixed, table.rows):
            return "the study runs no trial with " + ", ".join(f"{k} {v!r}" for k, v in fixed.items())
    return None


def _by_seed(rows: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.get("seed", 0), []).append(r)
    return out


def _pick(rows: list[dict[str, Any]], sel: dict[str, Any], all_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows matching every key of `sel`; a value "min"/"max" is that axis's smallest/largest value."""
    out = rows
    for k, v in sel.items():
        if v in ("min", "max"):
            vals = [x for r in all_rows if isinstance(x := r.get(k), (int, float))]
            if not vals:
                return []
            v = min(vals) if v == "min" else max(vals)
        out = [r for r in out if _same(r.get(k), v)]
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9)
    return str(a) == str(b)


def _value(r: dict[str, Any], m: str) -> float | None:
    v = r.get(m)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        return None
    return float(v)


def _mean(rows: list[dict[str, Any]], m: str, minus: str | None = None) -> float | None:
    vals = []
    for r in rows:
        a, b = _value(r, m), (_value(r, minus) if minus else 0.0)
        if a is not None and b is not None:
            vals.append(a - b)
    return sum(vals) / len(vals) if vals else None


def _per_seed(claim: Claim, rows: list[dict[str, Any]]) -> float | None:
    """The claim's number on one seed's trials (None where that seed lacks the trials it needs)."""
    picked = _pick(rows, claim.where, rows)
    if claim.kind == "diff":
        a = _mean(picked, claim.metric, claim.minus)
        if claim.versus is None:
            return a
        b = _mean(_pick(rows, claim.versus, rows), claim.metric, claim.minus)
        return None if a is None or b is None else a - b
    if claim.kind == "level":
        return _mean(picked, claim.metric, claim.minus)
    if claim.kind == "coef":
        return _coef(claim, picked)
    pts = _curve(picked, claim.axis or "", claim.metric, claim.minus)
    if claim.log:
        pts = [(math.log(x), y) for x, y in pts if x > 0]
    return _slope(pts)


def _curve(rows: list[dict[str, Any]], axis: str, metric: str, minus: str | None) -> list[tuple[float, float]]:
    """(x, mean y) per value of a numeric axis, in x order (y: metric, or metric minus `minus`)."""
    groups: dict[float, list[float]] = {}
    for r in rows:
        x, y, b = _value(r, axis), _value(r, metric), (_value(r, minus) if minus else 0.0)
        if x is not None and y is not None and b is not None:
            groups.setdefault(x, []).append(y - b)
    return [(x, sum(ys) / len(ys)) for x, ys in sorted(groups.items())]


def _slope(pts: list[tuple[float, float]]) -> float | None:
    if len(pts) < 2:
        return None
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    return None if sxx == 0 else sum((x - mx) * (y - my) for x, y in pts) / sxx


def _coef(claim: Claim, rows: list[dict[str, Any]]) -> float | None:
    if len(rows) < 3:
        return None
    try:
        res = fit(StudyTable([], [], [{**r, "status": "done"} for r in rows]), claim.formula or "",
                  include_untrained=True)  # the caller chose the rows
    except ConfigError:
        return None
    return res.coefficient(claim.term) if claim.term in res.names else None


def summary_line(verdicts: list[Verdict]) -> str:
    """'3 agree, 1 inconclusive, 0 disagree' over a study's claims."""
    n = {v: sum(1 for x in verdicts if x.verdict == v) for v in VERDICTS}
    return f"{n['agrees']} agree, {n['inconclusive']} inconclusive, {n['disagrees']} disagree"


VERDICT_COLUMNS = ("claim", "paper", "qd (95% interval)", "seeds", "verdict")


def verdict_rows(verdicts: list[Verdict]) -> list[dict[str, Any]]:
    """The verdict table as front ends print it: one row per claim."""
    return [{"claim": v.claim.text, "paper": v.claim.paper_label, "qd (95% interval)": v.interval,
             "seeds": v.n or "—", "verdict": v.verdict, "why": v.why} for v in verdicts]
