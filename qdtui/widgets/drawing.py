"""A 28x28 drawing rendered with half-block characters: each cell shows two pixels."""

from __future__ import annotations

import math

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

HALF = "▀"  # foreground paints the top pixel, background the bottom one
ZOOMS = (0.5, 1.0, 2.0, 3.0)


def as_image(image: np.ndarray) -> np.ndarray:
    """A uint8 (H, W) view of a drawing given as (H, W) or a flat 784-vector."""
    a = np.asarray(image)
    if a.ndim == 1:
        side = int(math.isqrt(a.size))
        if side * side != a.size:
            raise ValueError(f"a flat drawing must have a square number of pixels, got {a.size}")
        a = a.reshape(side, side)
    if a.ndim != 2:
        raise ValueError(f"a drawing must be 2-D, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


def resample(image: np.ndarray, zoom: float) -> np.ndarray:
    """Pixels at a zoom: integer zooms repeat pixels, 0.5 keeps the max of each 2x2 block."""
    img = as_image(image)
    if zoom >= 1:
        k = int(zoom)
        return img if k == 1 else np.repeat(np.repeat(img, k, axis=0), k, axis=1)
    h, w = img.shape
    # Max (not mean) pooling keeps one-pixel strokes visible in thumbnails.
    padded = np.zeros((h + h % 2, w + w % 2), np.uint8)
    padded[:h, :w] = img
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).max(axis=(1, 3))


def cell_pairs(pixels: np.ndarray) -> np.ndarray:
    """(rows, W, 2) uint8: the (top, bottom) pixel pair behind each half-block cell."""
    h, w = pixels.shape
    if h % 2:
        pixels = np.vstack([pixels, np.zeros((1, w), np.uint8)])
    return np.stack([pixels[0::2], pixels[1::2]], axis=-1)


def cell_size(zoom: float, side: int = 28) -> tuple[int, int]:
    """(columns, rows) of cells a side x side drawing takes at a zoom."""
    px = int(side * zoom)
    return px, (px + 1) // 2


def fit_zoom(width: int, height: int, side: int = 28, max_zoom: float = 3.0) -> float:
    """The largest zoom in ZOOMS (at least 1) at which the drawing fits width x height cells."""
    best = 1.0
    for z in ZOOMS:
        cols, rows = cell_size(z, side)
        if z >= 1 and z <= max_zoom and cols <= width and rows <= height:
            best = z
    return best


class Palette:
    """Rich styles for (top, bottom) intensity pairs, blending paper to ink."""

    def __init__(self, ink: tuple[int, int, int], paper: tuple[int, int, int]) -> None:
        self.ink = np.array(ink, np.float32)
        self.paper = np.array(paper, np.float32)
        self._colors: dict[int, RichColor] = {}
        self._styles: dict[tuple[int, int], Style] = {}

    def color(self, v: int) -> RichColor:
        """The colour of intensity v (0 paper .. 255 ink)."""
        c = self._colors.get(v)
        if c is None:
            rgb = self.paper + (self.ink - self.paper) * (v / 255.0)
            c = RichColor.from_rgb(*(int(round(x)) for x in rgb))
            self._colors[v] = c
        return c

    def style(self, top: int, bottom: int) -> Style:
        """The style of one half-block cell."""
        key = (top, bottom)
        s = self._styles.get(key)
        if s is None:
            s = Style(color=self.color(top), bgcolor=self.color(bottom))
            self._styles[key] = s
        return s

    def segments(self, pairs_row: np.ndarray) -> list[Segment]:
        """Segments for one row of cells, merging runs of equal cells."""
        out: list[Segment] = []
        prev = None
        run = 0
        for t, b in pairs_row.tolist():
            if (t, b) == prev:
                run += 1
                continue
            if prev is not None:
                out.append(Segment(HALF * run, self.style(*prev)))
            prev, run = (t, b), 1
        if prev is not None:
            out.append(Segment(HALF * run, self.style(*prev)))
        return out


def _triplet(style: Style, attr: str, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    c = getattr(style, attr)
    if c is None:
        return fallback
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


def widget_palette(widget: Widget, prefix: str, cache: dict) -> Palette:
    """The palette from a widget's '<prefix>--ink' / '<prefix>--paper' component colours."""
    ink = _triplet(widget.get_component_rich_style(f"{prefix}--ink"), "color", (255, 255, 255))
    paper = _triplet(widget.get_component_rich_style(f"{prefix}--paper"), "color", (0, 0, 0))
    key = (ink, paper)
    pal = cache.get(key)
    if pal is None:
        cache.clear()  # one theme at a time; keeps the style cache small
        pal = cache[key] = Palette(ink, paper)
    return pal


class Drawing(Widget):
    """One drawing as half-blocks: 28x14 cells at zoom 1, 2x or 3x when the widget is big enough."""

    COMPONENT_CLASSES = {"drawing--ink", "drawing--paper"}
    DEFAULT_CSS = """
    Drawing { width: 28; height: 14; }
    Drawing > .drawing--ink { color: $foreground; }
    Drawing > .drawing--paper { color: $surface; }
    """

    def __init__(self, image: np.ndarray | None = None, *, zoom: float | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._image: np.ndarray | None = None if image is None else as_image(image)
        self.zoom = zoom  # None: the largest zoom that fits
        self._palettes: dict = {}
        self._pairs_key: tuple | None = None
        self._pairs: np.ndarray | None = None

    @property
    def image(self) -> np.ndarray | None:
        """The uint8 (H, W) drawing shown, or None."""
        return self._image

    @image.setter
    def image(self, value: np.ndarray | None) -> None:
        self._image = None if value is None else as_image(value)
        self._pairs_key = None
        self.refresh()

    def current_zoom(self) -> float:
        """The zoom the drawing is drawn at for the widget's present size."""
        if self.zoom is not None:
            return self.zoom
        side = 28 if self._image is None else max(self._image.shape)
        return fit_zoom(self.size.width, self.size.height, side)

    def _cell_pairs(self) -> np.ndarray | None:
        if self._image is None:
            return None
        zoom = self.current_zoom()
        key = (id(self._image), zoom)
        if key != self._pairs_key:
            self._pairs = cell_pairs(resample(self._image, zoom))
            self._pairs_key = key
        return self._pairs

    def render_line(self, y: int) -> Strip:
        """One row of half-block cells, centred in the widget."""
        width = self.size.width
        base = self.rich_style
        pairs = self._cell_pairs()
        if pairs is None:
            return Strip.blank(width, base)
        rows, cols = pairs.shape[0], pairs.shape[1]
        top = max(0, (self.size.height - rows) // 2)
        left = max(0, (width - cols) // 2)
        r = y - top
        if not 0 <= r < rows:
            return Strip.blank(width, base)
        segs = [Segment(" " * left, base)] if left else []
        segs += widget_palette(self, "drawing", self._palettes).segments(pairs[r])
        return Strip(segs).crop_extend(0, width, base)
