"""Evaluation of a finished run: metrics, confusion matrix, confused pairs, worst drawings, clusters, CAM, hidden layers, quality."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from qdcore.fmt import interval, kept_note, literal, percent
from qdtui.literal import plain
from qdtui.loaders import user_message
from qdtui.messages import CellSelected, DrawingFocused
from qdtui.screens.evaltabs.calibration import CalibrationPane
from qdtui.screens.evaltabs.cam import CamPane
from qdtui.screens.evaltabs.clusters import ClustersPane
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.screens.evaltabs.hidden import HiddenPane
from qdtui.screens.evaltabs.progressive import ProgressivePane
from qdtui.screens.evaltabs.quality import QualityPane
from qdtui.screens.evaltabs.worst import WorstPane
from qdtui.screens.gallery import GalleryScreen, GallerySection, by_confidence
from qdtui.state import data_label
from qdtui.store_gateway import stores
from qdtui.widgets.confusion import ConfusionMatrix
from qdtui.widgets.header import Header
from qdtui.workers import deliver

if TYPE_CHECKING:
    from qdtui.evaluation_data import EvalData

PER_CLASS_SORT = (("class", "class"), ("precision", "precision"), ("recall", "recall"),
                  ("recall_ci", "recall 95% CI"), ("f1", "F1"), ("support", "support"))


def _ends(ci) -> tuple:
    """(lo, hi) of an interval, (None, None) where there is none (a class without test drawings)."""
    return tuple(ci) if ci else (None, None)


class OverviewPane(EvalPane):
    """Top-1, top-5, macro averages, the human baseline and the per-class table."""

    TAB, LABEL = "overview", "Overview"  # its id and its tab's label

    DEFAULT_CSS = """
    OverviewPane #overview-summary { height: auto; padding: 0 1; }
    OverviewPane #per-class { height: 1fr; }
    """
    BINDINGS = [Binding("s", "sort", "Sort")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sort_by = "class"

    def compose_body(self) -> ComposeResult:
        yield Static("", id="overview-summary")
        yield DataTable(id="per-class", cursor_type="row", zebra_stripes=True)

    def set_data(self, data, models) -> None:
        super().set_data(data, models)
        s = data.summary
        m = s["macro"]
        text = Text()
        text.append(f"top-1 {percent(s['top1'])}", style="bold")
        text.append(f" [{interval(*_ends(s['top1_ci']))}] · top-5 {percent(s['top5'])} [{interval(*_ends(s['top5_ci']))}]"
                    f" · macro precision {percent(m['precision'])} · recall {percent(m['recall'])} · F1 {percent(m['f1'])}")
        wrong = s["n"] - sum(row[i] for i, row in enumerate(s["confusion"]))
        kept = kept_note(s)
        text.append(f"\n{s['n']:,} test drawings{kept} · {len(s['classes'])} classes · "
                    f"{wrong:,} misclassified · […]: Wilson 95% intervals · calibration error "
                    f"{percent(data.calibration.ece)} (tab 9)", style="dim")
        base = data.baseline
        if base is not None:
            acc = base.accuracy
            text.append(f"\npeople {percent(acc.top1)}", style="bold")
            if acc.lo is not None:
                text.append(f" [{interval(acc.lo, acc.hi)}]")
            text.append(f" on {acc.total:,} quiz answers by {base.participants} "
                        f"{'person' if base.participants == 1 else 'people'}")
            if base.model is not None and base.model.top1 is not None:
                text.append(f"; the model {percent(base.model.top1)} on the same drawings")
        elif data.baseline_note:
            text.append(f"\npeople: {data.baseline_note}", style="dim")
        self.query_one("#overview-summary", Static).update(text)
        self.fill_table()

    def fill_table(self) -> None:
        """The per-class rows, sorted, then the macro average."""
        table = self.query_one("#per-class", DataTable)
        table.clear(columns=True)
        for key, label in PER_CLASS_SORT:
            mark = " ▼" if key == self.sort_by and key != "class" else ""
            table.add_column(label + mark, key=key)
        rows = list(self.data.summary["per_class"])
        if self.sort_by == "recall_ci":  # by the lower end: the classes we can be least sure of first
            rows.sort(key=lambda r: (_ends(r["recall_ci"])[0] or 0.0, r["class"]))
        elif self.sort_by != "class":
            rows.sort(key=lambda r: (-r[self.sort_by], r["class"]))
        for r in rows:
            table.add_row(plain(r["class"]), *[Text(percent(r[k]), justify="right") for k in ("precision", "recall")],
                          Text(interval(*_ends(r["recall_ci"])), justify="right", style="dim"),
                          Text(percent(r["f1"]), justify="right"), Text(f"{r['support']:,}", justify="right"),
                          key=r["class"])
        m = self.data.summary["macro"]
        table.add_row(Text("macro avg", style="bold"),
                      *[Text(percent(m[k]), justify="right", style="bold") for k in ("precision", "recall")], "",
                      Text(percent(m["f1"]), justify="right", style="bold"),
                      Text(f"{m['support']:,}", justify="right", style="bold"), key="__macro__")

    def action_sort(self) -> None:
        """Sort by the next column (class, precision, recall, recall interval, F1, support)."""
        keys = [k for k, _ in PER_CLASS_SORT]
        self.sort_by = keys[(keys.index(self.sort_by) + 1) % len(keys)]
        if self.data is not None and self.data.ok:
            self.fill_table()

    @on(DataTable.HeaderSelected, "#per-class")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_by = str(event.column_key.value)
        self.fill_table()

    def focus_main(self) -> None:
        self.query_one("#per-class", DataTable).focus()


class ConfusionPane(EvalPane):
    """The confusion heatmap; Enter on a cell opens its drawings."""

    TAB, LABEL = "confusion", "Confusion"  # its id and its tab's label

    def compose_body(self) -> ComposeResult:
        yield ConfusionMatrix(id="confusion")

    def set_data(self, data, models) -> None:
        super().set_data(data, models)
        import numpy as np

        self.query_one("#confusion", ConfusionMatrix).set_data(np.asarray(data.summary["confusion"]), data.pred.classes)

    def on_cell_selected(self, message: CellSelected) -> None:
        message.stop()
        if self.data is None or not self.data.ok:
            return
        if message.count == 0:
            self.app.notify(f"No {message.truth_name} drawing was taken for {message.pred_name}.")
            return
        idx = by_confidence(self.data, self.data.cell(message.truth, message.pred))
        if message.truth == message.pred:
            title = f"{message.truth_name}, right"
        else:
            title = f"{message.truth_name} taken for {message.pred_name}"
        self.app.push_screen(GalleryScreen(title, self.data, [GallerySection(title, idx)],
                                           note="most confident first"))

    def focus_main(self) -> None:
        self.query_one("#confusion", ConfusionMatrix).focus()


class PairsPane(EvalPane):
    """Pairs of classes the model mixes up, most confused share first; Enter opens both directions."""

    TAB, LABEL = "pairs", "Pairs"  # its id and its tab's label

    DEFAULT_CSS = """
    PairsPane #pairs-table { height: 1fr; }
    """

    def compose_body(self) -> ComposeResult:
        yield Static("", id="pairs-line", classes="pane-line")
        yield DataTable(id="pairs-table", cursor_type="row", zebra_stripes=True)

    def set_data(self, data, models) -> None:
        super().set_data(data, models)
        table = self.query_one("#pairs-table", DataTable)
        table.clear(columns=True)
        table.add_columns("A", "B", "A as B", "B as A", "share", "drawings")
        for k, p in enumerate(data.pairs):
            table.add_row(plain(p.a), plain(p.b), Text(str(p.a_as_b), justify="right"), Text(str(p.b_as_a), justify="right"),
                          Text(percent(p.share), justify="right"), Text(f"{p.n_a + p.n_b:,}", justify="right"), key=str(k))
        line = (f"{len(data.pairs)} pairs confused at least once · share: confused drawings of the pair / its "
                "drawings · enter: both directions" if data.pairs else "No two classes were ever confused.")
        self.query_one("#pairs-line", Static).update(Text(line))

    @on(DataTable.RowSelected, "#pairs-table")
    def _pair_selected(self, event: DataTable.RowSelected) -> None:
        p = self.data.pairs[int(event.row_key.value)]
        sections = [GallerySection(f"{p.a} → {p.b}", by_confidence(self.data, p.idx_a_as_b)),
                    GallerySection(f"{p.b} → {p.a}", by_confidence(self.data, p.idx_b_as_a))]
        self.app.push_screen(GalleryScreen(f"{p.a} ⇄ {p.b}", self.data, sections,
                                           note=f"{percent(p.share)} of {p.n_a + p.n_b:,} drawings confused"))

    def focus_main(self) -> None:
        self.query_one("#pairs-table", DataTable).focus()


# The evaluation tabs, left to right (keys 1-9, then 0): a new tab is an EvalPane with its TAB and LABEL, added here.
PANES: tuple[type[EvalPane], ...] = (OverviewPane, ConfusionPane, PairsPane, WorstPane, ClustersPane, CamPane,
                                     HiddenPane, QualityPane, CalibrationPane, ProgressivePane)
TABS = tuple((pane.TAB, pane.LABEL) for pane in PANES)


class EvaluationScreen(Screen):
    """One run's evaluation in tabs; loading and every analysis run in workers."""

    DEFAULT_CSS = """
    EvaluationScreen #eval-run-line { height: auto; max-height: 2; padding: 0 1; background: $panel; }
    EvaluationScreen #eval-tabs { height: 1fr; }
    EvaluationScreen #eval-tabs > ContentSwitcher { height: 1fr; }
    EvaluationScreen #eval-tabs TabPane { padding: 0; height: 1fr; }
    EvaluationScreen #eval-missing { display: none; margin: 1 2; height: auto; border: thick $warning;
                                     border-title-style: bold; padding: 1 2; }
    EvaluationScreen.-missing #eval-missing { display: block; }
    EvaluationScreen.-missing #eval-tabs { display: none; }
    """
    BINDINGS = [
        Binding("escape", "app.back", "Back"),
        Binding("e", "evaluate", "Evaluate"),
        # One footer entry stands for all the tab keys ("1-9 Tabs"); each key works on its own.
        *[Binding(str((k + 1) % 10), f"tab('{key}')", "Tabs" if k == 0 else label, show=k == 0,
                  key_display=f"1-{len(TABS) % 10}" if k == 0 else None) for k, (key, label) in enumerate(TABS)],
    ]
    HELP_EXTRA = [
        (f"1-{len(TABS) % 10}", "the tabs, left to right (0: the tenth)"),
        ("tab", "tab bar / the tab's widgets"),
        ("arrows enter", "move; enter opens the drawings"),
        ("n", "counts / row rates (Confusion)"),
        ("[ ] { }", "±1% / ±5% (Worst); drawing (Hidden)"),
        ("w r", "the 5% worst; rank by (Worst)"),
        ("m f a", "method, features, view (Clusters)"),
        ("t", "map of predicted / true class (CAM); ink / time (When)"),
    ]

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.run_id = int(run_id)
        self.data: EvalData | None = None
        self.models = None
        self.evaluating = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"run {self.run_id}", style="bold"), id="eval-run-line")
        with Vertical(id="eval-missing") as box:
            box.border_title = "No predictions"
            yield Static("", id="eval-missing-text")
        with TabbedContent(id="eval-tabs"):
            for pane in PANES:
                with TabPane(pane.LABEL, id=pane.TAB):
                    yield pane(id=f"pane-{pane.TAB}")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id}"
        self.query_one("#eval-tabs").loading = True
        self.load()

    # --- loading ------------------------------------------------------------

    @work(thread=True, exclusive=True, group="eval-load", exit_on_error=False)
    def load(self) -> None:
        """Read the run's predictions and compute the metrics and pairs."""
        from qdtui.evaluation_data import load_eval

        try:
            data = load_eval(stores(self).open(), self.run_id)
        except Exception as e:  # noqa: BLE001 - a missing run, a locked store: a message, never a traceback
            deliver(self, self._failed, user_message(e))
            return
        deliver(self, self._loaded, data)

    def _failed(self, error: str) -> None:
        self.query_one("#eval-tabs").loading = False
        self._missing(f"Cannot open run {self.run_id}: {error}",
                      "Escape goes back. List runs with `qd runs list`.", title="Cannot open the run")

    def _loaded(self, data: EvalData) -> None:
        from qdtui.evaluation_data import ModelCache

        self.query_one("#eval-tabs").loading = False
        self.data = data
        self.models = ModelCache(data.run_dir, data.kind, data.config)
        line = Text(f"run {data.run_id}", style="bold")
        line.append(f" · {literal(data.name)} · {data.status}")
        if data.data_spec:
            line.append(f" · {literal(data_label(data.data_spec))}")
        if data.ok:
            line.append(f" · {len(data.pred):,} test drawings")
        if not data.has_model:
            line.append(" · model file missing", style="yellow")
        self.query_one("#eval-run-line", Static).update(line)
        self.refresh_bindings()
        if not data.ok:
            from qdtui.kind_screens import shows_predictions

            if data.can_evaluate:
                hint = ("Press e to evaluate it on its test split now (the same as `qd eval "
                        f"{data.run_id}`); the tabs open when it is done.")
            elif not shows_predictions(data.kind) or data.status == "running":
                hint = "Escape goes back."
            else:
                hint = ("Its model file is missing too, so it cannot be evaluated: resume it with "
                        f"`qd train --resume {data.run_id}` or train again.")
            self._missing(data.missing, hint)
            return
        self.remove_class("-missing")
        for pane in self.query(EvalPane):
            pane.set_data(data, self.models)
        self._activate(self.query_one("#eval-tabs", TabbedContent).active)

    def _missing(self, message: str, hint: str, title: str = "No predictions") -> None:
        box = self.query_one("#eval-missing", Vertical)
        box.border_title = title
        text = Text(literal(message), style="bold")
        text.append("\n\n" + hint, style="")
        self.query_one("#eval-missing-text", Static).update(text)
        self.add_class("-missing")

    # --- tabs ---------------------------------------------------------------

    def pane(self, key: str) -> EvalPane:
        """The content of a tab."""
        return self.query_one(f"#pane-{key}", EvalPane)

    def _activate(self, key: str) -> None:
        if not key:
            return
        pane = self.pane(key)
        pane.activate()
        pane.focus_main()

    @on(TabbedContent.TabActivated, "#eval-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.data is not None and self.data.ok:
            self._activate(event.pane.id or "")

    def action_tab(self, key: str) -> None:
        """Show a tab."""
        self.query_one("#eval-tabs", TabbedContent).active = key

    def on_drawing_focused(self, message: DrawingFocused) -> None:
        self.pane("hidden").select(message.index)

    # --- evaluating a run without predictions ----------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "evaluate":
            d = self.data
            return d is not None and not d.ok and d.can_evaluate and not self.evaluating
        return super().check_action(action, parameters)

    def action_evaluate(self) -> None:
        """Compute the run's test predictions from its model, then open the tabs."""
        if not self.check_action("evaluate", ()):
            return
        self.evaluating = True
        self.refresh_bindings()
        self.query_one("#eval-missing-text", Static).update(
            Text(f"Evaluating run {self.run_id} on its test split…", style="bold"))
        self.query_one("#eval-missing", Vertical).loading = True
        self.evaluate()

    @work(thread=True, exclusive=True, group="eval-evaluate", exit_on_error=False)
    def evaluate(self) -> None:
        """Rebuild the test split, predict and save predictions.npz."""
        from qdcore.runs.run import evaluate

        try:
            evaluate(stores(self).open(), self.run_id, device="auto")  # what `qd eval RUN` does
        except Exception as e:  # noqa: BLE001
            deliver(self, self._evaluated, user_message(e))
            return
        deliver(self, self._evaluated, "")

    def _evaluated(self, error: str) -> None:
        self.evaluating = False
        self.query_one("#eval-missing", Vertical).loading = False
        if error:
            self._missing(f"Evaluating run {self.run_id} failed: {error}", "Escape goes back.", title="Evaluation failed")
            self.refresh_bindings()
            return
        self.query_one("#eval-tabs").loading = True
        self.load()
