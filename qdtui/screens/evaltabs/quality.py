"""Quality tab: near-blank drawings, exact and near duplicates, likely label errors among the test drawings."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from qdtui.loaders import user_message
from qdtui.messages import DrawingFocused, DrawingHighlighted
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.screens.gallery import drawing_items
from qdtui.widgets.drawing_grid import DrawingGrid
from qdtui.workers import deliver

MAX_SHOWN = 600  # drawings per gallery


@dataclass
class QualityGallery:
    """One kind of problem: the drawings that show it and what to say about them."""

    key: str
    label: str
    count: str  # '3' or '2 groups'
    about: str
    indices: np.ndarray
    titles: list[str] | None = None


def galleries(data, report: dict) -> list[QualityGallery]:
    """The report of qdcore.analysis.labelnoise.quality as galleries."""
    classes = data.pred.classes
    labels = np.asarray(data.pred.labels)
    blank = np.asarray(report["blank"] + report["near_blank"], np.int64)
    exact_idx, exact_titles = [], []
    for g, group in enumerate(report["exact_duplicates"]):
        for i in group:
            exact_idx.append(i)
            exact_titles.append(f"dup {g + 1} {classes[labels[i]]}")
    near_idx, near_titles = [], []
    for k, r in enumerate(report["near_duplicates"]):
        for i in (r["i"], r["j"]):
            near_idx.append(i)
            near_titles.append(f"pair {k + 1} d={r['distance']:.1f} {classes[labels[i]]}")
    errors = np.asarray([r["index"] for r in report["label_errors"]], np.int64)
    n_exact, n_near = len(report["exact_duplicates"]), len(report["near_duplicates"])
    return [
        QualityGallery("blank", "Blank / near-blank", str(blank.size),
                       f"{len(report['blank'])} blank, {len(report['near_blank'])} with a few ink pixels", blank),
        QualityGallery("exact", "Exact duplicates", f"{n_exact} groups",
                       "byte-identical drawings, grouped", np.asarray(exact_idx, np.int64), exact_titles),
        QualityGallery("near", "Near duplicates", f"{n_near} pairs",
                       "pairs differing by a few grey levels per pixel (d: mean difference)",
                       np.asarray(near_idx, np.int64), near_titles),
        QualityGallery("labels", "Likely label errors", str(errors.size),
                       "wrong with >= 90% confidence: mislabelled, unfinished or truly ambiguous", errors),
    ]


def kind_line(g: QualityGallery) -> str:
    """'Exact duplicates      2 groups': numbers in one column, the unit after."""
    number, _, unit = g.count.partition(" ")
    return f"{g.label:<19}{number:>4} {unit}".rstrip()


class QualityPane(EvalPane):
    """Problem kinds on the left, the chosen kind's drawings on the right."""

    TAB, LABEL = "quality", "Quality"  # its id and its tab's label

    DEFAULT_CSS = """
    QualityPane #quality-main { height: 1fr; }
    QualityPane #quality-kinds { width: 30; height: 1fr; border: none; padding: 0; }
    QualityPane #quality-right { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.galleries: list[QualityGallery] = []
        self.current: QualityGallery | None = None

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="quality-main"):
            yield OptionList(id="quality-kinds")
            with Vertical(id="quality-right"):
                yield Static("", id="quality-line", classes="pane-line")
                yield DrawingGrid(id="quality-grid")

    def start(self) -> None:
        self.loading = True
        self.check()

    @work(thread=True, exclusive=True, group="quality", exit_on_error=False)
    def check(self) -> None:
        """Blank, duplicate and near-duplicate search plus confidently wrong drawings."""
        from qdcore.analysis.labelnoise import quality

        try:
            report = quality(self.data.pred)
        except Exception as e:  # noqa: BLE001
            deliver(self, self.say, f"Quality checks failed: {user_message(e)}")
            return
        deliver(self, self._ready, galleries(self.data, report))

    def _ready(self, found: list[QualityGallery]) -> None:
        self.loaded()
        self.galleries = found
        options = self.query_one("#quality-kinds", OptionList)
        options.clear_options()
        options.add_options([Option(kind_line(g), id=g.key) for g in found])
        options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#quality-kinds")
    def _kind(self, event: OptionList.OptionHighlighted) -> None:
        g = next((g for g in self.galleries if g.key == event.option.id), None)
        if g is None:
            return
        self.current = g
        shown = g.indices[:MAX_SHOWN]
        more = f" · first {MAX_SHOWN}" if g.indices.size > MAX_SHOWN else ""
        line = Text(g.about + more)
        if not g.indices.size:
            line = Text(f"none found · {g.about}", style="green")
        self.query_one("#quality-line", Static).update(line)
        self.query_one("#quality-grid", DrawingGrid).set_items(
            drawing_items(self.data, shown, g.titles[:MAX_SHOWN] if g.titles else None))

    @on(OptionList.OptionSelected, "#quality-kinds")
    def _kind_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#quality-grid", DrawingGrid).focus()

    def on_drawing_highlighted(self, message: DrawingHighlighted) -> None:
        if self.current is not None and 0 <= message.index < self.current.indices.size:
            self.post_message(DrawingFocused(int(self.current.indices[message.index])))

    def focus_main(self) -> None:
        self.query_one("#quality-kinds", OptionList).focus()
