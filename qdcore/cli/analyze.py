"""`qd analyze RUN`: confused pairs, worst drawings, clusters of mistakes, per-class metrics, report files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from qdcore.analysis.options import AnalyzeOptions, AnalyzeOutput
from qdcore.cli.common import JsonOpt, console, err_console, lit, print_json, print_notes, say
from qdcore.cli.options import DeclaredCommand, declared_option, of
from qdcore.cli.train import RunArg, run_ref
from qdcore.fmt import kept_note, percent
from qdcore.options import DataSelection
from qdcore.paths import atomic_write_bytes
from qdcore.runs.refs import evaluable_kinds


def register(app: typer.Typer) -> None:
    """Add the top-level `analyze` command to the root app (its analysis options from AnalyzeOptions)."""
    app.command("analyze")(DeclaredCommand(analyze, of(AnalyzeOptions, "opts"), of(AnalyzeOutput, "how")))


def analyze(
    run: RunArg,
    opts: Any,
    how: Any,
    json_out: JsonOpt = False,
    data: Annotated[str | None, declared_option(DataSelection, "data", default=None, help="With --progressive: stroke drawings to replay (a .ndjson/.bin file or folder); default the run's test split.")] = None,
    categories: Annotated[str | None, declared_option(DataSelection, "categories", help="With --progressive --data: these categories (default: the model's that the data holds).")] = None,
    per_class: Annotated[int | None, declared_option(DataSelection, "per_class", help="With --progressive: at most this many drawings per category (of --data or the test split), sampled by --seed.")] = None,
) -> None:
    """Why a run's model fails: confused pairs, worst drawings, clusters of misclassifications, calibration, data quality."""
    out = Path(how.out) if how.out else None
    vs = how.vs
    if how.progressive or vs or data or categories or per_class:
        return _progressive(run, vs or [], data, categories, per_class, opts.seed, json_out, out)
    from qdcore.analysis.report import analyze_run, public  # lazy: keeps numpy out of qd --help
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    store = Store()  # the options were checked by their declarations before it opens

    report = analyze_run(store, run_ref(store, run, evaluable_kinds()), opts, out=out, say=say)
    if json_out:
        print_json(public(report))
        return
    _print(report)


def _share(items: list[tuple[str, int]], n: int) -> str:
    """'cat 40%, dog 20%': names with their share of a cluster's n drawings."""
    return ", ".join(f"{lit(name)} {percent(cnt / n, 0)}" for name, cnt in items)


def _print(report: dict[str, Any]) -> None:
    kept = kept_note(report)
    console.print(f"[bold]run {report['run']}[/]: {report['n']:,} test drawings{kept}, "
                  f"{len(report['classes'])} classes, "
                  f"top-1 {percent(report['top1'], 2)}, top-5 {percent(report['top5'], 2)}, macro F1 {report['macro']['f1']:.3f}")
    t = Table(title="Most confused pairs", title_justify="left")
    for col in ("class A", "class B", "A as B", "B as A", "% of pair"):
        t.add_column(col, justify="right" if col[0] in "AB%" else "left")
    for p in report["pairs"]:
        t.add_row(lit(p["a"]), lit(p["b"]), str(p["a_as_b"]), str(p["b_as_a"]), percent(p['share']))
    console.print(t)
    w = report["worst"]
    at = ", ".join(f"{k}%: {v:.3f}" for k, v in w["p_true_at_worst_pct"].items())
    console.print(f"[bold]Worst drawings[/]: {w['wrong']} of {w['n']} wrong ({percent(w['wrong_share'])}); "
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
        from qdcore.analysis.clusters import scope  # lazy: keeps numpy out of qd --help

        console.print(f"[bold]Clusters[/] of {scope(c['n'], c['of'])} ({c['features']}, PCA "
                      f"{c['n_components']} components, {percent(c['explained'], 0)} of variance)")
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
                t.add_row("noise" if cl["id"] == -1 else str(cl["id"]), str(cl["size"]),
                          f"{lit(cl['truth'])} -> {lit(cl['predicted'])} ({percent(cl['pair_share'], 0)})",
                          _share(cl["top_predicted"], cl["size"]), _share(cl["top_truth"], cl["size"]))
            console.print(t)
    t = Table(title="Per class", title_justify="left")
    for col in ("class", "precision", "recall", "F1", "support"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for r in report["per_class"] + [{"class": "macro", **report["macro"]}]:
        t.add_row(lit(r["class"]), f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", str(r["support"]))
    console.print(t)
    cal = report["calibration"]
    console.print(f"[bold]Calibration[/]: expected calibration error {percent(cal['ece'])} over "
                  f"{len(cal['bins'])} confidence bins (largest gap {percent(cal['mce'])}); mean top-1 confidence "
                  f"{percent(cal['confidence'])} vs accuracy {percent(cal['accuracy'])}", highlight=False)
    q = report["quality"]
    from qdcore.analysis.labelnoise import NEAR_DUPLICATE_LIMIT  # lazy: keeps numpy out of qd --help

    near = (f"near duplicates not searched (over {NEAR_DUPLICATE_LIMIT:,} drawings)" if q["near_duplicates"] is None
            else f"{q['near_duplicates']} near duplicates")
    console.print(f"[bold]Data quality[/]: {q['label_errors']} likely label errors (confidently wrong), "
                  f"{q['blank']} blank, {q['near_blank']} near-blank, {q['exact_duplicates']} exact duplicates, "
                  f"{near}")
    if report.get("model_note"):
        print_notes([f"no CAM or penultimate features: {report['model_note']}"])
    for f in report.get("files", []):
        console.print(f"wrote {lit(f)}", highlight=False)


def _progressive(run: str, vs: list[str], data: str | None, categories: str | None, per_class: int | None,
                 seed: int, json_out: bool, out: Path | None) -> None:
    """`qd analyze RUN --progressive [--vs RUN ...]`: the replay table and plot (qdcore.analysis.progressive)."""
    from qdcore.analysis.progressive import progressive_report  # lazy: keeps numpy out of qd --help
    from qdcore.store import Store  # lazy: keeps the store out of qd --help
    from qdcore.train.predictor import predicting_kinds  # lazy: keeps numpy out of qd --help

    store = Store()
    ids = list(dict.fromkeys(run_ref(store, r, predicting_kinds()) for r in [run, *vs]))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  transient=True, disable=json_out) as bar:
        task = bar.add_task("replaying", total=None)
        report = progressive_report(store, ids, data, categories, per_class, seed,
                                    progress=lambda n, done, total: bar.update(
                                        task, completed=done, total=total, description=f"run {ids[n]}: prefixes"))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "progressive.json", json.dumps(report, indent=1).encode())
    if json_out:
        print_json(report)
        return
    _print_progressive(report)
    if out is not None:
        console.print(f"wrote {lit(str(out / 'progressive.json'))}", highlight=False)


def _cell(p: dict[str, Any]) -> str:
    return f"{percent(p['top1'], 0)} [{percent(p['lo'], 0)}, {percent(p['hi'], 0)}]"


def _print_progressive(report: dict[str, Any]) -> None:
    from qdcore.analysis.progressive import knew_text, text_plot  # lazy: keeps numpy out of qd --help

    runs = report["runs"]
    first = runs[0]
    print_notes(report.get("notes", []))
    console.print(f"[bold]When did it know[/]: {first['n']:,} drawings of {lit(report['where'])}"
                  f"{' (synthetic)' if report['synthetic'] else ''}, {first['timed']:,} with times"
                  + (f"; {first['skipped']:,} without ink skipped" if first["skipped"] else ""), highlight=False)
    for axis, name in (("ink", "ink"), ("time", "drawing time")):
        if not any(r[axis] for r in runs):
            continue
        t = Table(title=f"Top-1 at a share of {name} (95% Wilson interval)", title_justify="left")
        t.add_column(f"% of {name}", justify="right")
        for r in runs:
            t.add_column(f"run {r['run']} {lit(r['model'] or r['kind'])}", justify="right")
        for j, share in enumerate(first["grid"]):
            t.add_row(percent(share, 0), *[_cell(r[axis][j]) if r[axis] else "-" for r in runs])
        t.add_row("knew at (median)", *[knew_text(r["knew"][axis]) for r in runs], style="bold")
        console.print(t)
        console.print(text_plot(report, axis), markup=False, highlight=False)
    t = Table(title="Per category: top-1 at 50% and 100% of ink; median share of ink when it knew", title_justify="left")
    t.add_column("category")
    t.add_column("n", justify="right")
    for r in runs:
        t.add_column(f"run {r['run']} 50% | 100% | knew", justify="right")
    half = first["grid"].index(0.5) if 0.5 in first["grid"] else len(first["grid"]) // 2
    by_class = [{c["class"]: c for c in r["per_class"]} for r in runs]
    for c in first["per_class"]:
        cells = []
        for b in by_class:
            row = b.get(c["class"])
            cells.append("-" if row is None else
                         f"{percent(row['ink'][half]['top1'], 0)} | {percent(row['ink'][-1]['top1'], 0)} | "
                         f"{knew_text(row['knew_ink']).split(' [')[0]}")
        t.add_row(lit(c["class"]), str(c["n"]), *cells)
    console.print(t)
    console.print("knew at: the share after the stroke from which the top guess stayed right; median over the "
                  "drawings (never-right ones count as later than any share), 95% interval from order statistics",
                  style="dim", highlight=False)
