"""A study's results: one row per trial (axes, final/first/best metrics, best epochs, time) and seed aggregates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from qdcore.artifacts import PREDICTIONS_FILE
from qdcore.runs.kinds import find_kind
from qdcore.studies import trials as T
from qdcore.studies.degenerate import predicted_classes, train_shares, untrained_reason

# history key -> column stem; "best" is the max for accuracies and the min for losses
CURVES = ("train/loss", "train/top1", "val/loss", "val/top1")
SUMMARY_KEYS = ("test_top1", "test_top5", "test_loss", "params", "images_per_second")


@dataclass
class StudyTable:
    """Trial rows (dicts with the same keys) and which keys are axes and which are metrics."""

    axes: list[str]
    metrics: list[str]
    rows: list[dict[str, Any]]
    include_untrained: bool = False  # aggregates, plots, fits and claims use trials flagged "not trained" too

    def column(self, key: str) -> list[Any]:
        """The values of one column, in trial order."""
        return [r.get(key) for r in self.rows]


def _curve_columns(history: dict[str, list[tuple[int, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in CURVES:
        pts = [(e, v) for e, v in history.get(key, []) if v is not None and not math.isnan(v)]
        if not pts:
            continue
        stem = key.replace("/", "_")
        out[f"first_{stem}"] = pts[0][1]
        out[stem] = pts[-1][1]
        pick = max if key.endswith("top1") else min
        best_epoch, best = pick(pts, key=lambda p: p[1])
        out[f"best_{stem}"] = best
        if key.startswith("val/"):
            out[f"best_epoch_{key.split('/')[1]}"] = best_epoch
    if history.get("val/loss"):
        out["epochs"] = history["val/loss"][-1][0]
    return out


MAX_CLASS_COLUMNS = 12  # per-class test accuracy columns a trial gets (a 345-class table would be unreadable)


def _per_class(store, run_id: int, minority: list[str], each: bool, shares: dict[str, float] | None = None
               ) -> dict[str, float]:
    """Test accuracy of the minority classes and of the others (and of each class, `each`: test_top1[CLASS]),
    from the run's saved predictions; with the training `shares` also test_top1_prior: the per-class accuracies
    weighted by those shares, what a test split drawn with the training imbalance scores (000's 'test %')."""
    import numpy as np  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    from qdcore.predictions import Predictions  # lazy: numpy (~0.1 s) is not needed to list runs or studies
    from qdcore.stats import confusion_matrix  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    path = store.home / "runs" / str(run_id) / PREDICTIONS_FILE
    if not path.exists():
        return {}
    p = Predictions.load(path)
    # From the confusion counts: over the whole test split, also where the file keeps only a sample of it.
    cm = p.totals.confusion if p.totals is not None else confusion_matrix(p.labels, p.predicted, len(p.classes))
    right, support = np.diag(cm), cm.sum(axis=1)
    is_min = np.isin(np.arange(len(p.classes)), [p.classes.index(c) for c in minority if c in p.classes])
    out = {}
    groups = [("top1_minority", is_min), ("top1_majority", ~is_min)] if minority else []
    if each and len(p.classes) <= MAX_CLASS_COLUMNS:
        groups += [(f"test_top1[{c}]", np.arange(len(p.classes)) == i) for i, c in enumerate(p.classes)]
    for name, mask in groups:
        if support[mask].sum():
            out[name] = float(right[mask].sum() / support[mask].sum())
    if shares and all(support[p.classes.index(c)] for c in shares if c in p.classes):
        out["test_top1_prior"] = float(sum(w * right[p.classes.index(c)] / support[p.classes.index(c)]
                                           for c, w in shares.items() if c in p.classes))
    return out


def study_table(store, study: int) -> StudyTable:
    """The study's trials with their runs' metrics (running trials show what they have so far)."""
    from qdcore.data.drawingset import parse_ratios  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    rows_in = T.trials(store, study)
    axes: list[str] = []
    for r in rows_in:
        axes += [k for k in r.params if k not in axes]
    rows: list[dict[str, Any]] = []
    metric_keys: list[str] = []
    for tr in rows_in:
        row: dict[str, Any] = {"trial": tr.idx + 1, **tr.params, "status": tr.status, "run": tr.run_id}
        cfg = tr.config
        cats = cfg.get("categories")
        row["classes"] = len(cats.split(",")) if isinstance(cats, str) and cats else None
        row["rows"] = cfg.get("per_class")
        metrics: dict[str, Any] = {}
        if tr.run_id is not None and store.has_run(tr.run_id):
            rec = store.get_run(tr.run_id)
            metrics.update(_curve_columns(store.history(tr.run_id)))
            kind = find_kind(rec.kind)
            keys = SUMMARY_KEYS + (kind.study_metrics if kind is not None else ())
            metrics.update({k: rec.summary[k] for k in keys if _finite(rec.summary.get(k))})
            row["classes"] = rec.summary.get("classes", row["classes"])
            if (cfg.get("imbalance") or cfg.get("balanced_test")) and tr.status == "done":
                metrics.update(_per_class(store, tr.run_id, list(parse_ratios(cfg.get("imbalance"))),
                                          bool(cfg.get("balanced_test")), _shares(cfg)))
            if tr.status == "done":
                row["not_trained"] = _untrained(store, tr.run_id, cfg, metrics, row["classes"])
        metrics["seconds"] = tr.seconds
        row.update(metrics)
        row["error"] = tr.error
        metric_keys += [k for k in metrics if k not in metric_keys]
        rows.append(row)
    return StudyTable(axes, metric_keys, rows)


def _shares(cfg: dict[str, Any]) -> dict[str, float] | None:
    """Each category's share of a balanced-test trial's training set (None without a balanced test)."""
    cats = cfg.get("categories") or ""
    shares = train_shares(cfg) if cfg.get("balanced_test") else None
    return dict(zip([c.strip() for c in cats.split(",") if c.strip()], shares)) if shares else None


def _untrained(store, run_id: int, cfg: dict[str, Any], metrics: dict[str, Any], classes: Any) -> str | None:
    """Why a finished trial is "not trained" (qdcore.studies.degenerate), or None."""
    from qdcore.predictions import run_file  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    used = predicted_classes(run_file(store.home / "runs" / str(run_id)))
    return untrained_reason(metrics, train_shares(cfg), used, classes if isinstance(classes, int) else None,
                            bool(cfg.get("balanced_test")))


def trained_rows(table: StudyTable, include_untrained: bool = False) -> list[dict[str, Any]]:
    """The finished trials a fit, plot or aggregate uses: those flagged "not trained" are left out by default."""
    keep = include_untrained or table.include_untrained
    return [r for r in table.rows if r["status"] == "done" and (keep or not r.get("not_trained"))]


def untrained_count(table: StudyTable) -> int:
    """Finished trials flagged "not trained"."""
    return sum(1 for r in table.rows if r["status"] == "done" and r.get("not_trained"))


def untrained_note(table: StudyTable) -> str | None:
    """The one-line note a table, plot or fit prints when trials were left out as not trained (or kept)."""
    n = untrained_count(table)
    if not n:
        return None
    if table.include_untrained:
        return f"{n} trial{'s' if n != 1 else ''} flagged 'not trained' kept in aggregates, plots, fits and claims"
    return (f"{n} trial{'s' if n != 1 else ''} flagged 'not trained' (one class predicted, train accuracy at the "
            "majority share, or loss near the prior's) left out of aggregates, plots, fits and claims")


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample sd, low, high) of the two-sided `level` t interval of the mean; sd and interval are NaN for
    one value."""
    from scipy import stats  # lazy: SciPy (~0.1 s) is loaded only when used

    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def aggregate(table: StudyTable, metrics: list[str] | None = None, include_untrained: bool = False
              ) -> list[dict[str, Any]]:
    """Per point of the grid without the seed axis: n, and mean, sd, 95% interval of each metric over done trials
    (those flagged "not trained" left out unless `include_untrained`)."""
    keys = [a for a in table.axes if a != "seed"]
    metrics = metrics or [m for m in table.metrics if m != "epochs"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in trained_rows(table, include_untrained):
        groups.setdefault(tuple(_hashable(r.get(k)) for k in keys), []).append(r)
    out = []
    for key, rows in groups.items():
        agg: dict[str, Any] = dict(zip(keys, key))
        agg["n"] = len(rows)
        for m in metrics:
            vals = [float(r[m]) for r in rows if isinstance(r.get(m), (int, float)) and not math.isnan(float(r[m]))]
            if vals:
                mean, sd, lo, hi = t_interval(vals)
                agg.update({f"{m}_mean": mean, f"{m}_sd": sd, f"{m}_lo": lo, f"{m}_hi": hi})
        out.append(agg)
    return out


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v
