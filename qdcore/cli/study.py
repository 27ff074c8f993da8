"""`qd study`: run grids of runs (specs or the seed studies by name), follow them, tabulate, fit and report."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from qdcore.cli.common import JsonOpt, console, err_console, lit, print_json
from qdcore.cli.options import DeclaredCommand, Group, declared_argument, declared_option, of
from qdcore.cli.stopflag import StopFlag
from qdcore.errors import ConfigError
from qdcore.fmt import duration, plural
from qdcore.kinds.study import RESUMABLE, StudyConfig, StudyResume, StudyStart, study_config, study_option
from qdcore.options import parse_values
from qdcore.runs.kinds import parent_kinds
from qdcore.runs.refs import resolve_ref
from qdcore.studies.build import build_spec
from qdcore.studies.execute import execute
from qdcore.studies.runner import create_study, progress
from qdcore.studies.runner import detach as start_detached
from qdcore.studies.trials import counts, require_study
from qdcore.studies.trials import retry_failed as retry
from qdcore.studies.validate import validate
from qdcore.studies.view_options import FitOptions, ReportOptions, ShowOptions, StudyRefs, TimingOptions
from qdcore.train.config import TrainConfig

app = typer.Typer(no_args_is_help=True, help="Studies: grids of runs with tables, plots, OLS fits and reports.")

StudyArg = Annotated[str, declared_argument(StudyRefs, "study")]
SpecArg = Annotated[str, declared_option(StudyConfig, "spec")]


def _store():
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    return Store()


def _study_id(store, ref: str) -> int:
    """A study id from 'N', '#N' or 'last' (qdcore.runs.refs)."""
    study = resolve_ref(store, ref, ["study"], start="qd study run", noun="STUDY")
    require_study(store, study)
    return study


def _fmt(v: Any, key: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if key == "seconds":
            return duration(v)
        return f"{v:.4f}" if abs(v) < 100 else f"{v:,.0f}"
    return str(v)


def _executor(how: Any) -> dict[str, Any]:
    """How trials run (a StudyExecution): local workers, or Ray with a plan (where, and each trial's request)."""
    if how.executor == "ray" or how.address:
        from qdcore.studies.ray_executor import RayPlan  # lazy: keeps the store out of qd --help

        return {"executor": "ray", "ray_plan": RayPlan(how.address, how.cpus_per_trial, how.gpus_per_trial)}
    return {"executor": how.executor}


def _progress_bar(store, study: int, workers: int | None, per_gpu: int | None, should_stop: StopFlag,
                  how: dict[str, Any] | None = None):
    """Run with a Rich progress bar over trials (done + failed of total, ETA from finished trials)."""
    with Progress(TextColumn("[bold]study {task.fields[sid]}[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[info]}"), console=err_console, transient=False) as bar:
        task = bar.add_task("trials", total=None, sid=study, info="")

        def update(p) -> None:
            c = p.counts
            eta = f" · ETA {duration(p.eta_seconds)}" if p.eta_seconds else ""
            bar.update(task, total=p.total, completed=c["done"] + c["failed"],
                       info=f"{c['running']} running · {c['failed']} failed · {c['queued']} queued{eta}")

        return execute(store, study, workers=workers, per_gpu=per_gpu, should_stop=should_stop, on_progress=update,
                       **(how or {}))


def _run(store, study: int, workers: int | None, per_gpu: int | None, detach: bool,
         how: dict[str, Any] | None = None) -> None:
    if detach:
        if workers or per_gpu:
            store.update_config(study, {**store.get_run(study).config, "workers": workers, "per_gpu": per_gpu})
        pid = start_detached(store, study)
        _detached(study, pid)
        return
    with StopFlag() as flag:
        p = _progress_bar(store, study, workers, per_gpu, flag, how)
    gpus = store.get_run(study).summary.get("gpus")
    if per_gpu and not gpus:
        err_console.print("note: --per-gpu was ignored: no CUDA device here", highlight=False)
    c = p.counts
    console.print(f"study {study}: {c['done']} done, {c['failed']} failed, {c['queued']} queued of {p.total}",
                  highlight=False)
    if c["queued"]:
        console.print(f"continue it with 'qd study resume {study}'", highlight=False)
    else:
        console.print(f"see it with 'qd study show {study}'", highlight=False)


def _study_options(select: Any) -> Any:
    """The group of StudyConfig options `select` picks (read when the command is built)."""
    def sources() -> list[tuple[str, type]]:
        return [("study", StudyConfig)]

    return Group("study", sources, select)


def run_cmd(study: dict[str, Any], how: Any) -> None:
    """Validate every trial, then run the study (a parent run with a child run per trial)."""
    cfg = study_config(study)
    spec, workers, per_gpu = cfg.spec, cfg.workers, cfg.per_gpu
    dry_run, detach = how.dry_run, how.detach
    how = _executor(how)
    s, notes = build_spec(cfg)
    if cfg.quick:
        from qdcore.studies.quick_limits import cannot_quick_note  # lazy: keeps the named studies out of qd --help

        notes = [*filter(None, [cannot_quick_note(spec, cfg.source(), workers)]), *notes]
    for n in notes:
        err_console.print(f"[yellow]note:[/] {lit(n)}", highlight=False)
    if dry_run:
        pairs = validate(s)
        console.print(f"{lit(s.name)}: {len(pairs)} trials, all valid", highlight=False)
        for t, _ in pairs[:50]:
            console.print(f"  {t.index + 1:>4}  " + lit(" ".join(f"{k}={v}" for k, v in t.params.items()) or "base"),
                          highlight=False)
        return
    store = _store()
    if detach:
        from qdcore.runs.launcher import launch  # lazy: keeps the store out of qd --help

        job = launch(cfg, store=store)  # the child adds the trials and runs them
        _detached(job.run_id, job.pid)
        return
    if how["executor"] == "ray":
        from qdcore.studies.ray_executor import connect  # lazy: keeps the store out of qd --help

        connect(how["ray_plan"])  # an address that does not answer fails before the study exists
    sid = create_study(store, cfg)
    err_console.print(f"study {sid}: {lit(s.name)}, {_count(store, sid)} trials", highlight=False)
    _run(store, sid, workers, per_gpu, False, how)


app.command("run")(DeclaredCommand(run_cmd, _study_options(study_option), of(StudyStart, "how")))


def _detached(study: int, pid: int) -> None:
    console.print(f"study {study} running in the background (pid {pid}); follow it with 'qd study status "
                  f"{study}' or 'qdtui attach {study}'", highlight=False)


def _count(store, study: int) -> int:
    return sum(counts(store, study).values())


def resume_cmd(study: StudyArg, options: dict[str, Any], how: Any) -> None:
    """Continue a study: finished trials are skipped, interrupted ones resume from their checkpoints."""
    given = parse_values(StudyConfig, options)
    workers, per_gpu = given.get("workers"), given.get("per_gpu")
    store = _store()
    sid = _study_id(store, study)
    if how.retry_failed:
        n = retry(store, sid)
        err_console.print(f"{plural(n, 'failed trial')} queued again", highlight=False)
    _run(store, sid, workers, per_gpu, how.detach, _executor(how))


app.command("resume")(DeclaredCommand(resume_cmd, replace(_study_options(lambda f: f.name in RESUMABLE),
                                                          param="options"), of(StudyResume, "how")))


@app.command("status")
def status_cmd(study: StudyArg, json_out: JsonOpt = False) -> None:
    """Trials done / running / failed / queued and an ETA."""
    store = _store()
    sid = _study_id(store, study)
    rec = store.get_run(sid)
    p = progress(store, sid, int(rec.summary.get("workers", 1) or 1))
    if json_out:
        print_json({"study": sid, "name": rec.name, "status": rec.status, "counts": p.counts, "total": p.total,
                    "mean_seconds": p.mean_seconds, "eta_seconds": p.eta_seconds})
        return
    c = p.counts
    eta = f", ETA {duration(p.eta_seconds)}" if p.eta_seconds and rec.status == "running" else ""
    console.print(f"study {sid} {lit(rec.name)} ({rec.status}): {c['done']} done, {c['running']} running, "
                  f"{c['failed']} failed, {c['queued']} queued of {p.total}{eta}", highlight=False)


@app.command("list")
def list_cmd(json_out: JsonOpt = False) -> None:
    """Every study in the store with its progress."""
    store = _store()

    rows = [(r, counts(store, r.id)) for k in parent_kinds() for r in store.list_runs(kind=k)]
    if json_out:
        print_json([{"id": r.id, "name": r.name, "status": r.status, "counts": c} for r, c in rows])
        return
    if not rows:
        console.print("no studies yet: start one with 'qd study run NAME --quick' (see 'qd study named')")
        return
    t = Table("id", "name", "status", "done", "running", "failed", "queued", box=None)
    for r, c in rows:
        t.add_row(str(r.id), lit(r.name), r.status, *(str(c[k]) for k in ("done", "running", "failed", "queued")))
    console.print(t)


@app.command("named")
def named_cmd(name: Annotated[str | None, declared_argument(StudyRefs, "named")] = None) -> None:
    """The seed studies' experiments that 'qd study run NAME' knows, and where qd's protocol differs from each paper."""
    from qdcore.studies.named import NAMED, named_study  # lazy: keeps the named studies out of qd --help

    if name is not None:
        n = named_study(name)
        console.print(f"[bold]{n.name}[/] ({lit(n.source)}): {lit(n.about)}", highlight=False)
        console.print("protocol deviations from the paper (fixed or declared):", highlight=False)
        for d in n.deviations:
            console.print(f"  - {lit(d)}", highlight=False)
        console.print("the paper's claims, judged by 'qd study show' (qd's 95% interval over seeds):", highlight=False)
        for c in n.claims:
            console.print(f"  - {lit(c.text)} (paper: {lit(c.paper_label)})", highlight=False)
            if c.quick_cannot:
                console.print(f"    --quick cannot judge it: {lit(c.quick_cannot)}", highlight=False)
        if n.quick_cannot:
            console.print(f"--quick: {lit(n.quick_cannot)}; the smallest protocol that can: {lit(n.smallest)}",
                          highlight=False)
        return
    t = Table("name", "from", "what", "deviations", "claims", box=None)
    for n in NAMED.values():
        t.add_row(n.name, n.source, n.about, str(len(n.deviations)), str(len(n.claims)))
    console.print(t)
    console.print("'qd study named NAME' lists a study's deviations from its paper's protocol and its claims",
                  highlight=False)


def _table(rows: list[dict[str, Any]], cols: list[str], title: str | None = None) -> Table:
    # Headers wrap at their underscores (shown as spaces, as the app's table does) instead of being cut to
    # "first_t…"; lit: test_top1[cat] is no markup.
    t = Table(*(lit(c.replace("_", " ")) for c in cols), box=None, title=title, title_justify="left")
    for r in rows:
        t.add_row(*(lit(_fmt(r.get(c), c)) for c in cols))
    return t


def show_cmd(study: StudyArg, view: ShowOptions, json_out: JsonOpt = False) -> None:
    """The table of trials, aggregates over seeds (mean, sd, 95% interval), a terminal plot, the paper's figures and
    a verdict per claim of the paper."""
    # lazy: keeps qdcore.studies.results out of qd --help
    from qdcore.studies.results import aggregate, study_table, untrained_note
    from qdcore.studies.verdicts import study_verdicts  # lazy: keeps the named studies out of qd --help

    # lazy: keeps qdcore.studies.view out of qd --help
    from qdcore.studies.view import default_metric, plot_axes, table_columns, text_plot

    store = _store()
    sid = _study_id(store, study)
    rec = store.get_run(sid)
    table = study_table(store, sid)
    table.include_untrained = view.include_untrained
    metric, x, by = view.metric, view.x, view.by
    if json_out:
        verdicts, vnotes = study_verdicts(rec.summary.get("spec", {}), table)
        print_json({"study": sid, "name": rec.name, "status": rec.status, "axes": table.axes, "trials": table.rows,
                    "aggregates": aggregate(table), "notes": rec.summary.get("notes", []),
                    "claims": [v.as_dict() for v in verdicts], "claim_notes": vnotes})
        return
    axes = plot_axes(table)
    for key, val in (("--x", x), ("--by", by)):
        if val is not None and val not in axes:
            raise ConfigError(f"{key} {val!r} is not an axis of study {sid}; axes: {', '.join(axes) or 'none'}")
    metric = metric or default_metric(table)
    if metric not in table.metrics:
        raise ConfigError(f"--metric {metric!r} is not a column of study {sid}; columns: {', '.join(table.metrics)}")
    for n in [*rec.summary.get("notes", []), *filter(None, [untrained_note(table)])]:
        err_console.print(f"[yellow]note:[/] {lit(n)}", highlight=False)
    cols = table_columns(table, view.wide, (rec.summary.get("spec", {}).get("paper") or {}).get("show"))
    console.print(_table(table.rows, cols, f"study {sid}: {lit(rec.name)} ({rec.status})"))
    failed = [r for r in table.rows if r["status"] == "failed"]
    for r in failed:
        err_console.print(f"trial {r['trial']} failed: {lit(r['error'])}", highlight=False)
    aggs = aggregate(table, [metric])
    if any(a["n"] > 1 for a in aggs):
        keys = [a for a in axes]
        rows = [{**{k: a.get(k) for k in keys}, "n": a["n"], "mean": a.get(f"{metric}_mean"),
                 "sd": a.get(f"{metric}_sd"), "95% low": a.get(f"{metric}_lo"), "95% high": a.get(f"{metric}_hi")}
                for a in aggs]
        console.print(_table(rows, keys + ["n", "mean", "sd", "95% low", "95% high"], f"{metric} over seeds"))
    if view.plot and aggs:
        xa = x or next((a for a in axes if a != "variant"), None)
        ba = by or next((a for a in axes if a != xa), None)
        console.print(text_plot(table, metric, xa, ba, width=min(console.width, 100)), highlight=False, markup=False)
    paper = rec.summary.get("spec", {}).get("paper") or {}
    _print_paper(table, paper)
    _print_claims(rec.summary.get("spec", {}), table)


app.command("show")(DeclaredCommand(show_cmd, of(ShowOptions, "view")))


def _print_claims(spec: dict[str, Any], table) -> None:
    """The paper's claims: its number or direction, qd's estimate with its 95% interval, the verdict."""
    # lazy: keeps qdcore.studies.fit out of qd --help
    from qdcore.studies.claims import VERDICT_COLUMNS, VERDICT_STYLES, summary_line, verdict_rows
    from qdcore.studies.verdicts import study_verdicts  # lazy: keeps the named studies out of qd --help

    verdicts, notes = study_verdicts(spec, table)
    if verdicts:
        t = Table(*VERDICT_COLUMNS, box=None, title=f"claims: {summary_line(verdicts)}", title_justify="left")
        for r in verdict_rows(verdicts):
            t.add_row(lit(r["claim"]), lit(r["paper"]), r["qd (95% interval)"], str(r["seeds"]),
                      f"[{VERDICT_STYLES[r['verdict']]}]{r['verdict']}[/]")
        console.print(t)
        for v in verdicts:
            if v.verdict != "agrees":
                console.print(f"  {lit(v.claim.text)}: {lit(v.why)}", highlight=False)
    for n in notes:
        console.print(f"note: {lit(n)}", highlight=False)


def _print_paper(table, paper: dict[str, Any]) -> None:
    from qdcore.studies.view import paper_rows  # lazy: keeps qdcore.studies.view out of qd --help

    if not paper:
        return
    match = not paper.get("quick") and not paper.get("substituted")
    head = f"the paper ({paper.get('source', '')})" + ("" if match else
                                                        ": protocol differs (--quick or substituted data), for shape only")
    header, rows, matched = paper_rows(table, paper)
    if header:
        console.print(_table([dict(zip(header, r)) for r in rows], header,
                             head + (" · cells: paper · qd" if matched else "")))
    elif paper.get("ols"):
        console.print(f"[bold]{lit(head)}[/]: OLS per the study's formulas, see 'qd study fit'", highlight=False)
    if paper.get("note"):
        console.print(f"note: {lit(paper['note'])}", highlight=False)
    for d in paper.get("deviations", []):
        console.print(f"protocol: {lit(d)}", highlight=False)


def fit_cmd(study: StudyArg, opts: FitOptions, json_out: JsonOpt = False) -> None:
    """Ordinary least squares over the finished trials (statsmodels), printed like study 000's tables."""
    from qdcore.studies.fit import fit  # lazy: keeps qdcore.studies.fit out of qd --help

    # lazy: keeps qdcore.studies.results out of qd --help
    from qdcore.studies.results import study_table, untrained_note

    store = _store()
    sid = _study_id(store, study)
    rec = store.get_run(sid)
    paper = rec.summary.get("spec", {}).get("paper") or {}
    formulas = [opts.formula] if opts.formula else paper.get("formulas", [])
    if not formulas:
        raise ConfigError(f"study {sid} has no default formula: pass --formula 'test_top1 ~ AXIS + AXIS'")
    table = study_table(store, sid)
    table.include_untrained = opts.include_untrained
    fits = [fit(table, f) for f in formulas]
    note = untrained_note(table)
    if note:
        err_console.print(f"[yellow]note:[/] {lit(note)}", highlight=False)
    if json_out:
        print_json([f.as_dict() for f in fits])
        return
    for f in fits:
        console.print(f.text, highlight=False, markup=False)
        ours = paper.get("ols", {}).get(f.formula.split("~")[0].strip())
        if ours:
            t = Table("term", "qd", "paper (000)", box=None, title="beside the paper", title_justify="left")
            for name in ("Intercept", "classes", "rows"):
                if name in f.names:
                    t.add_row(name, f"{f.coefficient(name):.4g}", f"{ours[name]:.4g}")
            t.add_row("R^2", f"{f.r2:.3f}", f"{ours['r2']:.3f}")
            t.add_row("n", str(f.n), str(ours["n"]))
            console.print(t)
            if "classes" in f.names and "rows" in f.names and f.formula.startswith("test_top1"):
                console.print(f"qd: {100 * f.coefficient('classes'):+.2f} points per extra category, "
                              f"{100 * f.coefficient('rows'):+.4f} per extra row (paper: -1.88, +0.0016)",
                              highlight=False)


app.command("fit")(DeclaredCommand(fit_cmd, of(FitOptions, "opts")))


def report_cmd(study: StudyArg, opts: ReportOptions) -> None:
    """Write a report folder: CSV of all trials, PNG figures and a Markdown summary."""
    from qdcore.studies.report import write_report  # lazy: keeps the named studies out of qd --help

    store = _store()
    sid = _study_id(store, study)
    files = write_report(store, sid, Path(opts.out).expanduser(), opts.formula or None)
    console.print(f"wrote {plural(len(files), 'file')} to {lit(opts.out)}", highlight=False)


app.command("report")(DeclaredCommand(report_cmd, of(ReportOptions, "opts")))


def estimate_cmd(
    spec: SpecArg,
    timing: TimingOptions,
    quick: Annotated[bool, declared_option(StudyConfig, "quick")] = False,
    data: Annotated[str | None, declared_option(StudyConfig, "data", help="Named studies: count on this data (substitutions and caps as 'qd study run'); default: the protocol as written.")] = None,
    categories: Annotated[str | None, declared_option(StudyConfig, "categories")] = None,
    seeds: Annotated[int | None, declared_option(StudyConfig, "seeds")] = None,
    device: Annotated[str, declared_option(TrainConfig, "device", help="Where to time the engine: auto, cpu, cuda or mps.")] = "auto",
    workers: Annotated[int | None, declared_option(StudyConfig, "workers")] = None,
    per_gpu: Annotated[int | None, declared_option(StudyConfig, "per_gpu")] = None,
    max_trials: Annotated[int | None, declared_option(StudyConfig, "max_trials")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Projected hours of a study: its work counted from the spec, images/s timed here (or given). Starts no run."""
    from qdcore.studies.estimate import estimate, spec_to_estimate  # lazy: keeps the named studies out of qd --help
    cats = [c.strip() for c in categories.split(",") if c.strip()] if categories else None
    s, notes, source = spec_to_estimate(spec, quick, data, cats, seeds)
    if max_trials is not None:
        s.max_trials = max_trials
    s.check_size()
    for n in notes:
        err_console.print(f"[yellow]note:[/] {lit(n)}", highlight=False)

    def timed(key, rate) -> None:
        width, classes = key[1], key[2]
        err_console.print(f"timed {lit(key[0][0])}{f' k={width}' if width is not None else ''} ({classes} classes, "
                          f"batch {key[0][2]}): {rate.train:,.0f} train / {rate.eval:,.0f} eval images/s",
                          highlight=False)

    est = estimate(s, device, workers, per_gpu, timing.per_gpu_gain, timing.images_per_second, timing.steps, source,
                   None if json_out else timed)
    if json_out:
        print_json(est.as_dict())
        return
    for line in est.lines():
        console.print(line, highlight=False, markup=False)


app.command("estimate")(DeclaredCommand(estimate_cmd, of(TimingOptions, "timing")))


def register(root: typer.Typer) -> None:
    """Add `qd study` to the root app."""
    root.add_typer(app, name="study", help="Studies: grids of runs, resumable and parallel, with tables and fits.")

