"""Load a data selection (source, categories, per-class, imbalance) and split it, as every kind of run does."""

from __future__ import annotations

from typing import Protocol

from qdcore.data.drawingset import Splits, select, split
from qdcore.data.opener import open_source


class Selection(Protocol):
    """The data-selection fields a run config shares (TrainConfig has them)."""

    data: str
    categories: str | None
    per_class: int | None
    seed: int
    imbalance: str | None
    val: float
    test: float


def load_splits(sel: Selection) -> Splits:
    """The drawings of a selection: read them from its data source, then split train/val/test by its seed."""
    ds = select(open_source(sel.data), sel.categories, sel.per_class, sel.seed, sel.imbalance)
    return split(ds, sel.val, sel.test, sel.seed)
