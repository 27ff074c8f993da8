"""Load a data selection (source, categories, per-class, imbalance) and split it, as every kind of run does."""

from __future__ import annotations

from typing import Protocol

from qdcore.data.drawingset import Splits, check_sizes, select, split
from qdcore.data.opener import open_source
from qdcore.data.share import shared
from qdcore.errors import DataError
from qdcore.fmt import plural


class Selection(Protocol):
    """The data-selection fields a run config shares (TrainConfig has them)."""

    data: str
    categories: str | None
    per_class: int | None
    seed: int
    imbalance: str | None
    val: float
    test: float
    balanced_test: int | None
    strict: bool


def select_splits(sel: Selection, mapped: bool = False) -> Splits:
    """Read and split a selection; with a balanced test set, the test split is its N drawings per class.

    mapped: drawings stay in their memory-mapped files (MappedImages) where the source maps them."""
    source = open_source(sel.data, strict=sel.strict)
    n_test = sel.balanced_test
    ds = select(source, sel.categories, sel.per_class, sel.seed, sel.imbalance, hold_out=n_test, mapped=mapped)
    if not n_test:
        return split(ds, sel.val, sel.test, sel.seed)
    parts = split(ds, sel.val, 0.0, sel.seed)  # the --test fraction gives way to the balanced test set
    test = select(source, sel.categories, sel.per_class, sel.seed, sel.imbalance, hold_out=n_test, held_out=True,
                  mapped=mapped)
    return Splits(parts.train, parts.val, test)


def check_selection(sel: Selection, min_categories: int = 1) -> list[str]:
    """The chosen categories; DataError for a selection its data cannot fill (categories, sizes, balanced test,
    fewer than `min_categories` categories), reading no drawings."""
    source = open_source(sel.data, strict=sel.strict)
    chosen = check_sizes(source, sel.categories, sel.per_class, sel.imbalance, sel.balanced_test)
    if len(chosen) < min_categories:
        held = ", ".join(repr(c) for c in chosen)
        raise DataError(f"{source.location} gives {plural(len(chosen), 'category', 'categories')} ({held}); "
                        f"this model needs at least {min_categories}: add categories (--categories) or other data")
    return chosen


def load_splits(sel: Selection, mapped: bool = False) -> Splits:
    """The drawings of a selection: read them from its data source and split train/val/test by its seed
    (a classifier's --synthetic mix is qdcore.train.synthetic.training_splits).

    mapped: drawings stay in their memory-mapped files (MappedImages) where the source maps them."""
    # Shared only inside a study worker's sharing() block, where trials with one selection run in a row.
    return shared(("splits", sel.data, sel.categories, sel.per_class, sel.seed, sel.imbalance, sel.val, sel.test,
                   sel.balanced_test, sel.strict, mapped), lambda: select_splits(sel, mapped))
