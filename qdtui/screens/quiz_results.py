"""Quiz results: human top-1 with 95% intervals per category, leaderboard, people vs model, confusions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from qdcore.fmt import DASH, interval, literal, percent
from qdtui.literal import plain
from qdtui.loaders import user_message
from qdtui.store_gateway import stores
from qdtui.widgets.confusion import ConfusionMatrix
from qdtui.widgets.header import Header
from qdtui.workers import post


@dataclass
class ReportLoaded(Message):
    """The report was computed (or `error` says why not)."""

    report: Any
    error: str = ""


def ci(acc: Any) -> str:
    """'53.1–88.8%' for an Accuracy."""
    return interval(acc.lo, acc.hi)


def p_value(v: float) -> str:
    """A p-value in 3 significant digits."""
    return f"{v:.3g}" if v >= 1e-4 else f"{v:.1e}"


def summary_text(rep: Any) -> Text:
    """The headline lines of a report."""
    t = Text()
    if rep.answers == 0:
        t.append("No quiz answers yet", style="bold")
        t.append(" — take a quiz (n on the quiz screen, or `qdtui quiz --name NAME`).")
        return t
    o = rep.overall
    t.append(f"Human top-1 {percent(o.top1)}", style="bold")
    who = ", ".join(rep.participants) if len(rep.participants) <= 3 else f"{len(rep.participants)} participants"
    t.append(f" (95% CI {ci(o)}) · {o.correct}/{o.total} right · {rep.skipped} skipped · {who}")
    v = rep.vs_model
    if v is not None and v.matched:
        name = v.run_name if len(v.run_name) <= 16 else v.run_name[:15] + "…"
        t.append(f"\nSame drawings, run {v.run_id} ({literal(name)}): people {percent(v.people.top1)}, "
                 f"model {percent(v.model.top1)}, McNemar p={p_value(v.test.p_value)}")
    for note in rep.notes:
        t.append(f"\n{note}", style="dim")
    return t


def vs_model_text(rep: Any) -> Text:
    """The 2x2 table of people vs model and McNemar's test."""
    v = rep.vs_model
    if v is None:
        return Text("No model to compare with: open the results from a run's quiz, or give a run "
                    "(`qd quiz report --run RUN`).", style="dim")
    if not v.matched:
        return Text(f"No quiz answer is on a drawing of run {v.run_id}'s test split.", style="dim")
    w = 14
    t = Text()
    t.append(f"People vs run {v.run_id} ({literal(v.run_name)}) on {v.matched} answers\n\n", style="bold")
    t.append(" " * w + "model right".rjust(w) + "model wrong".rjust(w) + "\n", style="bold")
    t.append("people right".ljust(w))
    t.append(str(v.both_right).rjust(w), style="green")
    t.append(str(v.only_people).rjust(w))
    t.append("\n" + "people wrong".ljust(w))
    t.append(str(v.only_model).rjust(w))
    t.append(str(v.both_wrong).rjust(w), style="red")
    t.append(f"\n\nboth right {v.both_right} · only people {v.only_people} · only model {v.only_model} · "
             f"both wrong {v.both_wrong}\n")
    test = v.test
    kind = "exact binomial" if test.exact else "chi-square, continuity-corrected"
    t.append(f"people {percent(v.people.top1)} ({ci(v.people)}) vs model {percent(v.model.top1)} ({ci(v.model)})\n")
    t.append(f"McNemar ({kind}): b={test.b}, c={test.c}, p={p_value(test.p_value)}")
    if v.unmatched:
        t.append(f"\n{v.unmatched} answers are on drawings outside the run's test split", style="dim")
    return t


class QuizResultsScreen(Screen):
    """The report of `qd quiz report` for a session, a participant, or everyone."""

    DEFAULT_CSS = """
    QuizResultsScreen #results-summary { height: auto; max-height: 4; padding: 0 1; background: $panel; }
    QuizResultsScreen TabbedContent { height: 1fr; }
    QuizResultsScreen TabPane { padding: 0; }
    QuizResultsScreen DataTable { height: 1fr; }
    QuizResultsScreen #results-vs { padding: 1 2; height: auto; }
    QuizResultsScreen #results-confusion-note { height: 1; color: $text-muted; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("a", "scope('all')", "Everyone"),
        Binding("1", "tab('tab-categories')", "Categories", show=False),
        Binding("2", "tab('tab-leaderboard')", "Leaderboard", show=False),
        Binding("3", "tab('tab-vs')", "vs model", show=False),
        Binding("4", "tab('tab-confusion')", "Confusion", show=False),
    ]
    HELP_EXTRA = [("1 2 3 4", "categories, leaderboard, people vs model, confusion"),
                  ("left/right", "switch tabs (on the tab bar)")]

    def __init__(self, *, session: int | None = None, participant: str | None = None, run: int | None = None,
                 home: str | Path | None = None, store: Any = None) -> None:
        super().__init__()
        self.session_id = session
        self.participant = participant
        self.run_id = run
        self.home = home
        self.store = store
        self.report: Any = None
        self.ready = False  # the report was computed (or failed)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Computing the results…", id="results-summary")
        with TabbedContent(id="results-tabs"):
            with TabPane("Categories", id="tab-categories"):
                yield DataTable(id="results-categories", cursor_type="row", zebra_stripes=True)
            with TabPane("Leaderboard", id="tab-leaderboard"):
                yield DataTable(id="results-leaderboard", cursor_type="row", zebra_stripes=True)
            with TabPane("vs model", id="tab-vs"):
                with Vertical():
                    yield Static("", id="results-vs")
            with TabPane("Confusion", id="tab-confusion"):
                yield Static("rows: truth · columns: the answer people gave", id="results-confusion-note")
                yield ConfusionMatrix(id="results-confusion")
        yield Footer()

    def on_mount(self) -> None:
        cats = self.query_one("#results-categories", DataTable)
        cats.add_column("category", key="category")
        for label in ("right", "shown", "top-1", "95% CI", "skip", "most taken for"):
            cats.add_column(label, key=label)
        lb = self.query_one("#results-leaderboard", DataTable)
        for label in ("#", "participant", "sessions", "right", "shown", "top-1", "95% CI", "skip", "median s"):
            lb.add_column(label, key=label)
        self.load()

    def _title(self) -> str:
        if self.session_id is not None:
            return f"Quiz session {self.session_id}"
        if self.participant:
            return f"Quiz results of {self.participant}"
        return "Quiz results"

    @work(thread=True, exclusive=True, group="quiz-report", exit_on_error=False)
    def load(self) -> None:
        """Compute the report in a thread."""
        from qdcore.quiz.report import build_report
        try:
            store = self.store or stores(self).open(self.home)
            rep = build_report(store, participant=self.participant, run=self.run_id, session=self.session_id)
            # The leaderboard always ranks everyone, whatever the scope of the other figures.
            if self.session_id is not None or self.participant is not None:
                everyone = build_report(store, run=None)
                rep.leaderboard = everyone.leaderboard
        except Exception as e:  # noqa: BLE001 - shown in the screen
            post(self, ReportLoaded(None, user_message(e)))
            return
        post(self, ReportLoaded(rep))

    def on_report_loaded(self, message: ReportLoaded) -> None:
        self.ready = True
        self.sub_title = self._title()
        summary = self.query_one("#results-summary", Static)
        if message.report is None:
            summary.update(Text(f"Cannot compute the results: {literal(message.error)}", style="red"))
            return
        self.report = rep = message.report
        summary.update(summary_text(rep))
        cats = self.query_one("#results-categories", DataTable)
        cats.clear()
        for r in rep.per_category:
            a = r.accuracy
            cats.add_row(plain(r.category), str(a.correct), str(a.total), percent(a.top1), ci(a), str(r.skipped),
                         plain(r.top_mistake or DASH), key=r.category)
        lb = self.query_one("#results-leaderboard", DataTable)
        lb.clear()
        for r in rep.leaderboard:
            a = r.accuracy
            name = plain(r.participant, style="bold" if r.participant == self.participant else "")
            lb.add_row(str(r.rank), name, str(r.sessions), str(a.correct), str(a.total), percent(a.top1), ci(a),
                       str(r.skipped), DASH if r.median_ms is None else f"{r.median_ms / 1000:.1f}",
                       key=r.participant)
        self.query_one("#results-vs", Static).update(vs_model_text(rep))
        c = rep.confusion
        if c.classes:
            self.query_one(ConfusionMatrix).set_data(np.asarray(c.matrix, dtype=np.int64), c.classes)
        cats.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "scope":
            return self.session_id is not None or self.participant is not None  # hidden when showing everyone
        return True

    def action_tab(self, pane: str) -> None:
        """Show one tab."""
        self.query_one(TabbedContent).active = pane

    def action_scope(self, scope: str) -> None:
        """Widen the figures to every participant and session."""
        self.session_id = None
        self.participant = None
        self.ready = False
        self.refresh_bindings()
        self.query_one("#results-summary", Static).update("Computing the results…")
        self.load()

    def action_back(self) -> None:
        """Leave the results."""
        self.dismiss(None)
