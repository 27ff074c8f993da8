"""Drawings with a heat map (Grad-CAM) overlaid, as half-block cells: a grid like DrawingGrid, in colour."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.style import Style

from qdtui.widgets.drawing import RgbPalette, cell_pairs, resample
from qdtui.widgets.drawing_grid import DrawingGrid, GridItem

# 0 -> dark blue, 0.35 -> cyan, 0.6 -> yellow, 1 -> red: a jet-like ramp readable in 256-colour terminals too
_STOPS = np.array([0.0, 0.35, 0.6, 1.0], np.float32)
_RAMP = np.array([[40, 60, 200], [0, 200, 220], [250, 220, 0], [230, 20, 20]], np.float32)


def heat_colors(v: np.ndarray) -> np.ndarray:
    """float (...) in [0, 1] -> float32 RGB (..., 3) on the heat ramp."""
    v = np.clip(np.asarray(v, np.float32), 0.0, 1.0)
    return np.stack([np.interp(v, _STOPS, _RAMP[:, k]) for k in range(3)], axis=-1).astype(np.float32)


def blend(image: np.ndarray, heat: np.ndarray, ink: tuple[int, int, int], paper: tuple[int, int, int],
          alpha: float = 0.85) -> np.ndarray:
    """uint8 RGB (H, W, 3): paper tinted by the heat where the map is strong, the strokes in ink on top."""
    img = np.asarray(image, np.float32) / 255.0
    h = np.clip(np.asarray(heat, np.float32).reshape(img.shape), 0.0, 1.0)
    paper_rgb = np.array(paper, np.float32)
    # weaker map, less tint: the cold end of the ramp would otherwise paint the whole square blue
    w = (alpha * h)[..., None]
    out = paper_rgb * (1 - w) + heat_colors(h) * w
    strokes = (0.85 * img)[..., None]
    out = out * (1 - strokes) + np.array(ink, np.float32) * strokes
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def rgb_cell_pairs(rgb: np.ndarray, zoom: float) -> np.ndarray:
    """(rows, W, 2, 3) uint8: the (top, bottom) RGB pixel pair behind each half-block cell at a zoom."""
    return np.stack([cell_pairs(resample(rgb[..., k], zoom)) for k in range(3)], axis=-1)


@dataclass
class HeatItem(GridItem):
    """A drawing and its map (float (28, 28) in [0, 1]); `heat` None shows the plain drawing."""

    heat: np.ndarray | None = None


def _rgb_of(style: Style, attr: str, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    c = getattr(style, attr)
    if c is None:
        return fallback
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


class HeatmapGrid(DrawingGrid):
    """A DrawingGrid of HeatItems: each drawing blended with its heat map in the theme's ink and paper."""

    def __init__(self, items: list[GridItem] | None = None, *, zoom: float | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        self._rgb: dict[tuple, np.ndarray] = {}
        self._palette = RgbPalette()
        super().__init__(items, zoom=zoom, name=name, id=id, classes=classes)

    def set_items(self, items: list[GridItem]) -> None:
        """Replace the drawings (HeatItems, or GridItems shown without a map)."""
        self._rgb.clear()
        super().set_items(items)

    def _colors(self) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        ink = _rgb_of(self.get_component_rich_style("drawing-grid--ink"), "color", (255, 255, 255))
        paper = _rgb_of(self.get_component_rich_style("drawing-grid--paper"), "color", (0, 0, 0))
        return ink, paper

    def _rgb_pairs(self, index: int, zoom: float, ink, paper) -> np.ndarray:
        cache = self._rgb
        key = (index, zoom, ink, paper)
        pairs = cache.get(key)
        if pairs is None:
            if len(cache) > 512:
                cache.clear()
            item = self._items[index]
            heat = getattr(item, "heat", None)
            if heat is None:
                heat = np.zeros(item.image.shape, np.float32)
            pairs = cache[key] = rgb_cell_pairs(blend(item.image, heat, ink, paper), zoom)
        return pairs

    def _item_rgb(self, index: int, ink, paper) -> np.ndarray:
        """The drawing blended with its map: what the pixel modes show."""
        item = self._items[index]
        heat = getattr(item, "heat", None)
        if heat is None:
            heat = np.zeros(item.image.shape[:2], np.float32)
        return blend(item.image, heat, ink, paper)

    def _cell_source(self, zoom: float):
        """The drawings blended with their maps in the theme's ink and paper, as RGB half-block cells."""
        ink, paper = self._colors()
        return (lambda index: self._rgb_pairs(index, zoom, ink, paper)), self._palette.segments
