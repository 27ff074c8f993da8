"""`qd train`, `qd eval`, `qd predict`: train classifiers into the run store, evaluate and use them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from rich.table import Table
from rich.text import Text

from qdcore.analysis.options import DrawingFile, PredictOptions
from qdcore.cli.common import (
    CategoriesOpt,
    ImbalanceOpt,
    JsonOpt,
    PerClassOpt,
    SeedOpt,
    StrictOpt,
    console,
    err_console,
    lit,
    print_json,
    print_notes,
)
from qdcore.cli.options import DeclaredCommand, declared_argument, declared_option, of, with_options
from qdcore.cli.progress import RichProgressSink
from qdcore.cli.stopflag import StopFlag
from qdcore.errors import ConfigError
from qdcore.fmt import interval, kept_note, literal, percent, plural
from qdcore.options import DataSelection
from qdcore.runs.kinds import all_kinds, config_from_text, find_kind, get_kind, kind_of, predictor_of
from qdcore.runs.refs import evaluable_kinds, resolve_ref, resumable_kinds
from qdcore.runs.start_options import StartOptions, TrainStart
from qdcore.runs.view_options import RunRefs
from qdcore.train import torchrun
from qdcore.train.config import TrainConfig
from qdcore.train.torchrun import INTERRUPTED_EXIT

if TYPE_CHECKING:
    from qdcore.store import Store

RunArg = Annotated[str, declared_argument(RunRefs, "run")]
DeviceOpt = Annotated[str | None, declared_option(TrainConfig, "device", default=None)]


def register(app: typer.Typer) -> None:
    """Add the top-level train / eval / predict commands to the root app."""
    app.command("train", no_args_is_help=False)(train_command())
    app.command("eval")(eval_cmd)

    app.command("predict")(DeclaredCommand(predict_cmd, of(PredictOptions, "show")))


def run_ref(store: Store, ref: str, kinds: list[str] | None = None) -> int:
    """A run id from 'N', '#N' or 'last' (see qdcore.runs.refs)."""
    return resolve_ref(store, ref, kinds)


def relaunch_under_torchrun(start: StartOptions, device: str | None) -> None:
    """With --nproc/--nnodes and not yet under torchrun: replace this process by torchrun running the same command."""
    if (start.nproc is not None or start.nnodes > 1) and not torchrun.under_torchrun():
        torchrun.exec_torchrun(sys.argv[1:], 1 if start.nproc is None else start.nproc, start.nnodes,
                               start.rdzv_endpoint, device)


def _train_options(options: dict[str, Any], start: TrainStart) -> None:
    """Train a run into the store: a classifier, or the kind that trains --model (Ctrl-C or SIGTERM: stop after the step, keep a checkpoint)."""
    relaunch_under_torchrun(start, options.get("device"))
    json_out = start.json
    progress = RichProgressSink(err_console if json_out else console)
    outcome = train_or_resume(options, progress, start, kind=start.kind, preset=start.preset)
    if outcome.run_id is None:  # a rank other than 0: rank 0 reports
        return
    report = _report(outcome)
    if json_out:
        print_json(report)
    elif outcome.status == "done":
        console.print(f"run {report['run_id']}: model and predictions in {lit(report['run_dir'])}", highlight=False)
    if outcome.status != "done":
        if not json_out:
            err_console.print(f"run {report['run_id']} {outcome.status}; continue it with 'qd train --resume "
                              f"{report['run_id']}'", highlight=False)
        raise typer.Exit(INTERRUPTED_EXIT)


def train_or_resume(options: dict[str, Any], progress: Any, start: StartOptions, *, kind: str | None = None,
                    default_kind: str | None = None, preset: str | None = None, resume_ref: Any = None) -> Any:
    """Start a run, train the run a launcher created (--run-id) or resume one: the path of `qd train` and `qd gan train`.

    kind: the user's --kind; default_kind: the kind the command trains when none is given (qd gan train: gan);
    resume_ref(store, ref) -> run id: how --resume names a run (default: any resumable kind)."""
    from qdcore.runs import run as runs  # lazy: keeps the store out of qd --help
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    store = Store()
    config = Path(start.config).expanduser() if start.config else None
    resume, run_id = start.resume, start.run_id
    if resume is not None or run_id is not None:
        changed = [k for k in options if k != "device"]
        if changed or config or preset or kind:
            flags = ", ".join("--" + k.replace("_", "-") for k in changed) or "--config/--preset/--kind"
            what = "--resume continues a run" if resume is not None else "--run-id trains a created run"
            raise ConfigError(f"{what} with its stored config; drop {flags} (only --device may change)")
    if resume is not None:
        if resume_ref is None:
            rid = run_ref(store, resume, resumable_kinds())
        else:
            rid = resume_ref(store, resume)
        progress.kind = find_kind(store.get_run(rid).kind)
        with StopFlag() as flag:
            try:
                return runs.resume(rid, store, flag.guard(progress), flag, device=options.get("device"))
            finally:
                progress.close()
    if run_id is not None:
        rec = store.get_run(run_id)
        cfg = get_kind(rec.kind).config.from_dict(rec.config, origin=f"run {run_id} config")
        if options.get("device"):
            cfg = cfg.replace(device=options["device"])
    else:
        cfg = config_from_text(options, preset, config, kind or default_kind)
    progress.kind = kind_of(cfg)
    with StopFlag() as flag:
        try:
            return runs.start(cfg, store, flag.guard(progress), flag, run_id=run_id)
        finally:
            progress.close()


def _report(outcome) -> dict[str, Any]:
    s = outcome.summary
    keys = ("epochs", "total_epochs", "best_epoch", "test_top1", "test_top5", "test_loss", "val_top1", "val_top5",
            "train_seconds", "images_per_second", "params", "device", "model", "stopped_early")
    out = {"run_id": outcome.run_id, "status": outcome.status}
    out.update({k: s.get(k) for k in keys if k in s})
    out["summary"] = s
    out["run_dir"] = str(outcome.run_dir) if outcome.run_dir else None
    return out


def train_command(kinds: Any = None):
    """`qd train` with the options of every registered kind (or of `kinds()`) generated from their declarations."""
    return with_options(_train_options, kinds or all_kinds, of(TrainStart, "start"))


def one_kind_help(group: Any, args: list[str]) -> None:
    """`qd train --kind X --help`: the train command of `group` rebuilt with kind X's options only, so --help shows
    that kind's own defaults and help (an unknown X is the one-line error of get_kind)."""
    if not args or args[0] != "train" or not {"-h", "--help"} & set(args):
        return
    kind = next((a.split("=", 1)[1] for a in args if a.startswith("--kind=")), None)
    if kind is None and "--kind" in args[:-1]:
        kind = args[args.index("--kind") + 1]
    if kind is None:
        return

    chosen = get_kind(kind)
    one = typer.Typer()
    one.command("train", no_args_is_help=False)(train_command(lambda: [chosen]))
    group.commands["train"] = typer.main.get_command(one)


# -- qd eval ------------------------------------------------------------------------------------


def eval_cmd(
    run: RunArg,
    data: Annotated[str | None, declared_option(DataSelection, "data", default=None, help="Evaluate on other drawings (demo, cache or a PATH) instead of the run's test split; classes must be among the model's.")] = None,
    categories: CategoriesOpt = None,
    per_class: PerClassOpt = None,
    seed: SeedOpt = 0,
    imbalance: ImbalanceOpt = None,
    device: DeviceOpt = None,
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Top-1/top-5, per-class precision/recall/F1 with macro averages, and the confusion matrix of a run."""
    from qdcore.analysis.metrics import evaluation_metrics  # lazy: keeps numpy out of qd --help
    from qdcore.runs.run import evaluate  # lazy: keeps the store out of qd --help
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    store = Store()
    run_id = run_ref(store, run, evaluable_kinds())
    store.get_run(run_id)  # 'no run N' before anything else
    if data is None and (categories or per_class or imbalance):
        raise ConfigError("--categories/--per-class/--imbalance choose drawings of --data; without --data "
                          "the run's own test split is used")
    ev = evaluate(store, run_id, data, categories=categories, per_class=per_class, seed=seed,
                  imbalance=imbalance, device=device, strict=strict)
    print_notes(ev.notes)  # the same skipped-lines note every reader gives, on stderr
    result = evaluation_metrics(ev)
    if json_out:
        print_json(result)
        return
    _print_eval(result)


def _print_eval(r: dict[str, Any]) -> None:
    tag = " [yellow](synthetic)[/]" if r.get("synthetic") else ""

    kept = kept_note(r)
    console.print(f"[bold]run {r['run_id']}[/] on {lit(r['data'])}{tag}: {r['n']:,} drawings"
                  f"{kept} · "
                  f"top-1 [bold]{percent(r['top1'], 2)}[/] (95% CI {interval(*(r.get('top1_ci') or (None, None)))}) · "
                  f"top-5 {percent(r['top5'], 2)} (95% CI {interval(*(r.get('top5_ci') or (None, None)))}) · "
                  f"macro F1 {percent(r['macro']['f1'], 2)}", highlight=False)
    t = Table(title="per class (recall with its Wilson 95% interval)", title_justify="left", show_edge=False)
    for col in ("class", "precision", "recall", "95% CI", "F1", "support"):
        t.add_column(col, justify="left" if col == "class" else "right")
    for row in r["per_class"]:
        t.add_row(lit(row["class"]), percent(row["precision"]), percent(row["recall"]),
                  interval(*(row["recall_ci"] or (None, None))), percent(row["f1"]), f"{row['support']:,}")
    m = r["macro"]
    t.add_section()
    t.add_row("[bold]macro avg[/]", percent(m["precision"]), percent(m["recall"]), "", percent(m["f1"]),
              f"{m['support']:,}")
    console.print(t)
    classes, cm = r["classes"], r["confusion"]
    if len(classes) > 30:
        console.print(f"confusion matrix: {len(classes)} classes, too wide to show; see --json or the TUI")
        return
    present = {row["class"] for row in r["per_class"]}
    # Numbered columns keep the matrix narrow; row labels carry the names.
    c = Table(title="confusion (rows: true class, columns: predicted class number)", title_justify="left",
              show_edge=False, pad_edge=False, collapse_padding=True)
    c.add_column("true", no_wrap=True)
    for j in range(len(classes)):
        c.add_column(str(j), justify="right", no_wrap=True)
    for i, (cl, row) in enumerate(zip(classes, cm)):
        if cl not in present:
            continue
        c.add_row(f"{i:>2} {lit(cl[:12])}", *[(f"[bold green]{v}[/]" if j == i else (str(v) if v else "[dim]·[/]"))
                                          for j, v in enumerate(row)])
    console.print(c)


# -- qd predict ---------------------------------------------------------------------------------


def predict_cmd(
    run: RunArg,
    file: Annotated[str, declared_argument(DrawingFile, "file")],
    show: Any,
    device: DeviceOpt = None,
    strict: StrictOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Classify drawings from a file with a trained run's model (a stroke file's words give a truth column)."""
    import numpy as np  # lazy: keeps numpy out of qd --help

    from qdcore.data.drawing_file import read_drawing_file  # lazy: keeps numpy out of qd --help
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    top, limit = show.top, show.limit  # checked by their declarations (PredictOptions)
    store = Store()

    run_id = run_ref(store, run, evaluable_kinds())
    predict, classes = predictor_of(store, run_id, device)

    notes: list[str] = []
    words: list[str] = []
    path = Path(file).expanduser()
    images, prov, hint = read_drawing_file(path, notes=notes, strict=strict, words=words)
    print_notes(notes)  # the same bad-lines note data info, show, export and train give
    from qdcore.data.drawings import Drawings  # lazy: keeps numpy out of qd --help

    probs = predict(Drawings.of(images, str(path)))
    k = min(top, len(classes))
    order = np.argsort(-probs, axis=1)[:, :k]
    known = {c.lower(): c for c in classes}
    truths = [known.get(str(w).lower().replace("_", " ")) for w in words]
    if path.suffix.lower() != ".npy":  # a stroke file's words are claims; a .npy file's name is only a hint
        unknown = sorted({w for w, t in zip(words, truths) if t is None})
        if unknown:
            err_console.print(Text(f"note: {', '.join(repr(literal(w)) for w in unknown)} "
                                   f"{'is' if len(unknown) == 1 else 'are'} not among run {run_id}'s "
                                   f"{plural(len(classes), 'class')}; those drawings have no truth to compare with",
                                   style="yellow"), soft_wrap=True)
    rows: list[dict[str, Any]] = [{"index": i, "source": prov[i], "truth": truths[i],
             "top": [{"class": classes[j], "prob": float(probs[i, j])} for j in order[i]]}
            for i in range(len(images))]
    judged = [i for i, t in enumerate(truths) if t is not None]
    acc = (float(np.mean([order[i, 0] == classes.index(truth_i) for i in judged if (truth_i := truths[i]) is not None]))
           if judged else None)
    single = {truths[i] for i in judged}
    truth = next(iter(single)) if len(single) == 1 else None
    if json_out:
        print_json({"run_id": run_id, "file": str(file), "n": len(images), "classes": classes, "file_category": truth,
                    "with_truth": len(judged), "top1_where_truth_known": acc, "predictions": rows})
        return

    t = Table(show_edge=False)
    t.add_column("#", justify="right")
    t.add_column("drawing")
    if judged:
        t.add_column("truth")
    t.add_column(f"top {k}")
    for r in rows[:limit]:
        top_text = "  ".join(f"{lit(p['class'])} [dim]{100 * p['prob']:.0f}%[/]" for p in r["top"])
        cells = [str(r["index"]), lit(r["source"])]
        if judged:
            hit = r["truth"] is not None and r["top"][0]["class"] == r["truth"]
            cells.append("—" if r["truth"] is None else f"[{'green' if hit else 'red'}]{lit(r['truth'])}[/]")
        t.add_row(*cells, top_text)
    console.print(t)
    more = f" (showing {limit}; --limit N or --json for more)" if len(rows) > limit else ""
    line = f"{plural(len(rows), 'drawing')} classified by run {run_id}{more}"
    if acc is not None:
        what = f"the file's category {truth!r}" if truth is not None else "the drawing's own category"
        line += f" · {what} ranked first for {100 * acc:.1f}% of {plural(len(judged), 'drawing')}"
    console.print(line, highlight=False)
