"""Data quality on a run's predictions: near duplicates and likely label errors (confidently wrong drawings).

Blank, near-blank and exact duplicates come from qdcore.data.quality; this adds what needs pairs or a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qdcore.data.quality import INK_LEVEL, NEAR_BLANK_BELOW, duplicate_groups, ink_pixels
from qdcore.errors import ConfigError


@dataclass
class NearDuplicate:
    """Two drawings that differ by at most a few grey levels per pixel on average."""

    i: int
    j: int
    distance: float  # mean absolute pixel difference, 0..255
    same_label: bool


@dataclass
class LabelSuspect:
    """A drawing the model confidently gives another class: possibly mislabelled (or unfinished)."""

    index: int
    truth: str
    predicted: str
    p_pred: float
    p_true: float
    provenance: str


def near_duplicates(images: np.ndarray, labels: np.ndarray | None = None, max_distance: float = 6.0,
                    n_neighbors: int = 3, n_components: int = 16, include_exact: bool = False,
                    seed: int = 0) -> list[NearDuplicate]:
    """Pairs i < j whose mean absolute pixel difference is at most max_distance, closest first (blanks skipped)."""
    from sklearn.decomposition import PCA  # lazy: scikit-learn (~1 s) is loaded only when used
    from sklearn.neighbors import NearestNeighbors  # lazy: scikit-learn (~1 s) is loaded only when used

    if max_distance < 0:
        raise ConfigError(f"near-duplicate distance must be >= 0, got {max_distance}")
    images = np.asarray(images, dtype=np.uint8)
    n = len(images)
    keep = np.flatnonzero(ink_pixels(images, INK_LEVEL) >= NEAR_BLANK_BELOW)
    if keep.size < 2:
        return []
    flat = images.reshape(n, -1)[keep]
    x = flat.astype(np.float32) / 255.0
    # candidates from a k-NN search in a small PCA space, then verified on the full pixels
    ncomp = int(min(n_components, x.shape[0], x.shape[1]))
    z = PCA(n_components=ncomp, svd_solver="randomized", random_state=seed).fit_transform(x) if ncomp < x.shape[1] else x
    k = min(n_neighbors + 1, keep.size)
    _, nbr = NearestNeighbors(n_neighbors=k).fit(z).kneighbors(z)
    a = np.repeat(np.arange(keep.size), k - 1)
    b = nbr[:, 1:].ravel()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(np.stack([lo, hi], axis=1)[lo != hi], axis=0)
    if pairs.size == 0:
        return []
    dist = np.abs(flat[pairs[:, 0]].astype(np.int16) - flat[pairs[:, 1]].astype(np.int16)).mean(axis=1)
    ok = dist <= max_distance
    if not include_exact:
        ok &= dist > 0
    out = []
    for (p, q), d in zip(pairs[ok], dist[ok]):
        i, j = int(keep[p]), int(keep[q])
        same = True if labels is None else bool(labels[i] == labels[j])
        out.append(NearDuplicate(i, j, float(d), same))
    out.sort(key=lambda r: (r.distance, r.i, r.j))
    return out


def likely_label_errors(pred, min_confidence: float = 0.9, limit: int | None = None) -> list[LabelSuspect]:
    """Wrong drawings whose predicted class has probability >= min_confidence, most confident first."""
    if not 0 < min_confidence <= 1:
        raise ConfigError(f"confidence threshold must be in (0, 1], got {min_confidence}")
    probs = np.asarray(pred.probs)
    labels = np.asarray(pred.labels, dtype=np.int64)
    guess = probs.argmax(axis=1)
    rows = np.arange(labels.size)
    p_pred = probs[rows, guess]
    sel = np.flatnonzero((guess != labels) & (p_pred >= min_confidence))
    sel = sel[np.lexsort((sel, -p_pred[sel]))]
    if limit is not None:
        sel = sel[:limit]
    return [LabelSuspect(int(i), pred.classes[labels[i]], pred.classes[guess[i]], float(p_pred[i]),
                         float(probs[i, labels[i]]), pred.provenance[i] if i < len(pred.provenance) else "")
            for i in sel]


NEAR_DUPLICATE_LIMIT = 20_000  # the k-NN search grows ~quadratically; ~1.5 s at 10,000 drawings on one core


def quality(pred, min_confidence: float = 0.9, max_distance: float = 6.0,
            near_limit: int | None = NEAR_DUPLICATE_LIMIT) -> dict[str, Any]:
    """Blank/near-blank drawings, exact and near duplicates and likely label errors among a run's test drawings.

    The near-duplicate search is skipped (near_duplicates None) above near_limit drawings.
    """
    images = np.asarray(pred.images)
    ink = ink_pixels(images, INK_LEVEL)
    blank = np.flatnonzero(ink == 0)
    near_blank = np.flatnonzero((ink > 0) & (ink < NEAR_BLANK_BELOW))
    all_zero = np.flatnonzero(~images.reshape(len(images), -1).any(axis=1))
    return {
        "blank": blank.tolist(),
        "near_blank": near_blank.tolist(),
        "exact_duplicates": duplicate_groups(images, skip=all_zero),
        "near_duplicates": None if near_limit is not None and len(images) > near_limit else
        [asdict(r) for r in near_duplicates(images, pred.labels, max_distance)],
        "label_errors": [asdict(r) for r in likely_label_errors(pred, min_confidence)],
    }
