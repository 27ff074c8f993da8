"""A drawing in cells: half-blocks (two pixels a cell) or real pixels (kitty, sixel) per the app's graphics mode."""

from __future__ import annotations

import math

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

HALF = "▀"  # foreground paints the top pixel, background the bottom one
ZOOMS = (0.5, 1.0, 2.0, 3.0)
# Scales a FitDrawing tries, largest first; 1.5x is what fits the quiz at 80x24 (42x21 cells).
SCALES = (3.0, 2.5, 2.0, 1.5, 1.0)


def as_image(image: np.ndarray) -> np.ndarray:
    """A uint8 (H, W) or (H, W, 3) view of an image given as (H, W), (H, W, 3) RGB or a flat square vector."""
    a = np.asarray(image)
    if a.ndim == 1:
        side = int(math.isqrt(a.size))
        if side * side != a.size:
            raise ValueError(f"a flat drawing must have a square number of pixels, got {a.size}")
        a = a.reshape(side, side)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        raise ValueError(f"an image must be (H, W) or (H, W, 3), got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


def resample(image: np.ndarray, zoom: float) -> np.ndarray:
    """Pixels at a zoom: integer zooms repeat pixels, 0.5 keeps the max of each 2x2 block."""
    img = as_image(image)
    if img.ndim == 3:
        return np.stack([resample(img[..., k], zoom) for k in range(3)], axis=-1)
    if zoom >= 1:
        k = int(zoom)
        return img if k == 1 else np.repeat(np.repeat(img, k, axis=0), k, axis=1)
    h, w = img.shape
    # Max (not mean) pooling keeps one-pixel strokes visible in thumbnails.
    padded = np.zeros((h + h % 2, w + w % 2), np.uint8)
    padded[:h, :w] = img
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).max(axis=(1, 3))


def cell_pairs(pixels: np.ndarray) -> np.ndarray:
    """(rows, W, 2) uint8 (RGB: (rows, W, 2, 3)): the (top, bottom) pixel pair behind each half-block cell."""
    if pixels.ndim == 3:  # RGB: (rows, W, 2, 3)
        return np.stack([cell_pairs(pixels[..., k]) for k in range(3)], axis=-1)
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


class RgbPalette:
    """Rich styles for (top, bottom) RGB pairs, cached."""

    def __init__(self) -> None:
        self._styles: dict[tuple[int, ...], Style] = {}

    def segments(self, row: np.ndarray) -> list[Segment]:
        """Segments for one row of cells (W, 2, 3), merging runs of equal cells."""
        out: list[Segment] = []
        prev: tuple[int, ...] | None = None
        run = 0
        for cell in row.reshape(row.shape[0], 6).tolist():
            key = tuple(cell)
            if key == prev:
                run += 1
                continue
            if prev is not None:
                out.append(Segment(HALF * run, self.style(prev)))
            prev, run = key, 1
        if prev is not None:
            out.append(Segment(HALF * run, self.style(prev)))
        return out

    def style(self, key: tuple[int, ...]) -> Style:
        """Top pixel as the foreground, bottom as the background."""
        s = self._styles.get(key)
        if s is None:
            if len(self._styles) > 20000:  # colour images have many colours; keep the cache bounded
                self._styles.clear()
            s = self._styles[key] = Style(color=RichColor.from_rgb(*key[:3]), bgcolor=RichColor.from_rgb(*key[3:]))
        return s


_RGB_PALETTE = RgbPalette()


def with_controls(strip: Strip, controls: list[Segment], at: int) -> Strip:
    """The strip with zero-width control segments (sixel data) inserted before cell `at`.

    `at` is the widget's last content cell: the compositor cuts lines at widget edges (a scrollbar is
    one) and drops what follows the last cut, so the controls go just inside the content; that one
    cell (padding or a corner of the image's background) is drawn after the image."""
    n = strip.cell_length
    if not controls or not 0 <= at < n:
        return strip
    return Strip([*strip.crop(0, at), *controls, *strip.crop(at, n)], cell_length=n)


def graphics_of(widget: Widget) -> str:
    """The app's graphics mode (kitty, sixel or halfblock); apps other than qd's draw half-blocks."""
    return getattr(widget.app, "graphics", "halfblock")


def follow_graphics(widget: Widget, changed) -> None:
    """Call changed() whenever the app's graphics mode changes (the in-app setting)."""
    if hasattr(type(widget.app), "graphics"):
        widget.watch(widget.app, "graphics", lambda _: changed(), init=False)


def _triplet(style: Style, attr: str, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    c = getattr(style, attr)
    if c is None:
        return fallback
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


def widget_colors(widget: Widget, prefix: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(ink, paper) RGB from a widget's '<prefix>--ink' / '<prefix>--paper' component colours."""
    ink = _triplet(widget.get_component_rich_style(f"{prefix}--ink"), "color", (255, 255, 255))
    paper = _triplet(widget.get_component_rich_style(f"{prefix}--paper"), "color", (0, 0, 0))
    return ink, paper


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
    """One image (a drawing, a map, an RGB picture): 28x14 cells at zoom 1, larger when the widget allows.

    Half-blocks by default; with the app in kitty or sixel mode the same cells hold real pixels."""

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
        self._cell_image: tuple[tuple, object] | None = None

    def on_mount(self) -> None:
        follow_graphics(self, self._graphics_changed)

    def _graphics_changed(self) -> None:
        self._cell_image = None
        self.refresh()

    @property
    def image(self) -> np.ndarray | None:
        """The uint8 (H, W) or (H, W, 3) image shown, or None."""
        return self._image

    @image.setter
    def image(self, value: np.ndarray | None) -> None:
        self._image = None if value is None else as_image(value)
        self._pairs_key = None
        self._cell_image = None
        self.refresh()

    def current_zoom(self) -> float:
        """The zoom the drawing is drawn at for the widget's present size."""
        if self.zoom is not None:
            return self.zoom
        side = 28 if self._image is None else max(self._image.shape[:2])
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

    @property
    def pixel_source(self) -> np.ndarray | None:
        """The image the pixel modes scale (the one shown, unless a subclass keeps an original)."""
        return self._image

    def _pixels(self, mode: str, rows: int, cols: int):
        """The CellImage for a pixel mode, in the same cells the half-blocks would take."""
        from qdtui.widgets.pixels import CellImage, gray_to_rgb

        ink, paper = widget_colors(self, "drawing")
        key = (id(self._image), rows, cols, mode, ink, paper)
        if self._cell_image is None or self._cell_image[0] != key:
            # real pixels scale the original (a FitDrawing's half-block copy is resampled for cells)
            img = self.pixel_source if self.pixel_source is not None else self._image
            rgb = img if img.ndim == 3 else gray_to_rgb(img, ink, paper)
            self._cell_image = (key, CellImage(rgb, cols, rows, mode))
        return self._cell_image[1]

    def render_line(self, y: int) -> Strip:
        """One row of cells, centred in the widget."""
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
        mode = graphics_of(self)
        if mode == "halfblock":
            palette = _RGB_PALETTE if pairs.ndim == 4 else widget_palette(self, "drawing", self._palettes)
            segs += palette.segments(pairs[r])
            return Strip(segs).crop_extend(0, width, base)
        segs += self._pixels(mode, rows, min(cols, width)).line(r)
        return Strip(segs).crop_extend(0, width, base)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines, and in sixel mode the image sent after the last of them (over its blank cells).

        Added here, not in render_line: Textual restyles those strips and would drop control segments."""
        lines = super().render_lines(crop)
        pairs = self._cell_pairs()
        if not lines or pairs is None or graphics_of(self) != "sixel" or crop.bottom < self.size.height:
            return lines
        from qdtui.widgets.pixels import sixel_at

        if not self.screen.is_active:
            return lines
        rows, cols = pairs.shape[0], pairs.shape[1]
        width = self.size.width
        top, left = max(0, (self.size.height - rows) // 2), max(0, (width - cols) // 2)
        image = self._pixels("sixel", rows, min(cols, width))
        region = self.content_region
        lines[-1] = with_controls(lines[-1], [sixel_at(region.x + left, region.y + top, image.sixel())],
                                  region.right - self.region.x - 1)
        return lines


def best_scale(width: int, height: int, side: int = 28, scales: tuple[float, ...] = SCALES) -> float:
    """The largest scale at which a side x side drawing fits width x height half-block cells (0.5 if none)."""
    for s in scales:
        px = int(round(side * s))
        if px <= width and (px + 1) // 2 <= height:
            return s
    return 0.5


def upscale(image: np.ndarray, scale: float) -> np.ndarray:
    """The image resized by scale (bilinear, so 1.5x strokes stay smooth)."""
    from PIL import Image

    img = as_image(image)
    px = int(round(img.shape[0] * scale))
    if px == img.shape[0]:
        return img
    mode = "RGB" if img.ndim == 3 else "L"
    return np.asarray(Image.fromarray(img, mode).resize((px, px), Image.BILINEAR), dtype=np.uint8)


class FitDrawing(Drawing):
    """A drawing as large as the widget allows, at scales between Drawing's integer zooms (1.25x, 1.5x...)."""

    def __init__(self, image: np.ndarray | None = None, *, scales: tuple[float, ...] = SCALES,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(None, zoom=1.0, name=name, id=id, classes=classes)
        self.scales = scales
        self._source: np.ndarray | None = None
        self._fitted: tuple | None = None
        if image is not None:
            self.show(image)

    @property
    def pixel_source(self) -> np.ndarray | None:
        """The original, not the copy resampled for half-blocks."""
        return self._source

    def show(self, image: np.ndarray | None) -> None:
        """Show an image (None clears)."""
        self._source = None if image is None else as_image(image)
        self._fitted = None
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        if self._source is None:
            self.image = None
            return
        scale = best_scale(self.size.width, self.size.height, max(self._source.shape[:2]), self.scales)
        key = (id(self._source), scale)
        if key == self._fitted:
            return
        self._fitted = key
        self.zoom = 0.5 if scale < 1 else 1.0
        self.image = self._source if scale <= 1 else upscale(self._source, scale)
