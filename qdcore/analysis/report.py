"""The `qd analyze` report as a library: why a run's model fails, as plain data and report files.

A notebook calls `analyze_run(store, run_id)` (or `build_report(predictions, model)`) and gets the same dict
that `qd analyze --json` prints; `write_outputs` writes the CSVs and PNGs that `--out DIR` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qdcore.analysis import cam, clusters, export, figures, labelnoise, metrics, pairs, worst
from qdcore.analysis.calibration import calibration
from qdcore.analysis.options import FEATURE_CHOICES, AnalyzeOptions  # noqa: F401 - the library's name for them
from qdcore.artifacts import MODEL_FILE
from qdcore.errors import ConfigError, DataError, StoreError
from qdcore.fmt import safe_filename
from qdcore.paths import out_folder
from qdcore.predictions import Predictions, run_file
from qdcore.status import Say, step

if TYPE_CHECKING:
    from qdcore.store import Store

def analyze_run(store: Store, run_id: int, options: AnalyzeOptions | None = None,
                out: Path | None = None, say: Say | None = None) -> dict[str, Any]:
    """The report of a stored run (its predictions.npz and, when present, its model); files under `out` if given.

    say: told what a step is doing when it takes more than a couple of seconds (qdcore.status)."""
    opts = options or AnalyzeOptions()
    opts.validate()
    run_dir = store.run_dir(run_id, create=False)
    path = run_file(run_dir)
    if not path.exists():
        raise StoreError(f"run {run_id} has no predictions ({path}); evaluate it first with 'qd eval {run_id}'")
    with step(say, f"reading run {run_id}'s predictions"):
        pred = Predictions.load(path)
    if len(pred) == 0:
        raise DataError(f"run {run_id}'s predictions are empty; re-run 'qd eval {run_id}'")
    with step(say, f"loading run {run_id}'s model"):
        model, model_note = load_model_if_any(run_dir)
    if opts.features == "penultimate" and model is None:
        raise ConfigError(f"--features penultimate needs run {run_id}'s model ({model_note}); use --features pixels")
    if out is not None:
        out = out_folder(Path(out).expanduser(), "for the report files")  # checked before the work, not after it
    report = build_report(pred, model, opts, say, run_dir=run_dir)
    report["run"] = run_id
    if model_note:
        report["model_note"] = model_note
    if out is not None:
        try:
            report["files"] = [str(p) for p in write_outputs(pred, report, model, out, seed=opts.seed, say=say)]
        except OSError as e:
            raise DataError(f"cannot write into --out {str(out)!r} ({e.strerror or e}"
                            f"{': ' + str(e.filename) if e.filename else ''}); choose another folder") from None
    return report


def build_report(pred, model=None, options: AnalyzeOptions | None = None, say: Say | None = None,
                 run_dir: Path | None = None) -> dict[str, Any]:
    """Everything `qd analyze` shows, as plain data (private '_' keys hold objects for the file writers);
    with `run_dir`, the clusters are kept there per parameters (qdcore.analysis.cache)."""
    opts = options or AnalyzeOptions()
    top, k, eps, features, percentile, seed = opts.top, opts.k, opts.eps, opts.features, opts.percentile, opts.seed
    n_components, min_confidence = opts.n_components, opts.min_confidence

    with step(say, f"per-class metrics, confused pairs and ranking of {len(pred):,} drawings"):
        summ = metrics.summarize(pred)
        all_pairs = pairs.confused_pairs(pred)
        ranking = worst.rank_drawings(pred, "prob")
    around = worst.around_percentile(ranking, percentile, min(top, len(ranking)))
    rows_at = {int(i): r for i, r in zip(ranking.order.tolist(), worst.ranking_rows(pred, ranking))}
    report: dict[str, Any] = {
        "n": summ["n"], "kept": summ["kept"], "classes": summ["classes"], "top1": summ["top1"], "top5": summ["top5"],
        "macro": summ["macro"], "per_class": summ["per_class"], "confusion": summ["confusion"],
        "pairs": [p.to_dict() for p in all_pairs[:top]],
        "worst": {**worst.summary(pred, ranking), "percentile": percentile,
                  "around": [rows_at[int(i)] for i in around]},
        "misclassified_as": {c: int(v.size) for c, v in clusters.misclassified_as(pred).items()},
        "calibration": calibration(pred.probs, pred.labels, opts.bins).to_dict(),
        "_pairs": all_pairs, "_ranking": ranking, "_rows": [rows_at[int(i)] for i in ranking.order.tolist()],
    }
    try:
        wrong = int((pred.predicted != pred.labels).sum())
        with step(say, f"clustering {wrong:,} misclassified drawings ({features}: PCA, K-Means, DBSCAN)"):
            res = clusters.cluster_run(run_dir, pred, features, model=model, n_components=n_components, k=k,
                                       eps=eps, seed=seed)
        report["clusters"] = res.to_dict()
        report["_clusters"] = res
    except DataError as e:
        report["clusters"] = {"skipped": str(e)}
    with step(say, "looking for likely label errors, blank and duplicate drawings"):
        suspects = labelnoise.likely_label_errors(pred, min_confidence)
        report["quality"] = {"label_errors": len(suspects),
                             "label_error_examples": [s.__dict__ for s in suspects[:top]], **_quality_counts(pred)}
    return report


def _quality_counts(pred) -> dict[str, int | None]:
    q = labelnoise.quality(pred)
    return {"blank": len(q["blank"]), "near_blank": len(q["near_blank"]),
            "exact_duplicates": sum(len(g) - 1 for g in q["exact_duplicates"]),
            "near_duplicates": None if q["near_duplicates"] is None else len(q["near_duplicates"])}


def load_model_if_any(run_dir: Path):
    """(model, '') or (None, why not): checkpoints are optional for analysis."""
    from qdcore.train.checkpoint import load_model  # lazy: loads torch (~1.2 s)

    if not (run_dir / MODEL_FILE).exists():
        return None, f"no {MODEL_FILE} in {run_dir}"
    try:
        model, _meta = load_model(run_dir)
    except (StoreError, ConfigError, DataError) as e:
        return None, str(e)
    return model, ""


def write_outputs(pred, report: dict[str, Any], model, out: Path, seed: int = 0, say: Say | None = None) -> list[Path]:
    """The report files: CSVs and PNGs under `out`."""
    with step(say, f"writing the tables, charts and galleries into {out}"):
        files = _tables_and_charts(pred, report, out)
    with step(say, "Grad-CAM grids"):
        files += _cam_outputs(pred, model, out, seed)
    return files


def _tables_and_charts(pred, report: dict[str, Any], out: Path) -> list[Path]:
    """The CSVs, charts and galleries of a report."""
    out.mkdir(parents=True, exist_ok=True)
    per_class = [{**r, "recall_lo": (r.get("recall_ci") or [None, None])[0],
                  "recall_hi": (r.get("recall_ci") or [None, None])[1]} for r in report["per_class"]]
    cal = calibration(pred.probs, pred.labels, len(report["calibration"]["bins"]))
    files = [
        export.write_csv(out / "pairs.csv", [p.to_dict() for p in report["_pairs"]],
                         ["a", "b", "a_as_b", "b_as_a", "n_a", "n_b", "share"]),
        export.write_csv(out / "per_class.csv", per_class + [{"class": "macro", **report["macro"]}],
                         ["class", "precision", "recall", "recall_lo", "recall_hi", "f1", "support"]),
        export.write_csv(out / "ranking.csv", report["_rows"],
                         ["rank", "index", "truth", "predicted", "p_true", "p_pred", "loss", "correct", "provenance"]),
        export.write_csv(out / "calibration.csv", report["calibration"]["bins"],
                         ["lo", "hi", "count", "confidence", "accuracy"]),
        figures.reliability_png(cal, out / "reliability.png"),
        figures.confusion_png(np.asarray(report["confusion"]), pred.classes, out / "confusion.png"),
    ]
    ranking = report["_ranking"]
    pct = report["worst"]["percentile"]
    idx = worst.around_percentile(ranking, pct, 48)
    files.append(export.gallery_png(pred.images[idx], export.captions_for(pred, idx), out / "worst.png",
                                    title=f"48 drawings around the {pct:g}% worst (truth>prediction, p of truth)"))
    for p in report["_pairs"][:5]:
        both = np.r_[p.idx_a_as_b[:24], p.idx_b_as_a[:24]]
        if both.size:
            name = f"pair_{_slug(p.a)}__{_slug(p.b)}.png"
            files.append(export.gallery_png(pred.images[both], export.captions_for(pred, both), out / name,
                                            title=f"{p.a} read as {p.b} ({p.a_as_b}) and back ({p.b_as_a})"))
    res = report.get("_clusters")
    if res is not None:
        rows = []
        for c in (res.kmeans, res.dbscan):
            if c is None:
                continue
            for cl in c.clusters:
                d = cl.to_dict()
                d["top_predicted"] = "; ".join(f"{n} {k}" for n, k in d["top_predicted"])
                d["top_truth"] = "; ".join(f"{n} {k}" for n, k in d["top_truth"])
                rows.append({"method": c.method, **d})
                if c.method == "kmeans" or cl.id >= 0:
                    show = np.asarray(cl.representatives, dtype=np.int64)
                    rest = cl.indices[~np.isin(cl.indices, show)][: max(0, 24 - show.size)]
                    show = np.r_[show, rest]
                    files.append(export.gallery_png(
                        pred.images[show], export.captions_for(pred, show), out / f"cluster_{c.method}_{cl.id}.png",
                        title=f"{c.method} cluster {cl.id}: {cl.size} drawings, mostly {cl.truth} read as {cl.predicted}"))
            name = "K-Means" if c.method == "kmeans" else "DBSCAN"
            files.append(figures.scatter_png(res.coords2d, c.labels, out / f"scatter_{c.method}.png",
                                             title=f"{name} clusters of misclassified drawings (first two PCs)"))
        files.append(export.write_csv(out / "clusters.csv", rows,
                                      ["method", "id", "size", "truth", "predicted", "pair_count", "pair_share",
                                       "top_predicted", "top_truth", "representatives"]))
    return files


def _cam_outputs(pred, model, out: Path, seed: int) -> list[Path]:
    """Per-class grids of right and wrong drawings with Grad-CAM, when the model is a CNN."""
    if model is None:
        return []

    if not cam.conv_layers(model):
        return []
    picks = cam.right_and_wrong(pred, per_class=4, seed=seed)
    idx = np.asarray([i for d in picks.values() for kind in ("right", "wrong") for i in d[kind].tolist()],
                     dtype=np.int64)
    if idx.size == 0:
        return []
    cams, _ = cam.grad_cam_batch(model, pred.images[idx])
    caps = export.captions_for(pred, idx)
    return [export.cam_grid_png(pred.images[idx], cams, caps, out / "cam.png",
                                title="Grad-CAM of the predicted class: per class, right then wrong drawings")]


def _slug(s: str) -> str:
    return safe_filename(s, 40)


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its private '_' entries (objects for the file writers): plain JSON-able data."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
