"""`qd gan`: train GANs into the run store, draw samples in Google's npy layout, make progress GIFs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from qdcore.analysis.gan_options import GifOptions, SampleOptions, SheetOptions
from qdcore.cli.common import JsonOpt, console, err_console, lit, print_json
from qdcore.cli.options import DeclaredCommand, declared_argument, of, with_options
from qdcore.cli.progress import RichProgressSink
from qdcore.cli.train import relaunch_under_torchrun, train_or_resume
from qdcore.errors import ConfigError
from qdcore.events import EpochEnd, Event, RunFinished
from qdcore.fmt import literal, plural
from qdcore.runs.kinds import DRAW, get_kind, require
from qdcore.runs.refs import resolve_ref
from qdcore.runs.start_options import StartOptions
from qdcore.runs.view_options import RunRefs
from qdcore.train.torchrun import INTERRUPTED_EXIT

app = typer.Typer(no_args_is_help=True, help="GANs (study 003's DCGAN, per-class GANs, study 001's AC-GAN).")

RunArg = Annotated[str, declared_argument(RunRefs, "gan_run")]


def _fmt(v: Any, spec: str) -> str:
    return "—" if v is None or v != v else format(v, spec)


class GanProgressSink(RichProgressSink):
    """The classifier progress display with GAN epoch lines (losses, D outputs, judged quality)."""

    def window(self, event) -> str:
        """G's loss over the logging window (a GAN has no accuracy)."""
        return super().window(None) if event is None else f"G loss [cyan]{_fmt(event.loss, '.3f')}[/]"

    def __call__(self, event: Event) -> None:
        if isinstance(event, EpochEnd):
            m = event.metrics
            line = (f"epoch {event.epoch:>3}/{self.total_epochs} G {_fmt(m.get('train/g_loss'), '.3f')} "
                    f"D {_fmt(m.get('train/d_loss'), '.3f')} D(x) {_fmt(m.get('train/d_real'), '.2f')} "
                    f"D(G(z)) {_fmt(m.get('train/d_fake'), '.2f')}")
            if "quality/recognised" in m:
                line += (f" │ judged {_fmt(100 * m['quality/recognised'], '.0f')}% "
                         f"FD {_fmt(m.get('quality/fid'), '.1f')}")
                if m.get("quality/collapse") == 1.0:
                    line += " [bold red]collapse?[/]"
            line += f" │ {event.seconds:.1f}s"
            target = self.progress.console if self.progress is not None else self.console
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, completed=event.step, epoch=min(event.epoch + 1, self.total_epochs))
            target.print(line, highlight=False, soft_wrap=True)
        elif isinstance(event, RunFinished):
            self.close()
            s = event.summary
            if event.status == "done":
                judged = (f" · judged {100 * s['recognised']:.1f}% recognised, Frechet distance {s['fid']:.2f}"
                          if s.get("recognised") is not None else "")
                self.console.print(f"[green]done[/]: {plural(s.get('epochs'), 'epoch')} · {s.get('train_seconds', 0):.1f} s "
                                   f"training · {s.get('images_per_second', 0):,.0f} real img/s{judged}",
                                   highlight=False, soft_wrap=True)
            else:
                self.console.print(f"[yellow]interrupted[/] after {plural(s.get('epochs', 0), 'complete epoch')}",
                                   highlight=False, soft_wrap=True)
        else:
            super().__call__(event)


def _store():
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    return Store()


def _run_id(store, ref: str) -> int:
    return resolve_ref(store, ref, ["gan"], start="qd gan train")


def gan_run_dir(store, ref: str) -> tuple[int, Path]:
    """(id, folder) of a GAN run; a one-line error for a classifier run."""
    run_id = _run_id(store, ref)
    require(store, run_id, DRAW, "'qd gan'")
    return run_id, store.run_dir(run_id, create=False)


# -- qd gan train: `qd train` for the gan kind, options generated from GanConfig's declarations ----------------


def _gan_train(options: dict[str, Any], start: StartOptions) -> None:
    """Train a GAN into the run store (Ctrl-C or SIGTERM: stop after the step, keep a checkpoint)."""
    relaunch_under_torchrun(start, options.get("device"))
    json_out = start.json
    progress = GanProgressSink(err_console if json_out else console)
    outcome = train_or_resume(options, progress, start, default_kind="gan", resume_ref=_run_id)
    if outcome.run_id is None:  # a rank other than 0 under torchrun: rank 0 reports
        return
    report = {"run_id": outcome.run_id, "status": outcome.status, "run_dir": str(outcome.run_dir),
              **outcome.summary}
    if json_out:
        print_json(report)
    elif outcome.status == "done":
        console.print(f"run {outcome.run_id}: samples and generators in {lit(outcome.run_dir)}; "
                      f"'qd gan gif {outcome.run_id} --out progress.gif' shows the progress", highlight=False)
    if outcome.status != "done":
        if not json_out:
            err_console.print(f"run {outcome.run_id} {outcome.status}; continue it with 'qd gan train --resume "
                              f"{outcome.run_id}'", highlight=False)
        raise typer.Exit(INTERRUPTED_EXIT)


def _train_command():
    return with_options(_gan_train, lambda: [get_kind("gan")], of(StartOptions, "start"))


app.command("train")(_train_command())


def sample_cmd(run: RunArg, opts: SampleOptions, json_out: JsonOpt = False) -> None:
    """Write generated drawings in Google's numpy bitmap format, readable by every other qd command."""
    from qdcore.analysis.gan_export import sample_run, write_npy  # lazy: keeps numpy out of qd --help

    store = _store()
    run_id, run_dir = gan_run_dir(store, run)
    if not opts.out.lower().endswith(".npy"):
        raise ConfigError(f"--out {opts.out!r} must end in .npy (Google's numpy bitmap format)")
    images, what = sample_run(run_dir, opts.category, opts.n, opts.epoch, opts.seed)
    path = write_npy(images, Path(opts.out))
    if json_out:
        print_json({"run_id": run_id, "out": str(path), "n": int(len(images)), "what": what})
    else:
        console.print(literal(f"{what} from run {run_id} -> {path}"), highlight=False, markup=False)


def sheet_cmd(run: RunArg, opts: SheetOptions) -> None:
    """A sample sheet: generated drawings with the judge's class and confidence under each (green: as intended)."""
    from qdcore.analysis.gan_export import write_sheet  # lazy: keeps numpy out of qd --help

    store = _store()
    run_id, run_dir = gan_run_dir(store, run)
    _, line = write_sheet(store, run_id, run_dir, Path(opts.out), opts.category, opts.n, opts.epoch, opts.seed)
    console.print(literal(f"{line} -> {Path(opts.out).expanduser()}"), highlight=False, markup=False)


def gif_cmd(run: RunArg, opts: GifOptions) -> None:
    """Study 003's progress GIF: one frame per epoch's fixed-noise samples, class rows labelled."""
    from qdcore.analysis.gan_export import progress_gif  # lazy: keeps numpy out of qd --help

    store = _store()
    run_id, run_dir = gan_run_dir(store, run)
    path, frames, best = progress_gif(run_dir, Path(opts.out), opts.scale, opts.ms)
    kept = f"; epoch {best} is the best (what 'qd gan sample' draws with)" if best is not None else ""
    console.print(f"{frames} frames (one per epoch) of run {run_id} -> {literal(path)}{kept}", highlight=False,
                  markup=False)


app.command("sample")(DeclaredCommand(sample_cmd, of(SampleOptions, "opts")))
app.command("sheet")(DeclaredCommand(sheet_cmd, of(SheetOptions, "opts")))
app.command("gif")(DeclaredCommand(gif_cmd, of(GifOptions, "opts")))


@app.command("quality")
def quality_cmd(run: RunArg, json_out: JsonOpt = False) -> None:
    """The per-epoch quality table of a GAN run: losses, D outputs, judged share, Frechet distance, diversity, speckle."""
    from qdcore.analysis.gan_quality import summarize_history  # lazy: keeps numpy out of qd --help

    store = _store()
    run_id, run_dir = gan_run_dir(store, run)
    rec = store.get_run(run_id)
    best_by = rec.config.get("best_by", "fid")
    rows = summarize_history(_history(store, run_id, run_dir), best_by)
    # Here, not at the top: importing a kind module registers the kind, and the kinds' order (help, messages,
    # the app's lists) is the order runs.kinds loads them in.
    from qdcore.kinds.gan import judge_note

    note = judge_note(rec.config, rec.summary)
    if json_out:
        print_json({"run_id": run_id, "best_by": best_by, "epochs": rows, **({"note": note} if note else {})})
        return
    if not rows:
        console.print(f"run {run_id} has no finished epoch yet", highlight=False)
        return
    per_class = sorted({k for r in rows for k in r if k.startswith("recognised/")})
    cols = [("epoch", "epoch", "d"), ("G", "train/g_loss", ".3f"), ("D", "train/d_loss", ".3f"),
            ("D(x)", "train/d_real", ".2f"), ("D(G(z))", "train/d_fake", ".2f"),
            ("judged", "quality/recognised", "%"), *[(k.split("/", 1)[1], k, "%") for k in per_class],
            ("FD", "quality/fid", ".2f"), ("diversity", "quality/diversity", ".2f"),
            ("speckle", "quality/speckle_ratio", ".1f"), ("nearest", "quality/nearest", ".3f")]
    t = Table(title=f"run {run_id} quality per epoch (* the best by {best_by}: what 'qd gan sample' draws with)",
              title_justify="left", show_edge=False)
    for name, _, _ in cols:
        t.add_column(name, justify="right")
    for r in rows:
        cells = []
        for _, key, spec in cols:
            v = r.get(key)
            cells.append("—" if v is None or v != v else f"{100 * v:.1f}%" if spec == "%" else format(v, spec))
        cells[0] += "*" if r.get("best") else " "
        t.add_row(*cells)
    console.print(t)
    kept = next((r for r in rows if r.get("best")), None)
    if kept is not None and kept.get("quality/recognised_low") is not None:
        console.print(f"kept epoch {kept['epoch']}: judged {100 * kept['quality/recognised']:.1f}% (95% interval "
                      f"{100 * kept['quality/recognised_low']:.1f}–{100 * kept['quality/recognised_high']:.1f}% over "
                      f"{int(kept['quality/judged_n']):,} samples; the epoch was chosen on these same samples, so "
                      "fresh ones from 'qd gan sample' may score a little lower)", highlight=False, markup=False)
    real = rows[-1].get("quality/speckle_real")
    console.print("diversity: the samples' mean pairwise distance in the judge's features over the real drawings' "
                  "own (1.0: as varied); speckle: ink pixels with at most one inked neighbour per drawing, as a "
                  f"multiple of the real drawings' ({_fmt(real, '.2f')} a drawing)", highlight=False, markup=False)
    _class_table(rows, [k.split("/", 1)[1] for k in per_class])
    if note:
        console.print(f"judged, FD: {literal(note)}", highlight=False, markup=False)


def _class_table(rows: list[dict], classes: list[str]) -> None:
    """Per class at the kept best epoch (else the last): judged share, Frechet distance, diversity, speckle."""
    row = next((r for r in rows if r.get("best")), rows[-1])
    if not classes or f"fid/{classes[0]}" not in row:
        return
    t = Table(title=f"per class at epoch {row['epoch']}", title_justify="left", show_edge=False)
    for name in ("class", "judged", "FD", "diversity", "speckle"):
        t.add_column(name, justify="right")
    for c in classes:
        v = row.get(f"recognised/{c}")
        t.add_row(literal(c), "—" if v is None or v != v else f"{100 * v:.1f}%", _fmt(row.get(f"fid/{c}"), ".2f"),
                  _fmt(row.get(f"diversity/{c}"), ".2f"), _fmt(row.get(f"speckle/{c}"), ".1f"))
    console.print(t)


def _history(store, run_id: int, run_dir: Path) -> dict[str, list[float]]:
    """Per-epoch curves from the store (live runs included), as {key: [values]} with an 'epoch' list."""
    from qdcore.analysis.gan_quality import CLASS_PREFIXES  # lazy: keeps numpy out of qd --help

    curves = store.history(run_id)
    epochs = sorted({e for pts in curves.values() for e, _ in pts})
    out: dict[str, list[float]] = {"epoch": epochs}
    for key, pts in curves.items():
        d = dict(pts)
        name = key if key.startswith(("train/", "quality/", *CLASS_PREFIXES)) else None
        if name is None:
            continue
        out[name] = [d.get(e, float("nan")) for e in epochs]
    return out


def register(root: typer.Typer) -> None:
    """Add `qd gan` to the root app."""
    root.add_typer(app, name="gan", help="Train GANs, draw samples, make progress GIFs.")
