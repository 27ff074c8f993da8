"""`qd runs`: the experiment tracker (list, show, compare, remove runs)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from qdcore.cli.common import JsonOpt, console, lit, print_json
from qdcore.cli.options import DeclaredCommand, declared_argument, of
from qdcore.errors import ConfigError
from qdcore.fmt import DASH, interval, literal, percent, plural, printable, size
from qdcore.fmt import duration as _dur
from qdcore.runs.refs import evaluable_kinds, resolve_ref
from qdcore.runs.view_options import CompareOptions, ExportOptions, RemoveOptions, RunFilter, RunRefs

if TYPE_CHECKING:
    from qdcore.store import RunRecord, Store

app = typer.Typer(no_args_is_help=True, help="List, show, compare and remove runs in the store.")

RunArg = Annotated[str, declared_argument(RunRefs, "run")]
STATUS_STYLE = {"running": "bold cyan", "done": "green", "failed": "bold red", "interrupted": "yellow"}
# Per-epoch curves in the order a reader expects; others follow alphabetically.
CURVE_ORDER = ["train/loss", "train/top1", "val/loss", "val/top1", "val/top5", "train/lr", "train/seconds"]


def _store() -> Store:
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    return Store()


def _resolve(store: Store, ref: str) -> int:
    """A run id from 'N' or 'last' (the newest run of any kind)."""
    return resolve_ref(store, ref)


def tracker_row(r: RunRecord, human: Any = None) -> dict[str, Any]:
    """The tracker values of one run (qdcore.runs.tracker)."""
    from qdcore.runs.tracker import tracker_row as row  # lazy: keeps qdcore.runs.tracker out of qd --help

    return row(r, human)


def _baselines(store: Store, runs: list[RunRecord]) -> dict[int, Any]:
    """Human quiz accuracy per classifier run (empty at the cost of one query when nobody took a quiz)."""
    if not store.quiz_participants():
        return {}
    from qdcore.quiz.report import human_baselines  # lazy: keeps numpy out of qd --help

    kinds = set(evaluable_kinds())
    return human_baselines(store, [r.id for r in runs if r.kind in kinds])


def _human(base: Any) -> str:
    """'91% (n=40)' for the runs table."""
    if base is None or base.top1 is None:
        return DASH
    return f"{percent(base.top1, 0)} (n={base.accuracy.total:,})"


def _human_line(base: Any) -> str:
    """People's accuracy with its interval, and the model's on the very same drawings."""
    acc = base.accuracy
    who = f"{base.participants} {'person' if base.participants == 1 else 'people'}"
    line = f"{percent(acc.top1)}"
    if acc.lo is not None:
        line += f" (95% CI {percent(acc.lo)}–{percent(acc.hi)})"
    line += f" on {acc.total:,} quiz answers by {who}"
    if base.model is not None and base.model.top1 is not None:
        line += f"; the model {percent(base.model.top1)} on the same drawings"
    return line


# -- formatting --------------------------------------------------------------------------------


def _count(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else DASH if v is None else str(v)


def _val(v: Any) -> str:
    if v is None:
        return DASH
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_val(x) for x in v) if len(v) <= 12 else f"[{len(v)} items]"
    return str(v)


def _data(v: Any) -> str:
    """A data source for a narrow column: long paths keep their last two parts."""
    text = _val(v)
    parts = text.rstrip("/").split("/")
    return "…/" + "/".join(parts[-2:]) if len(text) > 20 and len(parts) > 2 else text


def _short(v: float | None) -> str:
    return DASH if v is None else "nan" if math.isnan(v) else f"{v:.4g}"


def _history_cell(key: str, v: float | None) -> str:
    """A per-epoch value: top-1/top-5 as percentages, seconds as durations, the rest to 4 significant digits."""
    if v is None or math.isnan(v):
        return _short(v)
    if key.endswith(("top1", "top5", "accuracy")):
        return f"{100 * v:.1f}%"
    if key.endswith("seconds"):
        return _dur(v)
    return _short(v)


def _when(t: float | None) -> str:
    return DASH if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _status(s: str) -> str:
    return f"[{STATUS_STYLE.get(s, 'white')}]{s}[/]"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _clean(o: Any) -> Any:
    """JSON-safe: NaN/inf become null (strict parsers reject NaN)."""
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def _curve_keys(history: dict[str, Any]) -> list[str]:
    return [k for k in CURVE_ORDER if k in history] + sorted(k for k in history if k not in CURVE_ORDER)


# -- commands ----------------------------------------------------------------------------------


def list_runs(which: RunFilter, json_out: JsonOpt = False) -> None:
    """The overview table of every run, newest first (study 001's tracker)."""
    store = _store()
    runs = store.list_runs(kind=which.kind, status=which.status, limit=which.limit)
    human = _baselines(store, runs)
    if json_out:
        print_json(_clean([{**r.as_dict(), **tracker_row(r, human.get(r.id))} for r in runs]))
        return
    if not runs:
        console.print(f"No runs in {lit(store.home)} yet. Start one with [bold]qd train[/].", highlight=False)
        return

    # No vertical rules: the tracker columns fit the terminal (80 columns over SSH keep the hyperparameters).
    # lazy: keeps qdcore.runs.tracker out of qd --help
    from qdcore.runs.tracker import row_texts, row_values, table_columns

    cols = table_columns(runs, console.width, human=bool(human))
    table = Table(title=f"Runs in {lit(store.home)}", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD,
                  padding=(0, 0), show_edge=False)
    for c in cols:
        table.add_column(c.header, justify="right" if c.right else "left", no_wrap=True, overflow="ellipsis",
                         width=c.width - 1 if c.key != "name" else None, min_width=c.width - 1)
    for r in runs:
        base = human.get(r.id)
        values = row_values(r, None if base is None else base.top1)
        texts = row_texts(r, values)
        texts["human"] = _human(base) if base is not None else DASH
        cells = [Text(literal(texts.get(c.key, ""))) for c in cols]  # names and paths as they are
        if cols[-1].key == "status":
            cells[-1] = Text(r.status, style=STATUS_STYLE.get(r.status, "white"))
        table.add_row(*cells)
    console.print(table)


app.command("list")(DeclaredCommand(list_runs, of(RunFilter, "which")))


@app.command("show")
def show(run: RunArg, json_out: JsonOpt = False) -> None:
    """One run: config, summary, per-epoch history and artifact files."""
    store = _store()
    rec = store.get_run(_resolve(store, run))
    history = store.history(rec.id)
    folder = store.home / "runs" / str(rec.id)
    files = [(str(p), (folder / p).stat().st_size) for p in store.artifacts(rec.id)]
    human = _baselines(store, [rec]).get(rec.id)
    if json_out:
        from qdcore.analysis.metrics import summary_intervals  # lazy: keeps numpy out of qd --help

        print_json(_clean({"run": rec.as_dict(), "history": {k: [list(x) for x in v] for k, v in history.items()},
                           "test_ci": summary_intervals(rec.summary),
                           "artifacts": [{"name": n, "bytes": b} for n, b in files], "dir": str(folder),
                           "human": None if human is None else human.as_dict()}))
        return

    console.print(f"[bold]Run {rec.id}[/] {lit(rec.name)}  ({rec.kind}, {_status(rec.status)})", highlight=False)
    info = Table.grid(padding=(0, 2))
    info.add_column(style="dim")
    info.add_column()
    for k, v in [("started", _when(rec.started)), ("ended", _when(rec.ended)), ("wall time", _dur(rec.wall_seconds)),
                 ("device", rec.device or DASH), ("data fingerprint", rec.fingerprint or DASH),
                 ("process", f"pid {rec.pid} on {rec.host}" if rec.pid else DASH), ("folder", str(folder))]:
        info.add_row(k, lit(v))
    if rec.summary.get("test_top1") is not None or rec.summary.get("test_top5") is not None:
        from qdcore.analysis.metrics import summary_intervals  # lazy: keeps numpy out of qd --help

        cis = summary_intervals(rec.summary)
        for key, label in (("test_top1", "test top-1"), ("test_top5", "test top-5")):
            if rec.summary.get(key) is not None:
                info.add_row(label, _with_ci(rec.summary[key], cis[key], rec.summary.get("num_test")))

    if rec.kind in evaluable_kinds():
        info.add_row("people (quiz)", DASH if human is None else _human_line(human))
    console.print(info, highlight=False)

    for title, d in (("Config", rec.config), ("Summary", rec.summary)):
        t = Table(title=title, title_justify="left", header_style="bold", show_header=False)
        t.add_column("key", style="cyan")
        t.add_column("value", overflow="fold")
        for k, v in _flat(d).items():
            t.add_row(lit(k), lit(_metric(k, v) if d is rec.summary else _val(v)))
        console.print(t if d else f"[dim]{title}: (empty)[/]")

    if history:
        keys = _curve_keys(history)
        epochs = sorted({e for v in history.values() for e, _ in v})
        by_key = {k: dict(v) for k, v in history.items()}
        t = Table(title="History (per epoch)", title_justify="left", header_style="bold")
        # the epoch column never shrinks to 'e…'; rates print as percentages like the summary, which
        # also keeps the table within 80 columns
        t.add_column("epoch", justify="right", no_wrap=True, min_width=5)
        for k in keys:
            t.add_column(k.replace("/", "\n"), justify="right", no_wrap=True)
        for e in epochs:
            t.add_row(str(e), *[_history_cell(k, by_key[k].get(e)) for k in keys])
        console.print(t)
    else:
        console.print("[dim]History: no epochs recorded[/]")

    _print_log(folder)
    if files:
        t = Table(title="Artifacts", title_justify="left", header_style="bold")
        t.add_column("file")
        t.add_column("size", justify="right")
        for n, b in files:
            t.add_row(lit(n), size(b))
        console.print(t)
    else:
        console.print("[dim]Artifacts: none[/]")


def _with_ci(v: Any, ci: list[float] | None, n: Any) -> str:
    """'72.1% (95% CI 66.1–77.4%, 240 test drawings)'; just the rate when the count is unknown."""
    if ci is None:
        return percent(v)
    return f"{percent(v)} (95% CI {interval(ci[0], ci[1])}, {n:,} test drawings)"


def _print_log(folder: Any, lines: int = 12) -> None:
    """The end of the run's train.log (written by runs started with the launcher)."""
    from qdcore.runs.launcher import LOG_FILE  # lazy: keeps the store out of qd --help

    path = folder / LOG_FILE
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 16384))
            tail = f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return
    console.print(Text(f"Log ({path}, last {len(tail)} lines)", style="bold"))
    for line in tail:
        console.print(Text(line), soft_wrap=True)


def compare(
    runs: Annotated[list[str], declared_argument(RunRefs, "compared")],
    opts: CompareOptions,
    json_out: JsonOpt = False,
) -> None:
    """Runs side by side: config differences highlighted, then metrics."""
    store = _store()
    ids = [_resolve(store, r) for r in runs]
    if len(ids) < 2:
        raise ConfigError("compare needs at least two runs, e.g. 'qd runs compare 3 7'")
    recs = [store.get_run(i) for i in ids]
    configs = [_flat(r.config) for r in recs]
    summaries = [_flat(r.summary) for r in recs]
    histories = [store.history(r.id) for r in recs]
    ckeys = _union(configs)
    skeys = _union(summaries)
    differs = [k for k in ckeys if len({repr(c.get(k)) for c in configs}) > 1]
    final: dict[str, list[Any]] = {}
    for k in _curve_keys({k: 1 for h in histories for k in h}):
        final[f"last {k}"] = [h[k][-1][1] if h.get(k) else None for h in histories]
        if k.endswith("top1") or k.endswith("top5"):
            final[f"best {k}"] = [max((v for _, v in h[k] if not math.isnan(v)), default=None) if h.get(k) else None
                                  for h in histories]
    final["epochs"] = [max((e for v in h.values() for e, _ in v), default=None) for h in histories]

    if json_out:
        print_json(_clean({"runs": [r.as_dict() for r in recs],
                           "config": {k: [c.get(k) for c in configs] for k in ckeys}, "differs": differs,
                           "summary": {k: [s.get(k) for s in summaries] for k in skeys}, "final": final}))
        return

    t = Table(title="Compare runs", title_justify="left", header_style="bold", show_lines=False)
    t.add_column("", style="cyan")
    for r in recs:
        t.add_column(f"#{r.id} {lit(r.name)}", overflow="fold")
    t.add_row("kind", *[r.kind for r in recs])
    t.add_row("status", *[_status(r.status) for r in recs])
    t.add_row("device", *[lit(r.device or DASH) for r in recs])
    t.add_row("data fingerprint", *[(r.fingerprint or DASH)[:16] for r in recs], end_section=True)
    shown = [k for k in ckeys if k in differs or not opts.diff_only]
    for i, k in enumerate(shown):
        vals = [lit(_val(c.get(k))) for c in configs]
        if k in differs:
            t.add_row(f"[bold yellow]≠ {lit(k)}[/]", *[f"[bold yellow]{v}[/]" for v in vals], end_section=i == len(shown) - 1)
        else:
            t.add_row(f"  {lit(k)}", *[f"[dim]{v}[/]" for v in vals], end_section=i == len(shown) - 1)
    for k in skeys:
        t.add_row(lit(k), *[lit(_metric(k, s.get(k))) for s in summaries])
    for k, vals in final.items():
        t.add_row(lit(k), *[lit(_val(v)) for v in vals])
    console.print(t)
    if not differs:
        console.print("[dim]The configs are identical.[/]")


app.command("compare")(DeclaredCommand(compare, of(CompareOptions, "opts")))


def _metric(key: str, v: Any) -> str:
    if key.endswith(("top1", "top5", "accuracy")):
        return percent(v)
    if key.endswith("seconds"):
        return _dur(v)
    if key == "params":
        return _count(v)
    return _val(v)


def _union(dicts: list[dict[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    return list(keys)


def rm(
    runs: Annotated[list[str], declared_argument(RunRefs, "removed")],
    opts: RemoveOptions,
    json_out: JsonOpt = False,
) -> None:
    """Delete runs: their rows, metrics and runs/<id>/ folders."""
    store = _store()
    ids = list(dict.fromkeys(_resolve(store, r) for r in runs))
    recs = [store.get_run(i) for i in ids]  # every id must exist before anything is deleted
    if not opts.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"refusing to delete {plural(len(recs), 'run')} without confirmation: pass --yes")
        names = ", ".join(f"#{r.id} {literal(r.name)}" for r in recs)
        if not typer.confirm(f"Delete {names} and their files?", default=False):
            raise typer.Abort()
    for r in recs:
        store.delete_run(r.id, force=opts.force)
    if json_out:
        print_json({"deleted": ids})
    else:
        console.print(f"Deleted {plural(len(ids), 'run')}: {', '.join(str(i) for i in ids)}", highlight=False)


app.command("rm")(DeclaredCommand(rm, of(RemoveOptions, "opts")))


def export(
    runs: Annotated[list[str], declared_argument(RunRefs, "exported")],
    opts: ExportOptions,
    json_out: JsonOpt = False,
) -> None:
    """Export runs' per-step and per-epoch metrics for other tools: CSV, TensorBoard event files or JSON."""
    from qdcore.store.export import export_runs  # lazy: keeps the store out of qd --help

    store = _store()
    ids = [_resolve(store, r) for r in runs]
    fmt, out = opts.format, Path(opts.out)
    written = export_runs(store, ids, fmt.strip().lower(), out)
    if json_out:
        print_json({"format": fmt, "files": [str(p) for p in written]})
        return
    for p in written:
        console.print(f"wrote {printable(p)}", highlight=False, markup=False, soft_wrap=True)
    if fmt.strip().lower() == "tensorboard":
        console.print(f"view them with: tensorboard --logdir {printable(out)}", highlight=False, markup=False,
                      soft_wrap=True)


app.command("export")(DeclaredCommand(export, of(ExportOptions, "opts")))
