"""Strokes as Google's raw drawings keep them (x, y, t in ms), and what the model sees of them.

Coordinates are canvas pixels (any units: Google's simplification aligns and scales them);
t counts milliseconds from the drawing's first point. The model's input is made exactly as
the data set's: qd's implementation of Google's simplification, then the data set's rasteriser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qdcore.data.raster import rasterize
from qdcore.data.simplify import simplify
from qdcore.data.strokes import parse_drawing


@dataclass
class Stroke:
    """One stroke: parallel lists of x, y and t (ms since the drawing began)."""

    xs: list[int] = field(default_factory=list)
    ys: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.xs)

    def as_raw(self) -> list[list[int]]:
        """[[x...], [y...], [t...]] as in Google's raw ndjson."""
        return [list(self.xs), list(self.ys), list(self.ts)]


def model_drawing(raw: list):
    """The canvas's strokes as a `qdcore.data.strokes.Drawing` with their times (what a stroke model reads), or None."""
    strokes = [[list(map(int, s[0])), list(map(int, s[1])), list(map(int, s[2]))] for s in raw if len(s[0])]
    return parse_drawing({"drawing": strokes}) if strokes else None


def model_input(raw: list, size: int = 28) -> np.ndarray:
    """uint8 (size, size): raw strokes simplified and rasterised as the data set's bitmaps were (blank if empty)."""
    strokes = [s for s in raw if len(s[0])]
    if not strokes:
        return np.zeros((size, size), np.uint8)
    return rasterize(simplify(strokes), size)


class StrokeRecorder:
    """Records press-drag-release strokes; undo, clear, and the raw/simplified/raster views of them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.strokes: list[Stroke] = []
        self.current: Stroke | None = None
        self._t0: float | None = None
        self.version = 0  # grows with every change: a cheap key for caches and stale guesses

    def _ms(self, at: float | None = None) -> int:
        now = self.clock() if at is None else at
        if self._t0 is None:
            self._t0 = now
        return int(round((now - self._t0) * 1000))

    @property
    def drawing(self) -> bool:
        """True while a stroke is being drawn (pen down)."""
        return self.current is not None

    @property
    def empty(self) -> bool:
        """No point recorded yet."""
        return not self.strokes and not self.current

    def start(self, x: int, y: int, at: float | None = None) -> None:
        """Pen down at (x, y) (at: when, on `clock`'s scale; default now): a new stroke."""
        self.finish()
        self.current = Stroke()
        self._add(x, y, at)

    def extend(self, x: int, y: int, at: float | None = None) -> bool:
        """Pen moved to (x, y) while down; repeated points are not kept. True if a point was added."""
        if self.current is None:
            return False
        if self.current.xs and self.current.xs[-1] == int(x) and self.current.ys[-1] == int(y):
            return False
        self._add(x, y, at)
        return True

    def _add(self, x: int, y: int, at: float | None) -> None:
        assert self.current is not None
        self.current.xs.append(int(x))
        self.current.ys.append(int(y))
        # Times never go backwards, even when events arrive out of order.
        t = self._ms(at)
        prev = self.current.ts[-1] if self.current.ts else (self.strokes[-1].ts[-1] if self.strokes else 0)
        self.current.ts.append(max(t, prev))
        self.version += 1

    def finish(self) -> bool:
        """Pen up: the stroke in progress joins the drawing. True if there was one."""
        if self.current is None:
            return False
        self.strokes.append(self.current)
        self.current = None
        self.version += 1
        return True

    def undo(self) -> bool:
        """Remove the stroke in progress, else the last finished one. True if something was removed."""
        if self.current is not None:
            self.current = None
        elif self.strokes:
            self.strokes.pop()
        else:
            return False
        self.version += 1
        return True

    def clear(self) -> None:
        """Forget every stroke (the clock restarts with the next point)."""
        self.strokes, self.current, self._t0 = [], None, None
        self.version += 1

    def all_strokes(self, include_current: bool = True) -> list[Stroke]:
        """Finished strokes, plus the one in progress when asked."""
        return self.strokes + ([self.current] if include_current and self.current is not None else [])

    def raw(self, include_current: bool = True) -> list[list[list[int]]]:
        """Google's raw stroke list [[[x...], [y...], [t...]], ...]."""
        return [s.as_raw() for s in self.all_strokes(include_current)]

    def simplified(self, include_current: bool = True) -> list[tuple[list[int], list[int]]]:
        """The strokes simplified as Google's simplified data (0..255)."""
        return simplify(self.raw(include_current))

    def image(self, include_current: bool = True, size: int = 28) -> np.ndarray:
        """The uint8 (size, size) bitmap the model sees."""
        return model_input(self.raw(include_current), size)

    @property
    def elapsed_ms(self) -> int:
        """Milliseconds since the first point (0 before any)."""
        return 0 if self._t0 is None else int(round((self.clock() - self._t0) * 1000))
