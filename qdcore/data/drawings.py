"""A batch of drawings as a model may read them: the 28x28 bitmaps, and the strokes (with times) where known.

The predictor contract (`qdcore.runs.kinds.predictor_of`) takes a `Drawings`: a bitmap model reads
`.images`; a stroke-sequence model (a kind with `reads="strokes"`) reads `.strokes`, which come from the
source's files on first use (ndjson and Google's binary format hold strokes, raw ndjson their times too;
the draw canvas records its own), so a bitmap model never pays for reading them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class Drawings:
    """uint8 bitmaps (N, 28, 28) and, on demand, each drawing's strokes (a `qdcore.data.strokes.Drawing`, or None)."""

    def __init__(self, images: Any, strokes: Sequence[Any] | Callable[[], Sequence[Any] | None] | None = None,
                 origin: str = "") -> None:
        self.images = images
        self._strokes = strokes
        self.origin = origin  # the file or data they came from, for messages ("" when unknown)

    @classmethod
    def of(cls, x: Any, origin: str = "") -> Drawings:
        """`x` as Drawings (an array of bitmaps becomes drawings without strokes, read from `origin`)."""
        return x if isinstance(x, Drawings) else cls(x, None, origin)

    @classmethod
    def from_set(cls, ds: Any, idx: np.ndarray | None = None) -> Drawings:
        """Drawings of a DrawingSet (all, or the rows at `idx`), their strokes read from the files when asked."""
        rows = np.arange(len(ds)) if idx is None else np.asarray(idx, np.int64)
        images = ds.images if idx is None else ds.images.take(rows, axis=0)
        return cls(images, lambda: ds.drawings(rows), ds.origin or "")

    def __len__(self) -> int:
        return int(len(self.images))

    @property
    def strokes(self) -> list[Any] | None:
        """Each drawing's strokes (None for a drawing known only as a bitmap); None when none are known."""
        if callable(self._strokes):
            self._strokes = self._strokes()
        return None if self._strokes is None else list(self._strokes)

    def take(self, start: int, stop: int) -> Drawings:
        """Drawings start..stop (a batch)."""
        s = self.strokes if self._strokes is not None else None
        return Drawings(self.images[start:stop], None if s is None else s[start:stop], self.origin)
