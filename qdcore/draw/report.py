"""Per category: how often and how fast a model recognised people's drawings, beside its test accuracy."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from qdcore.analysis.metrics import summarize
from qdcore.artifacts import PREDICTIONS_FILE
from qdcore.errors import DataError, StoreError
from qdcore.predictions import Predictions

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
    median_knew_ink: float | None = None  # median share of ink when the model knew (over the drawings replayed)
    knew_n: int = 0  # drawings replayed for that moment (saved with it)

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
    knew: list[float] = field(default_factory=list)  # every replayed drawing's share of ink when the model knew

    @property
    def median_knew_ink(self) -> float | None:
        """Median share of ink when the model knew, over all replayed drawings (inf: most never)."""
        return statistics.median(self.knew) if self.knew else None

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
                "median_knew_ink": _json_share(self.median_knew_ink), "knew_n": len(self.knew),
                "categories": [{**asdict(r), "share": r.share, "median_knew_ink": _json_share(r.median_knew_ink)}
                               for r in self.rows]}


def _json_share(v: float | None) -> float | str | None:
    return "never" if v is not None and math.isinf(v) else v


def per_class_recall(store: Store, run_id: int) -> dict[str, tuple[float, int]]:
    """class -> (recall, support) of a run on its test split, from its saved predictions ({} when it has none)."""
    try:
        preds = Predictions.load(store.run_dir(run_id, create=False) / PREDICTIONS_FILE)
    except StoreError:
        return {}
    # summarize: over the whole split, also where the file keeps only a sample of it.
    return {r["class"]: (r["recall"], r["support"]) for r in summarize(preds)["per_class"] if r["support"]}


def knew_shares(drawings: list) -> list[float]:
    """The share of ink when the model knew each drawing saved with that moment (inf: never)."""
    return [d.knew_ink for d in drawings if d.knew_ink is not None]


def share_text(v: float | None) -> str:
    """'62%', 'never' (inf) or '—' (unknown)."""
    return "—" if v is None else "never" if math.isinf(v) else f"{100 * v:.0f}%"


def drawn_runs(store: Store) -> list[int]:
    """Runs whose models guessed stored drawings, newest first."""
    return sorted({r.run_id for r in store.drawings() if r.run_id is not None}, reverse=True)


def drawn_report(store: Store, run_id: int | None = None) -> DrawnReport:
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
        knew = knew_shares(mine)
        rows.append(CategoryRow(word, len(mine), sum(d.recognized for d in mine),
                                statistics.median(times) if times else None, acc, n,
                                statistics.median(knew) if knew else None, len(knew)))
    data = str(rec.summary.get("data_origin") or rec.config.get("data") or "?")
    return DrawnReport(rec.id, rec.name, data, bool(rec.summary.get("synthetic")), rows, knew_shares(drawings))
