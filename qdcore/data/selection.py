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


def load_splits(sel: Selection, synthetic: bool = True, mapped: bool = False) -> Splits:
    """The drawings of a selection: read them from its data source, split train/val/test by its seed, then mix
    in a GAN's samples where the config asks (training split only; synthetic=False skips that, e.g. to evaluate).

    mapped: drawings stay in their memory-mapped files (MappedImages) where the source maps them."""
    from qdcore.data.share import shared

    def make() -> Splits:
        ds = select(open_source(sel.data), sel.categories, sel.per_class, sel.seed, sel.imbalance, mapped)
        return split(ds, sel.val, sel.test, sel.seed)

    # Shared only inside a study worker's sharing() block, where trials with one selection run in a row.
    splits = shared(("splits", sel.data, sel.categories, sel.per_class, sel.seed, sel.imbalance, sel.val, sel.test,
                     mapped), make)
    gan_run = getattr(sel, "synthetic", None)
    if synthetic and gan_run is not None:
        from qdcore.data.synthetic_mix import with_synthetic

        splits = with_synthetic(splits, gan_run, sel.synthetic_fraction, sel.synthetic_mode, sel.seed)
    return splits
