"""A scrolling grid of captioned drawings (line API: only visible rows are drawn)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from qdcore.fmt import literal
from qdtui.messages import DrawingHighlighted, DrawingSelected
from qdtui.widgets.drawing import (
    _RGB_PALETTE,
    as_image,
    cell_pairs,
    cell_size,
    follow_graphics,
    graphics_of,
    resample,
    widget_colors,
    widget_palette,
    with_controls,
)

CAPTION_LINES = 2


@dataclass
class GridItem:
    """One drawing of a grid and what to say under it."""

    image: np.ndarray
    truth: str | None = None
    pred: str | None = None
    prob: float | None = None
    provenance: str = ""
    title: str | None = None  # overrides the first caption line

    @property
    def correct(self) -> bool | None:
        """Whether the prediction matches the truth (None without a prediction)."""
        if self.truth is None or self.pred is None:
            return None
        return self.truth == self.pred

    def caption(self, width: int) -> tuple[str, str]:
        """Two lines: 'truth→pred 0.93' (or the title) and the provenance, fitted to width."""
        if self.title is not None:
            first = self.title
        else:
            parts = []
            if self.truth is not None and self.pred is not None:
                parts.append(self.truth if self.correct else f"{self.truth}→{self.pred}")
            elif self.truth is not None or self.pred is not None:
                parts.append(self.truth if self.truth is not None else f"→{self.pred}")
            if self.prob is not None:
                parts.append(f"{self.prob:.2f}")
            first = " ".join(parts)
        # Names and file paths come from users: one line each, control characters shown escaped.
        return fit_text(literal(first), width), fit_text(literal(self.provenance or ""), width, keep_end=True)


def fit_text(text: str, width: int, keep_end: bool = False) -> str:
    """Pad or shorten text to exactly width cells, with '…' where cut (at the start if keep_end)."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text.ljust(width)
    if keep_end:
        return "…" + text[len(text) - width + 1:]
    return text[: width - 1] + "…"


class DrawingGrid(ScrollView, can_focus=True):
    """Images in columns with two caption lines each; arrows move, Enter selects, z zooms.

    Items hold (H, W) drawings or (H, W, 3) RGB images (GAN grids, overlays); they are drawn as
    half-blocks or, with the app in kitty or sixel mode, as real pixels in the same cells."""

    COMPONENT_CLASSES = {
        "drawing-grid--ink",
        "drawing-grid--paper",
        "drawing-grid--caption",
        "drawing-grid--cursor",
        "drawing-grid--cursor-blurred",
        "drawing-grid--right",
        "drawing-grid--wrong",
    }
    DEFAULT_CSS = """
    DrawingGrid { height: 1fr; scrollbar-size-vertical: 1; }
    DrawingGrid > .drawing-grid--ink { color: $foreground; }
    DrawingGrid > .drawing-grid--paper { color: $surface; }
    DrawingGrid > .drawing-grid--caption { color: $text-muted; }
    DrawingGrid > .drawing-grid--cursor { background: $accent; color: $text; text-style: bold; }
    DrawingGrid > .drawing-grid--cursor-blurred { background: $accent 40%; color: $text; }
    DrawingGrid > .drawing-grid--right { color: $text-success; }
    DrawingGrid > .drawing-grid--wrong { color: $text-error; }
    """
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open"),
        Binding("z", "cycle_zoom", "Zoom"),
    ]

    cursor: reactive[int] = reactive(0)
    zoom: reactive[float | None] = reactive(None)  # None: 1x if two columns fit, else thumbnails

    def __init__(self, items: list[GridItem] | None = None, *, zoom: float | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._items: list[GridItem] = []
        self._pairs: dict[tuple[int, float], np.ndarray] = {}
        self._palettes: dict = {}
        self._images: dict[tuple, object] = {}  # pixel modes: CellImage per (index, zoom, mode, colours)
        self.set_reactive(DrawingGrid.zoom, zoom)
        if items:
            self.set_items(items)

    # --- data ---------------------------------------------------------------

    @property
    def items(self) -> list[GridItem]:
        """The drawings shown, in order."""
        return self._items

    def set_items(self, items: list[GridItem]) -> None:
        """Replace the drawings; the cursor returns to the first."""
        for it in items:
            it.image = as_image(it.image)
        self._items = list(items)
        self._pairs.clear()
        self._images.clear()
        self.set_reactive(DrawingGrid.cursor, 0)
        if self.is_mounted:
            self.scroll_to(0, 0, animate=False)
            self._relayout()

    def on_mount(self) -> None:
        follow_graphics(self, self._graphics_changed)
        self._relayout()

    def _graphics_changed(self) -> None:
        self._images.clear()
        self.refresh()

    # --- geometry -----------------------------------------------------------

    def effective_zoom(self) -> float:
        """The zoom in use: the chosen one, or 1x when two columns fit and 0.5x otherwise."""
        if self.zoom is not None:
            return self.zoom
        width = self.scrollable_content_region.width or self.size.width
        return 1.0 if self._columns_at(1.0, width) >= 2 else 0.5

    def _cell(self, zoom: float) -> tuple[int, int, int]:
        """(image columns, image rows, cell width incl. gap)."""
        w, h = cell_size(zoom)
        return w, h, w + 1

    def _columns_at(self, zoom: float, width: int) -> int:
        _, _, cw = self._cell(zoom)
        # The last column needs no gap after it.
        return max(1, (width + 1) // cw)

    @property
    def columns(self) -> int:
        """Drawings per row at the present width."""
        width = self.scrollable_content_region.width or self.size.width
        return self._columns_at(self.effective_zoom(), width)

    @property
    def cell_height(self) -> int:
        """Rows of one cell: drawing, captions and a blank line."""
        return self._cell(self.effective_zoom())[1] + CAPTION_LINES + 1

    def _relayout(self) -> None:
        zoom = self.effective_zoom()
        w, _, cw = self._cell(zoom)
        cols = self.columns
        rows = -(-len(self._items) // cols) if self._items else 0
        self.virtual_size = Size(cols * cw - 1 if cols else 0, rows * self.cell_height)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._relayout()
        self._scroll_to_cursor()

    def watch_zoom(self) -> None:
        self._relayout()
        self._scroll_to_cursor()

    def watch_cursor(self, old: int, new: int) -> None:
        self._scroll_to_cursor()
        self.refresh()
        if self._items and 0 <= new < len(self._items):
            self.post_message(DrawingHighlighted(self, new, self._items[new]))

    def _cell_region(self, index: int) -> Region:
        cols = self.columns
        _, _, cw = self._cell(self.effective_zoom())
        r, c = divmod(index, cols)
        return Region(c * cw, r * self.cell_height, cw, self.cell_height)

    def _scroll_to_cursor(self) -> None:
        if self._items:
            self.scroll_to_region(self._cell_region(self.cursor), animate=False, force=True)

    # --- actions ------------------------------------------------------------

    def _move_to(self, index: int) -> None:
        if self._items:
            self.cursor = max(0, min(len(self._items) - 1, index))

    def action_move(self, dx: int, dy: int) -> None:
        """Move the cursor by columns / rows."""
        self._move_to(self.cursor + dx + dy * self.columns)

    def action_page(self, direction: int) -> None:
        """Move the cursor by a screenful of rows."""
        rows = max(1, self.scrollable_content_region.height // self.cell_height)
        self._move_to(self.cursor + direction * rows * self.columns)

    def action_jump(self, index: int) -> None:
        """Go to the first (0) or last (-1) drawing."""
        self._move_to(len(self._items) - 1 if index < 0 else index)

    def action_select(self) -> None:
        """Post DrawingSelected for the drawing under the cursor."""
        if self._items:
            self.post_message(DrawingSelected(self, self.cursor, self._items[self.cursor]))

    def action_cycle_zoom(self) -> None:
        """Thumbnails, 1x, 2x, then back."""
        order = [0.5, 1.0, 2.0]
        now = self.effective_zoom()
        self.zoom = order[(order.index(now) + 1) % len(order)] if now in order else 1.0

    def on_click(self, event: events.Click) -> None:
        if not self._items:
            return
        sx, sy = self.scroll_offset
        _, _, cw = self._cell(self.effective_zoom())
        col = (event.x + sx) // cw
        row = (event.y + sy) // self.cell_height
        if col >= self.columns:
            return
        index = row * self.columns + col
        if 0 <= index < len(self._items):
            if index == self.cursor:
                self.action_select()
            else:
                self.cursor = index

    # --- rendering ----------------------------------------------------------

    def _item_pairs(self, index: int, zoom: float) -> np.ndarray:
        key = (index, zoom)
        pairs = self._pairs.get(key)
        if pairs is None:
            if len(self._pairs) > 512:  # bound memory on long galleries
                self._pairs.clear()
            pairs = self._pairs[key] = cell_pairs(resample(self._items[index].image, zoom))
        return pairs

    def _cell_source(self, zoom: float) -> tuple[Callable[[int], np.ndarray], Callable[[np.ndarray], list[Segment]]]:
        """For one frame: drawing index -> its cell pairs, and one row of pairs -> segments.

        Subclasses colour the cells differently by overriding this (HeatmapGrid blends in a heat map)."""
        palette = widget_palette(self, "drawing-grid", self._palettes)

        def segments(row: np.ndarray) -> list[Segment]:
            return (_RGB_PALETTE if row.ndim == 3 else palette).segments(row)

        return (lambda index: self._item_pairs(index, zoom)), segments

    def _item_rgb(self, index: int, ink, paper) -> np.ndarray:
        """The uint8 (H, W, 3) image of an item for the pixel modes (drawings in the theme's ink and paper)."""
        from qdtui.widgets.pixels import gray_to_rgb

        image = self._items[index].image
        return image if image.ndim == 3 else gray_to_rgb(image, ink, paper)

    def _cell_image(self, index: int, zoom: float, mode: str):
        """The CellImage of an item in a pixel mode, filling the cells its half-blocks would."""
        from qdtui.widgets.pixels import CellImage

        ink, paper = widget_colors(self, "drawing-grid")
        key = (index, zoom, mode, ink, paper)
        image = self._images.get(key)
        if image is None:
            if len(self._images) > 512:
                self._images.clear()
            iw, ih, _ = self._cell(zoom)
            image = self._images[key] = CellImage(self._item_rgb(index, ink, paper), iw, ih, mode)
        return image

    def _sixels(self, zoom: float) -> list[Segment]:
        """Sixel data for every image in view, placed over their blank cells (sent after the last line)."""
        from qdtui.widgets.pixels import sixel_at

        if not self.screen.is_active:
            return []
        region = self.scrollable_content_region
        iw, ih, cw = self._cell(zoom)
        cols, height = self.columns, region.height
        scroll_x, scroll_y = self.scroll_offset
        out = []
        for row in range(scroll_y // self.cell_height, (scroll_y + height - 1) // self.cell_height + 1):
            top = row * self.cell_height - scroll_y
            first, last = max(0, -top), min(ih, height - top)
            if first >= last:
                continue
            for c in range(cols):
                i = row * cols + c
                x = c * cw - scroll_x
                if i >= len(self._items) or x < 0 or x + iw > region.width:
                    continue
                data = self._cell_image(i, zoom, "sixel").sixel(first, last)
                out.append(sixel_at(region.x + x, region.y + top + first, data))
        return out

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        scroll_x, scroll_y = self.scroll_offset
        zoom = self.effective_zoom()
        iw, ih, cw = self._cell(zoom)
        cols = self.columns
        row, line = divmod(y + scroll_y, self.cell_height)
        pairs_of, segments_of = self._cell_source(zoom)
        cursor_style = self.get_component_rich_style(
            "drawing-grid--cursor" if self.has_focus else "drawing-grid--cursor-blurred")
        caption_style = self.get_component_rich_style("drawing-grid--caption")
        mode = graphics_of(self)
        segs: list[Segment] = []
        for c in range(cols):
            if c:
                segs.append(Segment(" ", base))
            i = row * cols + c
            if i >= len(self._items):
                segs.append(Segment(" " * iw, base))
                continue
            item = self._items[i]
            if line < ih and mode != "halfblock":
                segs += self._cell_image(i, zoom, mode).line(line)
            elif line < ih:
                pairs = pairs_of(i)
                if line < pairs.shape[0]:
                    segs += segments_of(pairs[line, :iw])
                    pad = iw - min(iw, pairs.shape[1])
                    if pad:
                        segs.append(Segment(" " * pad, base))
                else:
                    segs.append(Segment(" " * iw, base))
            elif line < ih + CAPTION_LINES:
                text = item.caption(iw)[line - ih]
                style = caption_style
                if line == ih and item.correct is not None:
                    style = self.get_component_rich_style(
                        "drawing-grid--right" if item.correct else "drawing-grid--wrong")
                if i == self.cursor:
                    style = style + cursor_style
                segs.append(Segment(text, style))
            else:
                segs.append(Segment(" " * iw, base))
        return Strip(segs).crop_extend(scroll_x, scroll_x + width, base)

    def render_lines(self, crop: Region) -> list[Strip]:
        """The lines, and in sixel mode the images in view sent after the last (over their blank cells).

        Added here, not in render_line: Textual restyles those strips and would drop control segments."""
        lines = super().render_lines(crop)
        if lines and graphics_of(self) == "sixel" and crop.bottom >= self.size.height:
            lines[-1] = with_controls(lines[-1], self._sixels(self.effective_zoom()),
                                      self.scrollable_content_region.right - self.region.x - 1)
        return lines
