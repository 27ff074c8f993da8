"""Data-quality report: blank and near-blank drawings, exact duplicates (pure numpy)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from qdcore.data.drawingset import DrawingSet
from qdcore.data.mapped import Images

# A pixel counts as ink at >= 64 of 255: the anti-aliased fringe of a line is fainter.
INK_LEVEL = 64
# Fewer than 16 ink pixels (2% of the 28x28 canvas) is a dot or a speck, not a drawing:
# Google scales every drawing to fill the canvas, and the 43,500 real drawings in
# ../shared/quickdraw all have at least 21 such pixels.
NEAR_BLANK_BELOW = 16


@dataclass
class QualityReport:
    """What looks wrong in a DrawingSet; all indices point into that set."""

    n: int
    classes: list[str]
    ink_level: int
    near_blank_below: int
    blank: list[int]  # no ink pixel at all
    near_blank: list[int]  # 1 .. near_blank_below-1 ink pixels
    duplicate_groups: list[list[int]]  # identical rows (blank ones excluded), each group sorted
    cross_class_groups: list[int] = field(default_factory=list)  # positions in duplicate_groups spanning classes
    per_class: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        """Drawings that repeat an earlier one (group size - 1, summed)."""
        return sum(len(g) - 1 for g in self.duplicate_groups)

    def to_dict(self) -> dict:
        """A JSON-able dict (plain ints and strings)."""
        d = asdict(self)
        d["duplicates"] = self.duplicates
        return d


def ink_pixels(images: Images, ink_level: int = INK_LEVEL) -> np.ndarray:
    """Ink pixels per drawing, int64 (N,)."""
    flat = np.asarray(images).reshape(len(images), -1)
    return np.count_nonzero(flat >= ink_level, axis=1).astype(np.int64)


def duplicate_groups(images: Images, skip: np.ndarray | None = None) -> list[list[int]]:
    """Groups of indices whose drawings are byte-identical (rows in `skip` left out), sorted by first index."""
    flat = np.ascontiguousarray(np.asarray(images, dtype=np.uint8).reshape(len(images), -1))
    idx = np.arange(len(flat))
    if skip is not None and len(skip):
        keep = np.ones(len(flat), bool)
        keep[np.asarray(skip, dtype=np.int64)] = False
        idx, flat = idx[keep], flat[keep]
    if len(flat) < 2:
        return []
    # Hash each row to one void scalar so np.unique can group identical rows by sorting.
    rows = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, inverse, counts = np.unique(rows, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    dup = np.flatnonzero(counts[inverse] > 1)
    if dup.size == 0:
        return []
    order = dup[np.lexsort((idx[dup], inverse[dup]))]
    keys = inverse[order]
    cuts = np.flatnonzero(np.diff(keys)) + 1
    groups = [sorted(int(i) for i in idx[g]) for g in np.split(order, cuts)]
    return sorted(groups, key=lambda g: g[0])


def quality_report(ds: DrawingSet, ink_level: int = INK_LEVEL, near_blank_below: int = NEAR_BLANK_BELOW) -> QualityReport:
    """Blank (no ink), near-blank (< near_blank_below ink pixels) and exactly duplicated drawings."""
    ink = ink_pixels(ds.images, ink_level)
    blank_mask = ink == 0
    blank = np.flatnonzero(blank_mask)
    near = np.flatnonzero((ink > 0) & (ink < near_blank_below))
    # Exact all-zero images are reported as blank, not as one huge duplicate group.
    all_zero = np.flatnonzero(~np.asarray(ds.images).reshape(len(ds), -1).any(axis=1))
    groups = duplicate_groups(ds.images, skip=all_zero)
    labels = np.asarray(ds.labels)
    cross = [i for i, g in enumerate(groups) if len(set(labels[g].tolist())) > 1]
    per_class: dict[str, dict[str, int]] = {}
    counts = np.bincount(labels, minlength=len(ds.classes)) if len(labels) else np.zeros(len(ds.classes), int)
    dup_rows = np.zeros(len(ds), bool)
    for g in groups:
        dup_rows[g[1:]] = True
    for c, name in enumerate(ds.classes):
        m = labels == c
        per_class[name] = {"n": int(counts[c]), "blank": int(blank_mask[m].sum()),
                           "near_blank": int(np.isin(np.flatnonzero(m), near).sum()),
                           "duplicates": int(dup_rows[m].sum())}
    return QualityReport(len(ds), list(ds.classes), int(ink_level), int(near_blank_below),
                         [int(i) for i in blank], [int(i) for i in near], groups, cross, per_class)
