"""When did it know: replay drawings through a model as they are drawn, by share of ink and of drawing time.

Each drawing is shown to the model at 10%, 20%, ... 100% of its ink (and of its time where it has times),
and stroke by stroke. Top-1 at each share, overall and per category, comes with Wilson 95% intervals.
A drawing's "knew at" is the share of ink (and of time) after the stroke from which the model's top guess
was right and stayed right to the end (never, when the finished drawing is wrong); its median over
drawings comes with a distribution-free 95% interval (order statistics), never-right drawings counting
as later than any share.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qdcore.analysis.overlap import seen_note
from qdcore.data.drawings import Drawings
from qdcore.data.places import data_dirs
from qdcore.data.prefix import has_times, ink_prefix, stroke_ends, stroke_ink, time_prefix
from qdcore.data.raster import rasterize_many
from qdcore.data.selection import load_splits
from qdcore.errors import DataError, QDError
from qdcore.fmt import SERIES_COLORS, percent
from qdcore.runs.kinds import get_kind, predictor_of
from qdcore.stats import wilson_interval

GRID = tuple(round(0.1 * i, 1) for i in range(1, 11))
BATCH = 512


@dataclass
class Replay:
    """One model's replay of a set of drawings."""

    classes: list[str]
    truth: np.ndarray  # (n,) class index
    grid: tuple[float, ...]
    right_ink: np.ndarray  # (n, G) bool: top-1 right at each share of ink
    right_time: np.ndarray  # (n, G) bool, meaningful where timed
    timed: np.ndarray  # (n,) bool: the drawing has usable times
    knew_ink: np.ndarray  # (n,) share of ink from which it was right and stayed right; nan = never
    knew_time: np.ndarray  # (n,) the same in drawing time; nan = never or untimed
    strokes: np.ndarray  # (n,) strokes per drawing
    skipped: int = 0  # drawings without strokes or ink, not replayed
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # their rows in the data given


def knew_at(right: Sequence[bool] | np.ndarray, shares: Sequence[float] | np.ndarray) -> float:
    """The share after the first step from which every step is right (nan if the last step is wrong)."""
    right = [bool(r) for r in right]
    if not right or not right[-1]:
        return math.nan
    k = len(right) - 1
    while k > 0 and right[k - 1]:
        k -= 1
    return float(shares[k])


def _stroke_prefix(d: Any, k: int) -> Any:
    """The drawing's first k strokes (the drawing itself when k covers them all), marked raw."""
    if k >= len(d.strokes):
        return d
    return replace(d, strokes=d.strokes[:k], raw=True, times=d.times[:k] if d.times else None)


def replay(predict: Callable[[Any], np.ndarray], classes: list[str], drawings: Sequence[Any], truth: Sequence[int] | np.ndarray,
           grid: Sequence[float] = GRID, progress: Callable[[int, int], None] | None = None) -> Replay:
    """Replay each drawing (a `qdcore.data.strokes.Drawing`, or None) through `predict` (Drawings -> probs)."""
    grid = tuple(float(g) for g in grid)
    keep = [i for i, d in enumerate(drawings) if d is not None and d.strokes and stroke_ink(d).sum() > 0]
    prefixes: list[Any] = []
    layout = []  # per kept drawing: (start, number of strokes, timed)
    for i in keep:
        d = drawings[i]
        timed = has_times(d)
        start = len(prefixes)
        prefixes += [ink_prefix(d, g) for g in grid]
        prefixes += [_stroke_prefix(d, k) for k in range(1, len(d.strokes) + 1)]
        if timed:
            prefixes += [time_prefix(d, g) for g in grid]
        layout.append((start, len(d.strokes), timed))
    right = np.zeros(len(prefixes), bool)
    t_all = np.asarray(truth, np.int64)
    owner = np.zeros(len(prefixes), np.int64)
    for j, (start, _, _) in enumerate(layout):
        owner[start:] = keep[j]
    for b in range(0, len(prefixes), BATCH):
        chunk = prefixes[b:b + BATCH]
        images = rasterize_many([p.simplified() for p in chunk], 28)
        probs = np.asarray(predict(Drawings(images, chunk)))
        right[b:b + len(chunk)] = probs.argmax(1) == t_all[owner[b:b + len(chunk)]]
        if progress:
            progress(min(b + BATCH, len(prefixes)), len(prefixes))
    n, g = len(keep), len(grid)
    out = Replay(list(classes), t_all[keep], grid, np.zeros((n, g), bool), np.zeros((n, g), bool), np.zeros(n, bool),
                 np.full(n, math.nan), np.full(n, math.nan), np.zeros(n, np.int64), len(drawings) - n,
                 np.asarray(keep, np.int64))
    for j, (start, k, _) in enumerate(layout):
        d = drawings[keep[j]]
        out.right_ink[j] = right[start:start + g]
        by_stroke = right[start + g:start + g + k]
        ink_ends, time_ends = stroke_ends(d)
        out.knew_ink[j] = knew_at(by_stroke, ink_ends)
        out.strokes[j] = k
        if time_ends is not None:  # the drawing has times (has_times), as the layout's third field says
            out.timed[j] = True
            out.right_time[j] = right[start + g + k:start + 2 * g + k]
            out.knew_time[j] = knew_at(by_stroke, time_ends)
    return out


def median_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """(median, lo, hi): the distribution-free interval of the median from order statistics; nan counts as +inf."""
    from scipy.stats import binom  # lazy: SciPy (~0.1 s) is loaded only when used

    v = np.sort(np.where(np.isnan(values), np.inf, values))
    n = v.size
    if n == 0:
        return (math.nan, math.nan, math.nan)
    lo_rank = int(binom.ppf((1 - level) / 2, n, 0.5))  # 0-based order statistics v[lo_rank] .. v[n - 1 - lo_rank]
    lo_rank = min(max(lo_rank - 1, 0), n - 1)
    hi_rank = n - 1 - lo_rank
    return (float(np.median(v)), float(v[lo_rank]), float(v[hi_rank]))


def _curve(right: np.ndarray, grid: tuple[float, ...]) -> list[dict[str, Any]]:
    out = []
    for j, s in enumerate(grid):
        k, n = int(right[:, j].sum()), int(right.shape[0])
        lo, hi = wilson_interval(k, n)
        out.append({"share": s, "right": k, "n": n, "top1": k / n if n else None, "lo": lo, "hi": hi})
    return out


def knew_text(k: dict[str, Any] | None) -> str:
    """'62% [50%, 80%]': a median "knew at" share with its interval; 'never' beyond every share; '-' for none."""
    if not k or not k["n"]:
        return "-"
    def show(v: float | None) -> str:
        return "never" if v is None else percent(v, 0)

    return f"{show(k['median'])} [{show(k['lo'])}, {show(k['hi'])}]"


def _knew(values: np.ndarray) -> dict[str, Any]:
    med, lo, hi = median_interval(values)
    def fin(x: float) -> float | None:
        return None if not math.isfinite(x) else x

    return {"median": fin(med), "lo": fin(lo), "hi": fin(hi), "never": int(np.isnan(values).sum()), "n": int(values.size)}


def summarize(r: Replay) -> dict[str, Any]:
    """Curves (overall and per category) with Wilson intervals, and the median "knew at" with its interval."""
    t = r.timed
    out: dict[str, Any] = {
        "n": int(r.truth.size), "timed": int(t.sum()), "skipped": r.skipped, "grid": list(r.grid),
        "ink": _curve(r.right_ink, r.grid), "time": _curve(r.right_time[t], r.grid) if t.any() else [],
        "knew": {"ink": _knew(r.knew_ink), "time": _knew(r.knew_time[t]) if t.any() else None},
        "per_class": [],
    }
    for c, name in enumerate(r.classes):
        m = r.truth == c
        if not m.any():
            continue
        out["per_class"].append({"class": name, "n": int(m.sum()), "ink": _curve(r.right_ink[m], r.grid),
                                 "time": _curve(r.right_time[m & t], r.grid) if (m & t).any() else [],
                                 "knew_ink": _knew(r.knew_ink[m])})
    out["drawings"] = [{"row": int(row), "truth": r.classes[int(c)], "strokes": int(k),
                        "knew_ink": None if math.isnan(a) else a, "knew_time": None if math.isnan(b) else b}
                       for row, c, k, a, b in zip(r.rows, r.truth, r.strokes, r.knew_ink, r.knew_time)]
    return out


def run_test_split(rec: Any) -> Any:
    """A run's test split rebuilt from its config (its drawings, and their strokes where the files hold them)."""
    cfg = get_kind(rec.kind).config.from_dict(rec.config, origin=f"run {rec.id} config")
    return load_splits(cfg, mapped=True).test


def progressive_report(store: Any, run_ids: Sequence[int], data: str | None = None, categories: str | None = None,
                       per_class: int | None = None, seed: int = 0, grid: Sequence[float] = GRID,
                       progress: Callable[[int, int, int], None] | None = None) -> dict[str, Any]:
    """Replay the same drawings through each run's model: the first run's test split, or `data`.

    progress(run number, prefixes done, prefixes in all) as the replay goes."""
    from qdcore.train.evaluate import labels_for, select_for_model  # lazy: loads torch (~1.2 s)

    first = store.get_run(int(run_ids[0]))
    models = [(store.get_run(int(i)), *predictor_of(store, int(i))) for i in run_ids]
    notes: list[str] = []
    if data is None:
        ds = _capped(run_test_split(first), per_class, seed)
        where = f"test split of run {first.id} ({first.config.get('data')})"
        if not _has_strokes(ds):
            # Bitmaps only (numpy files): the same categories' strokes from a local folder qd knows, if one has them.
            found = _local_strokes(list(models[0][2]), categories, per_class, seed)
            if found is None:
                raise DataError(f"the {where} holds no strokes (bitmaps only) to replay; pass --data a file or "
                                "folder of .ndjson or .bin stroke files (such as Google's raw drawings)")

            notes.append(f"the {where} holds bitmaps only: replayed {found[1]} instead")
            ds, where = found
            notes.append(seen_note(first, ds, where))
    else:
        ds = select_for_model(data, categories, per_class, seed, None, list(models[0][2]))
        where = str(ds.origin or data)
    strokes = Drawings.from_set(ds).strokes if _has_strokes(ds) else None
    if strokes is None:
        raise DataError(f"{where} holds no strokes (bitmaps only) to replay; pass --data a file or folder of "
                        ".ndjson or .bin stroke files (such as Google's raw drawings)")
    runs = []
    for n, (rec, predict, classes) in enumerate(models):
        truth = labels_for(ds, list(classes), where=where)
        step = (lambda done, total, n=n: progress(n, done, total)) if progress else None
        r = replay(predict, list(classes), strokes, truth, grid, step)
        runs.append({"run": rec.id, "name": rec.name, "kind": rec.kind, "model": rec.config.get("model"),
                     **summarize(r)})
    return {"where": where, "synthetic": bool(ds.synthetic), "runs": runs, "notes": notes}


def _has_strokes(ds: Any) -> bool:
    return len(ds) > 0 and ds.drawings(np.zeros(1, np.int64)) is not None


def _capped(ds: Any, per_class: int | None, seed: int) -> Any:
    """At most per_class drawings of each class (seeded), in their order."""
    if not per_class:
        return ds
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(np.flatnonzero(ds.labels == c))[:per_class] for c in np.unique(ds.labels)]
    return ds.subset(np.sort(np.concatenate(keep)))


def _local_strokes(classes: list[str], categories: str | None, per_class: int | None,
                   seed: int) -> tuple[Any, str] | None:
    """(drawings, where) of the model's classes from the first local stroke folder qd knows that holds any."""
    from qdcore.train.evaluate import select_for_model  # lazy: loads torch (~1.2 s)

    for path, _why in sorted(data_dirs(), key=lambda d: d[0].name != "raw"):  # raw first: it has times
        if not any(path.glob("*.ndjson")) and not any(path.glob("*.bin")):
            continue
        try:
            ds = select_for_model(str(path), categories, per_class, seed, None, classes)
        except QDError:
            continue
        if _has_strokes(ds):
            return ds, str(path)
    return None


def draw_curves(plt: Any, report: dict[str, Any], axis: str = "ink") -> None:
    """Top-1 against the share of ink (or time) on a plotext figure: one line per run, its Wilson intervals as bars."""
    for i, run in enumerate(report["runs"]):
        curve = run[axis]
        if not curve:
            continue
        color = SERIES_COLORS[i % len(SERIES_COLORS)]
        xs = [100 * p["share"] for p in curve]
        for x, p in zip(xs, curve):
            plt.plot([x, x], [100 * p["lo"], 100 * p["hi"]], marker="│", color=color)
        plt.plot(xs, [100 * p["top1"] for p in curve], label=f"run {run['run']} {run['model'] or run['kind']}"[:30],
                 marker="braille", color=color)
    plt.ylim(0, 100)
    plt.title(f"top-1 vs share of {'ink' if axis == 'ink' else 'drawing time'} (95% Wilson intervals)")
    plt.xlabel(f"% of {'ink' if axis == 'ink' else 'time'}")
    plt.ylabel("top-1 %")


def text_plot(report: dict[str, Any], axis: str = "ink", width: int = 78, height: int = 18) -> str:
    """draw_curves as plotext text."""
    import plotext as plt  # lazy: plotext is loaded only when used

    plt.clf()
    plt.plotsize(width, height)
    plt.theme("clear")
    draw_curves(plt, report, axis)
    return re.sub(r"\x1b\[[0-9;]*m", "", plt.build())


def moment(predict: Callable[[Any], np.ndarray], classes: Sequence[str], drawing: Any,
           truth: str) -> tuple[float | None, float | None]:
    """(share of ink, share of time) after the stroke from which `predict` was right about one drawing and stayed
    right (a person's drawing in the game): math.inf where it never was; None where it cannot be replayed (no ink,
    a class the model lacks) or, for time, the drawing has no usable times."""
    classes = list(classes)
    if drawing is None or truth not in classes:
        return None, None
    r = replay(predict, classes, [drawing], [classes.index(truth)], grid=())
    if r.skipped:
        return None, None
    def share(v: float) -> float:
        return math.inf if math.isnan(v) else float(v)

    return share(r.knew_ink[0]), share(r.knew_time[0]) if r.timed[0] else None
