"""`qd analyze RUN`: confused pairs, worst drawings, clusters of mistakes, per-class metrics, report files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from qdcore.cli.common import JsonOpt, console, lit, print_json, print_notes
from qdcore.cli.train import RunArg, run_ref
from qdcore.errors import ConfigError, DataError, StoreError
from qdcore.train.artifacts import MODEL_FILE, PREDICTIONS_FILE

FEATURE_CHOICES = ("pixels", "penultimate")


def register(app: typer.Typer) -> None:
    """Add the top-level `analyze` command to the root app."""
    app.command("analyze")(analyze)


def analyze(
    run: RunArg,
    json_out: JsonOpt = False,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write CSVs and PNGs (pairs, per-class, ranking, clusters, confusion, galleries, CAM) into DIR.")] = None,
    top: Annotated[int, typer.Option("--top", help="How many confused pairs and worst drawings to show.")] = 10,
    k: Annotated[Optional[int], typer.Option("--k", help="K-Means clusters (default: chosen by silhouette over 2..10).")] = None,
    eps: Annotated[Optional[float], typer.Option("--eps", help="DBSCAN radius (default: knee of the k-distance curve).")] = None,
    features: Annotated[str, typer.Option("--features", help="Cluster on raw 'pixels' or the model's 'penultimate' layer.")] = "pixels",
    components: Annotated[float, typer.Option("--components", help="PCA components (integer) or explained-variance fraction (0..1).")] = 50,
    percentile: Annotated[float, typer.Option("--percentile", help="Show the drawings around this worst-percentile (study 003: 5).")] = 5.0,
    min_confidence: Annotated[float, typer.Option("--min-confidence", help="Wrong drawings above this probability count as likely label errors.")] = 0.9,
    seed: Annotated[int, typer.Option("--seed", help="Seed for PCA, K-Means and sampling.")] = 0,
) -> None:
    """Why a run's model fails: confused pairs, worst drawings, clusters of misclassifications, data quality."""
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    if top > 10_000:
        raise ConfigError(f"--top must be at most 10000, got {top}")
    if k is not None and k < 2:
        raise ConfigError(f"--k must be at least 2 clusters, got {k}")
    if k is not None and k > 1000:
        raise ConfigError(f"--k must be at most 1000 clusters, got {k}")
    if eps is not None and not 0 < eps < float("inf"):
        raise ConfigError(f"--eps must be a positive finite distance, got {eps}")
    if not 0 <= seed < 2**32:
        raise ConfigError(f"--seed must be from 0 to {2**32 - 1}, got {seed}")
    if features not in FEATURE_CHOICES:
        raise ConfigError(f"--features must be one of {', '.join(FEATURE_CHOICES)}, got {features!r}")
    if not 0 < components <= 10_000 or (components >= 1 and not float(components).is_integer()):
        raise ConfigError(f"--components must be a whole number of components or a fraction in (0, 1), got {components}")
    if not 0 <= percentile <= 100:
        raise ConfigError(f"--percentile must be within 0..100, got {percentile}")
    if not 0 <= min_confidence <= 1:
        raise ConfigError(f"--min-confidence must be a probability within 0..1, got {min_confidence}")
    n_comp: int | float = int(components) if components >= 1 else float(components)

    from qdcore.predictions import Predictions
    from qdcore.store import Store

    store = Store()
    from qdcore.runs.refs import evaluable_kinds

    run = run_ref(store, run, evaluable_kinds())
    run_dir = store.run_dir(run)
    path = run_dir / PREDICTIONS_FILE
    if not path.exists():
        raise StoreError(f"run {run} has no predictions ({path}); evaluate it first with 'qd eval {run}'")
    pred = Predictions.load(path)
    if len(pred) == 0:
        raise DataError(f"run {run}'s predictions are empty; re-run 'qd eval {run}'")

    model, model_note = _load_model(run_dir)
    if features == "penultimate" and model is None:
        raise ConfigError(f"--features penultimate needs run {run}'s model ({model_note}); use --features pixels")
    report = build_report(pred, model, top=top, k=k, eps=eps, features=features, n_components=n_comp,
                          percentile=percentile, min_confidence=min_confidence, seed=seed)
    report["run"] = run
    if model_note:
        report["model_note"] = model_note
    if out is not None:
        out = _out_dir(Path(out).expanduser())
        try:
            report["files"] = [str(p) for p in write_outputs(pred, report, model, out, seed=seed)]
        except OSError as e:
            raise DataError(f"cannot write into --out {str(out)!r} ({e.strerror or e}"
                            f"{': ' + str(e.filename) if e.filename else ''}); choose another folder") from None
    if json_out:
        print_json(_public(report))
        return
    _print(report)


def _out_dir(out: Path) -> Path:
    """The --out folder, created; one error naming it when it is a file, under a file, or not writable."""
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file" if parent == out else f"is under {str(parent)!r}, which is a file"
            raise ConfigError(f"--out {str(out)!r} {what}; give a folder for the report files")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create --out {str(out)!r} ({e.strerror or e}); choose another folder") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {str(out)!r} is not writable; choose another folder")
    return out


def build_report(pred, model=None, top: int = 10, k: int | None = None, eps: float | None = None,
                 features: str = "pixels", n_components: int | float = 50, percentile: float = 5.0,
                 min_confidence: float = 0.9, seed: int = 0) -> dict[str, Any]:
    """Everything `qd analyze` shows, as plain data (private '_' keys hold objects for the file writers)."""
    from qdcore.analysis import clusters, labelnoise, metrics, pairs, worst

    summ = metrics.summarize(pred)
    all_pairs = pairs.confused_pairs(pred)
    ranking = worst.rank_drawings(pred, "prob")
    around = worst.around_percentile(ranking, percentile, min(top, len(ranking)))
    rows_at = {int(i): r for i, r in zip(ranking.order.tolist(), worst.ranking_rows(pred, ranking))}
    report: dict[str, Any] = {
        "n": summ["n"], "classes": summ["classes"], "top1": summ["top1"], "top5": summ["top5"],
        "macro": summ["macro"], "per_class": summ["per_class"], "confusion": summ["confusion"],
        "pairs": [p.to_dict() for p in all_pairs[:top]],
        "worst": {**worst.summary(pred, ranking), "percentile": percentile,
                  "around": [rows_at[int(i)] for i in around]},
        "misclassified_as": {c: int(v.size) for c, v in clusters.misclassified_as(pred).items()},
        "_pairs": all_pairs, "_ranking": ranking, "_rows": [rows_at[int(i)] for i in ranking.order.tolist()],
    }
    try:
        res = clusters.cluster_misclassified(pred, features, model=model, n_components=n_components, k=k, eps=eps,
                                             seed=seed)
        report["clusters"] = res.to_dict()
        report["_clusters"] = res
    except DataError as e:
        report["clusters"] = {"skipped": str(e)}
    suspects = labelnoise.likely_label_errors(pred, min_confidence)
    report["quality"] = {"label_errors": len(suspects), "label_error_examples": [s.__dict__ for s in suspects[:top]],
                         **_quality_counts(pred)}
    return report


def _quality_counts(pred) -> dict[str, int]:
    from qdcore.analysis import labelnoise

    q = labelnoise.quality(pred)
    return {"blank": len(q["blank"]), "near_blank": len(q["near_blank"]),
            "exact_duplicates": sum(len(g) - 1 for g in q["exact_duplicates"]),
            "near_duplicates": None if q["near_duplicates"] is None else len(q["near_duplicates"])}


def _load_model(run_dir: Path):
    """(model, '') or (None, why not): checkpoints are optional for analysis."""
    from qdcore.train.checkpoint import load_model

    if not (run_dir / MODEL_FILE).exists():
        return None, f"no {MODEL_FILE} in {run_dir}"
    try:
        model, _meta = load_model(run_dir)
    except (StoreError, ConfigError, DataError) as e:
        return None, str(e)
    return model, ""


def write_outputs(pred, report: dict[str, Any], model, out: Path, seed: int = 0) -> list[Path]:
    """The report files: CSVs and PNGs under `out`."""
    import numpy as np

    from qdcore.analysis import export, worst

    out.mkdir(parents=True, exist_ok=True)
    files = [
        export.write_csv(out / "pairs.csv", [p.to_dict() for p in report["_pairs"]],
                         ["a", "b", "a_as_b", "b_as_a", "n_a", "n_b", "share"]),
        export.write_csv(out / "per_class.csv", report["per_class"] + [{"class": "macro", **report["macro"]}],
                         ["class", "precision", "recall", "f1", "support"]),
        export.write_csv(out / "ranking.csv", report["_rows"],
                         ["rank", "index", "truth", "predicted", "p_true", "p_pred", "loss", "correct", "provenance"]),
        export.confusion_png(np.asarray(report["confusion"]), pred.classes, out / "confusion.png"),
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
            files.append(export.scatter_png(res.coords2d, c.labels, out / f"scatter_{c.method}.png"))
        files.append(export.write_csv(out / "clusters.csv", rows,
                                      ["method", "id", "size", "truth", "predicted", "pair_count", "pair_share",
                                       "top_predicted", "top_truth", "representatives"]))
    files += _cam_outputs(pred, model, out, seed)
    return files


def _cam_outputs(pred, model, out: Path, seed: int) -> list[Path]:
    """Per-class grids of right and wrong drawings with Grad-CAM, when the model is a CNN."""
    import numpy as np

    if model is None:
        return []
    from qdcore.analysis import cam, export

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
    from qdcore.fmt import safe_filename

    return safe_filename(s, 40)


def _public(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if not k.startswith("_")}


def _print(report: dict[str, Any]) -> None:
    from rich.table import Table

    console.print(f"[bold]run {report['run']}[/]: {report['n']} test drawings, {len(report['classes'])} classes, "
                  f"top-1 {report['top1']:.2%}, top-5 {report['top5']:.2%}, macro F1 {report['macro']['f1']:.3f}")
    t = Table(title="Most confused pairs", title_justify="left")
    for col in ("class A", "class B", "A as B", "B as A", "% of pair"):
        t.add_column(col, justify="right" if col[0] in "AB%" else "left")
    for p in report["pairs"]:
        t.add_row(lit(p["a"]), lit(p["b"]), str(p["a_as_b"]), str(p["b_as_a"]), f"{p['share']:.1%}")
    console.print(t)
    w = report["worst"]
    at = ", ".join(f"{k}%: {v:.3f}" for k, v in w["p_true_at_worst_pct"].items())
    console.print(f"[bold]Worst drawings[/]: {w['wrong']} of {w['n']} wrong ({w['wrong_share']:.1%}); "
                  f"p(truth) at the worst {at}")
    t = Table(title=f"Around the {w['percentile']:g}% worst", title_justify="left")
    for col in ("rank", "drawing", "truth", "predicted", "p(truth)", "from"):
        t.add_column(col)
    for r in w["around"]:
        t.add_row(str(r["rank"]), str(r["index"]), lit(r["truth"]), lit(r["predicted"]), f"{r['p_true']:.3f}", lit(r["provenance"]))
    console.print(t)
    c = report["clusters"]
    if "skipped" in c:
        console.print(f"[bold]Clusters[/]: skipped, {lit(c['skipped'])}")
    else:
        console.print(f"[bold]Clusters[/] of {c['n']} misclassified drawings ({c['features']}, PCA "
                      f"{c['n_components']} components, {c['explained']:.0%} of variance)")
        for method in ("kmeans", "dbscan"):
            if method not in c:
                continue
            params = c[method]["params"]
            head = (f"K-Means k={params['k']}" if method == "kmeans" else
                    f"DBSCAN eps={params['eps']:.3g}{' (auto)' if params.get('auto_eps') else ''}, "
                    f"{params['noise']} noise")
            t = Table(title=head, title_justify="left")
            for col in ("cluster", "size", "commonest truth -> prediction", "misclassified as", "drawings of"):
                t.add_column(col)
            for cl in c[method]["clusters"][:12]:
                share = lambda items, n=cl["size"]: ", ".join(f"{lit(name)} {cnt / n:.0%}" for name, cnt in items)  # noqa: E731
                t.add_row("noise" if cl["id"] == -1 else str(cl["id"]), str(cl["size"]),
                          f"{lit(cl['truth'])} -> {lit(cl['predicted'])} ({cl['pair_share']:.0%})",
                          share(cl["top_predicted"]), share(cl["top_truth"]))
            console.print(t)
    t = Table(title="Per class", title_justify="left")
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for r in report["per_class"] + [{"class": "macro", **report["macro"]}]:
        t.add_row(lit(r["class"]), f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", str(r["support"]))
    console.print(t)
    q = report["quality"]
    from qdcore.analysis.labelnoise import NEAR_DUPLICATE_LIMIT

    near = (f"near duplicates not searched (over {NEAR_DUPLICATE_LIMIT:,} drawings)" if q["near_duplicates"] is None
            else f"{q['near_duplicates']} near duplicates")
    console.print(f"[bold]Data quality[/]: {q['label_errors']} likely label errors (confidently wrong), "
                  f"{q['blank']} blank, {q['near_blank']} near-blank, {q['exact_duplicates']} exact duplicates, "
                  f"{near}")
    if report.get("model_note"):
        print_notes([f"no CAM or penultimate features: {report['model_note']}"])
    for f in report.get("files", []):
        console.print(f"wrote {lit(f)}", highlight=False)
