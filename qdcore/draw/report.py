"""Per category: how often and how fast a model recognised people's drawings, beside its test accuracy."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from qdcore.errors import DataError

if TYPE_CHECKING:
    from qdcore.store import Store


@dataclass
class CategoryRow:
    """One category's figures for one model."""

    word: str
    drawn: int
    recognized: int
    median_seconds: float | None  # time to recognition over the recognised drawings
    test_accuracy: float | None  # the model's recall of this class on its own test drawings
    test_n: int = 0

    @property
    def share(self) -> float:
        """Recognised / drawn."""
        return self.recognized / self.drawn if self.drawn else 0.0


@dataclass
class DrawnReport:
    """The report for one run's model."""

    run_id: int
    run_name: str
    test_data: str  # where its test drawings came from
    synthetic: bool
    rows: list[CategoryRow] = field(default_factory=list)

    @property
    def drawn(self) -> int:
        """All drawings."""
        return sum(r.drawn for r in self.rows)

    @property
    def recognized(self) -> int:
        """All recognised drawings."""
        return sum(r.recognized for r in self.rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"run_id": self.run_id, "run_name": self.run_name, "test_data": self.test_data,
                "synthetic": self.synthetic, "drawn": self.drawn, "recognized": self.recognized,
                "categories": [{**asdict(r), "share": r.share} for r in self.rows]}


def per_class_recall(store: "Store", run_id: int) -> dict[str, tuple[float, int]]:
    """class -> (recall, support) of a run on its test split, from its saved predictions ({} when it has none)."""
    from qdcore.analysis.metrics import summarize
    from qdcore.errors import StoreError
    from qdcore.predictions import Predictions
    from qdcore.artifacts import PREDICTIONS_FILE

    try:
        preds = Predictions.load(store.run_dir(run_id, create=False) / PREDICTIONS_FILE)
    except StoreError:
        return {}
    # summarize: over the whole split, also where the file keeps only a sample of it.
    return {r["class"]: (r["recall"], r["support"]) for r in summarize(preds)["per_class"] if r["support"]}


def drawn_runs(store: "Store") -> list[int]:
    """Runs whose models guessed stored drawings, newest first."""
    return sorted({r.run_id for r in store.drawings() if r.run_id is not None}, reverse=True)


def drawn_report(store: "Store", run_id: int | None = None) -> DrawnReport:
    """The report for a run (default: the newest run people drew for)."""
    if run_id is None:
        runs = drawn_runs(store)
        if not runs:
            raise DataError(f"no drawings with a model's guesses in {store.home}: play with 'qdtui draw'")
        run_id = runs[0]
    rec = store.get_run(run_id)
    drawings = store.drawings(run_id=rec.id)
    if not drawings:
        raise DataError(f"nobody has drawn for run {rec.id} yet: play with 'qdtui draw --run {rec.id}'")
    recall = per_class_recall(store, rec.id)
    rows = []
    for word in sorted({d.word for d in drawings}):
        mine = [d for d in drawings if d.word == word]
        times = [d.recognized_ms / 1000.0 for d in mine if d.recognized and d.recognized_ms is not None]
        acc, n = recall.get(word, (None, 0))
        rows.append(CategoryRow(word, len(mine), sum(d.recognized for d in mine),
                                statistics.median(times) if times else None, acc, n))
    data = str(rec.summary.get("data_origin") or rec.config.get("data") or "?")
    return DrawnReport(rec.id, rec.name, data, bool(rec.summary.get("synthetic")), rows)
