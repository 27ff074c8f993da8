"""Whether drawings replayed through a run are drawings it trained on: compared as 28x28 bitmaps.

A bitmap run's drawings (Google's numpy rows) carry no key_id, and a folder of stroke files (Google's raw
drawings) carries no row numbers, so the only identity the two share is the drawing itself. Google rendered its
bitmaps from the simplified strokes; qd's rasteriser renders a raw drawing to within Pearson r 0.98 of Google's
own row (min over 671 shared drawings, ../shared/quickdraw/README.md), while two different drawings of a
category rarely come that close. So a replayed drawing whose bitmap correlates at r >= SAME with one of the
run's training or validation drawings of its class is counted as seen.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qdcore.data.selection import load_splits
from qdcore.errors import QDError
from qdcore.runs.kinds import get_kind

SAME = 0.97  # Pearson r at 28x28 from which two bitmaps are taken for one drawing
MAX_WORK = 2e9  # multiply-adds the comparison may cost (replayed x seen x 784) before it gives up and says so
CHUNK = 4096  # seen drawings compared at a time


def _unit(images: Any) -> np.ndarray:
    """float32 (N, 784) rows centred and scaled to unit length (an inkless row stays zero: it matches nothing)."""
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    x = x - x.mean(1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)


def seen_rows(replayed: Any, seen: list[Any]) -> np.ndarray | None:
    """Indices of `replayed` (a DrawingSet) whose bitmap matches one of the `seen` DrawingSets' of the same class
    name; None when comparing them would cost more than MAX_WORK."""
    names = list(replayed.classes)
    per_class = {c: [s.subset(np.flatnonzero(s.labels == s.classes.index(c))) for s in seen if c in s.classes]
                 for c in names}
    work = sum(int((replayed.labels == k).sum()) * sum(len(s) for s in per_class[c]) * 784
               for k, c in enumerate(names))
    if work > MAX_WORK:
        return None
    hits: list[np.ndarray] = []
    for k, c in enumerate(names):
        rows = np.flatnonzero(replayed.labels == k)
        if not len(rows):
            continue
        a = _unit(replayed.images.take(rows, axis=0))
        best = np.full(len(rows), -1.0, np.float32)
        for s in per_class[c]:
            for start in range(0, len(s), CHUNK):
                b = _unit(s.images.take(np.arange(start, min(len(s), start + CHUNK)), axis=0))
                best = np.maximum(best, (a @ b.T).max(1, initial=-1.0))
        hits.append(rows[best >= SAME])
    return np.sort(np.concatenate(hits)) if hits else np.zeros(0, np.int64)


def seen_note(rec: Any, replayed: Any, where: str) -> str:
    """One line on whether the drawings replayed from `where` include drawings run `rec` trained or validated on."""
    try:
        cfg = get_kind(rec.kind).config.from_dict(rec.config, origin=f"run {rec.id} config")
        splits = load_splits(cfg, mapped=True)
    except (QDError, OSError) as e:
        return (f"overlap with run {rec.id}'s training drawings could not be ruled out: its data could not be read "
                f"({str(e).splitlines()[0] if str(e) else type(e).__name__})")
    seen = [splits.train, splits.val]
    n_seen = sum(len(s) for s in seen)
    hits = seen_rows(replayed, seen)
    if hits is None:
        return (f"overlap with run {rec.id}'s training drawings could not be ruled out: comparing {len(replayed):,} "
                f"drawings with its {n_seen:,} training and validation drawings is too much work here")
    if len(hits):
        return (f"WARNING: {len(hits):,} of the {len(replayed):,} drawings replayed from {where} match one of run "
                f"{rec.id}'s {n_seen:,} training and validation drawings (Pearson r >= {SAME} as 28x28 bitmaps): "
                "they are not held out, so the figures flatter the model")
    return (f"none of the {len(replayed):,} drawings replayed from {where} matches one of run {rec.id}'s {n_seen:,} "
            f"training and validation drawings (compared as 28x28 bitmaps, Pearson r >= {SAME})")
