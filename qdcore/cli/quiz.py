"""`qd quiz`: human accuracy from the quiz table (`report`) and the quiz sessions (`list`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.table import Table

from qdcore.cli.common import JsonOpt, console, lit, print_json, side
from qdcore.cli.options import DeclaredCommand, of
from qdcore.fmt import DASH, interval, percent
from qdcore.quiz.report_options import ReportFilter, SessionFilter

if TYPE_CHECKING:
    from qdcore.quiz.report import Accuracy, QuizReport

app = typer.Typer(no_args_is_help=True, help="Human accuracy: take a quiz (`start`, the terminal app's quiz), its results and sessions.")

MATRIX_MAX = 10  # larger confusion matrices (wider than 80 columns) are summarised as the most frequent mistakes


def register(root: typer.Typer) -> None:
    """Mount as `qd quiz` (called by qdcore.cli.main)."""
    root.add_typer(app, name="quiz", help="Human accuracy: take a quiz (`start`, the terminal app's quiz), its results and sessions.")


def _store():
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    return Store()


def _ci(a: Accuracy) -> str:
    return interval(a.lo, a.hi)


def _p(v: float) -> str:
    return f"{v:.3g}" if v >= 1e-4 else f"{v:.1e}"


@app.command("start", context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                                        "help_option_names": []})
def start(ctx: typer.Context) -> None:
    """Take a quiz in the terminal app: `qdtui quiz` with the same flags (--help lists them), e.g. --run RUN --ink 50
    (the first half of each drawing's ink, the model judged on the same images)."""
    from qdtui.app import main as tui_main  # a quiz is interactive: the app asks, as `qd tui` opens it

    tui_main(["quiz", *ctx.args])


def report(which: ReportFilter, json_out: JsonOpt = False) -> None:
    """Human top-1 (95% Wilson intervals) overall and per category, confusions, people vs model, leaderboard."""
    from qdcore.quiz.report import build_report  # lazy: keeps numpy out of qd --help

    store = _store()
    rep = build_report(store, participant=which.participant or None, run=which.run, session=which.session)
    if json_out:
        print_json(rep.as_dict())
        return
    if rep.answers == 0:
        console.print(f"No quiz answers in {lit(store.home)} yet. Take a quiz with [bold]qdtui quiz --name NAME[/].",
                      highlight=False)
        return
    _print_report(rep)


app.command("report")(DeclaredCommand(report, of(ReportFilter, "which")))


def _print_report(rep: QuizReport) -> None:
    o = rep.overall
    who = ", ".join(rep.participants) if len(rep.participants) <= 4 else f"{len(rep.participants)} participants"
    console.print(f"[bold]Human top-1 {percent(o.top1)}[/] (95% CI {_ci(o)}) · {o.correct}/{o.total} right · "
                  f"{rep.skipped} skipped · {who}", highlight=False)
    for note in rep.notes:
        console.print(f"[dim]note: {lit(note)}[/]", highlight=False)

    t = Table(title="Per category", title_justify="left", box=box.SIMPLE_HEAD, header_style="bold")
    for col, just in [("category", "left"), ("right", "right"), ("top-1", "right"), ("95% CI", "right"),
                      ("skipped", "right"), ("most taken for", "left")]:
        t.add_column(col, justify=side(just))
    for r in rep.per_category:
        a = r.accuracy
        t.add_row(lit(r.category), f"{a.correct}/{a.total}", percent(a.top1), _ci(a), str(r.skipped), lit(r.top_mistake or DASH))
    console.print(t)

    c = rep.confusion
    if len(c.classes) <= MATRIX_MAX:
        m = Table(title="Confusion (rows: truth, columns: answer)", title_justify="left", box=box.SIMPLE_HEAD,
                  header_style="bold", padding=(0, 0, 0, 1))
        m.add_column("truth \\ answer", max_width=14, no_wrap=True, overflow="ellipsis")
        for name in c.classes:
            m.add_column(name[:5], justify="right", no_wrap=True)
        m.add_column("skip", justify="right")
        for i, name in enumerate(c.classes):
            cells = [(f"[green]{v}[/]" if i == j and v else f"[red]{v}[/]" if v else "[dim]·[/]")
                     for j, v in enumerate(c.matrix[i])]
            m.add_row(lit(name), *cells, str(c.skipped[i]) if c.skipped[i] else "[dim]·[/]")
        console.print(m)
    else:
        pairs = c.pairs(10)
        if pairs:
            m = Table(title="Most frequent mistakes", title_justify="left", box=box.SIMPLE_HEAD, header_style="bold")
            for col in ("truth", "answered", "times"):
                m.add_column(col, justify="right" if col == "times" else "left")
            for truth, ans, n in pairs:
                m.add_row(lit(truth), lit(ans), str(n))
            console.print(m)

    v = rep.vs_model
    if v is not None and v.matched:
        pm = Table(title=f"People vs run {v.run_id} ({v.run_name}) on the same {v.matched} answers",
                   title_justify="left", box=box.SIMPLE_HEAD, header_style="bold")
        pm.add_column("")
        pm.add_column("model right", justify="right")
        pm.add_column("model wrong", justify="right")
        pm.add_row("people right", f"{v.both_right} (both)", f"{v.only_people} (only people)")
        pm.add_row("people wrong", f"{v.only_model} (only model)", f"{v.both_wrong} (both wrong)")
        console.print(pm)
        test = v.test
        kind = "exact binomial" if test.exact else "chi-square, continuity-corrected"
        console.print(f"people {percent(v.people.top1)} ({_ci(v.people)}) vs model {percent(v.model.top1)} "
                      f"({_ci(v.model)}); McNemar ({kind}) b={test.b} c={test.c} p={_p(test.p_value)}",
                      highlight=False)
        if v.unmatched:
            console.print(f"[dim]{v.unmatched} answers are on drawings outside run {v.run_id}'s test split[/]",
                          highlight=False)

    lb = Table(title="Leaderboard", title_justify="left", box=box.SIMPLE_HEAD, header_style="bold",
               padding=(0, 1), show_edge=False)
    for col, just in [("#", "right"), ("participant", "left"), ("sessions", "right"), ("right", "right"),
                      ("top-1", "right"), ("95% CI", "right"), ("skipped", "right"), ("median s", "right")]:
        lb.add_column(col, justify=side(just), no_wrap=True, overflow="ellipsis",
                      max_width=16 if col == "participant" else None)
    for leader in rep.leaderboard:
        a = leader.accuracy
        lb.add_row(str(leader.rank), lit(leader.participant), str(leader.sessions), f"{a.correct}/{a.total}", percent(a.top1),
                   _ci(a), str(leader.skipped), DASH if leader.median_ms is None else f"{leader.median_ms / 1000:.1f}")
    console.print(lb)


def session_rows(store: Any, participant: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
    """One JSON-able row per quiz session, oldest first."""
    from qdcore.quiz.report import select_answers, session_mode  # lazy: keeps numpy out of qd --help

    if participant is not None:
        select_answers(store, participant)  # one-line error for an empty or unknown name
    answers = store.quiz_answers(participant=participant)
    right: dict[int, int] = {}
    for a in answers:
        right[a.session] = right.get(a.session, 0) + int(a.correct)
    rows = []
    for s in store.quiz_sessions(participant=participant, open_only=open_only):
        n_items = int(s.config.get("n_items") or s.config.get("quiz", {}).get("n") or 0)
        state = "finished" if s.ended is not None else "complete" if n_items and s.answered >= n_items else "open"
        rows.append({"session": s.id, "participant": s.participant, "state": state, "answered": s.answered,
                     "drawings": n_items, "right": right.get(s.id, 0), "mode": session_mode(s.config),
                     "source": s.config.get("label") or s.config.get("source", ""), "run": s.run_id, "started": s.started, "ended": s.ended})
    return rows


def list_sessions(which: SessionFilter, json_out: JsonOpt = False) -> None:
    """Quiz sessions: who, how far, how well, on which drawings."""
    store = _store()
    rows = session_rows(store, which.participant or None, which.open_only)
    if which.open_only:
        rows = [r for r in rows if r["state"] == "open"]
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print(f"No quiz sessions in {lit(store.home)}. Take a quiz with [bold]qdtui quiz --name NAME[/].",
                      highlight=False)
        return

    t = Table(title=f"Quiz sessions in {store.home}", title_justify="left", box=box.SIMPLE_HEAD, header_style="bold",
              padding=(0, 0), show_edge=False)
    # Widths sum to 80 columns: figures never wrap; names and sources are cut with an ellipsis.
    for col, just, width in [("id", "right", 3), ("participant", "left", 12), ("state", "left", 8),
                             ("done", "right", 5), ("right", "right", 5), ("mode", "left", 10),
                             ("source", "left", 18), ("started", "left", 11)]:
        cut = col in ("participant", "source", "mode")
        t.add_column(col, justify=side(just), no_wrap=True, overflow="ellipsis", min_width=None if cut else width,
                     max_width=width if cut else None)
    for r in rows:
        style = {"open": "cyan", "complete": "green", "finished": "green"}[r["state"]]
        t.add_row(str(r["session"]), lit(r["participant"]), f"[{style}]{r['state']}[/]", f"{r['answered']}/{r['drawings']}",
                  str(r["right"]), r["mode"].replace("all ", ""), r["source"],
                  time.strftime("%m-%d %H:%M", time.localtime(r["started"])))
    console.print(t)


app.command("list")(DeclaredCommand(list_sessions, of(SessionFilter, "which")))
