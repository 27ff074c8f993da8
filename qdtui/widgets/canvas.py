"""A canvas for drawing with the mouse (press, drag, release = one stroke) or a keyboard pen, at half-cell resolution.

Each cell shows two pixels (half blocks), so a canvas of W x H cells is W x 2H pixels, about
square. Points go to a qdcore StrokeRecorder in those pixel units; this widget only paints them.
"""

from __future__ import annotations

import math

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual._time import get_time  # the clock Textual stamps input events with
from textual.binding import Binding
from textual.strip import Strip
from textual.widget import Widget

from qdcore.draw.recorder import StrokeRecorder
from qdtui.messages import StrokesChanged
from qdtui.widgets.drawing import HALF, cell_pairs, widget_palette

PEN_STEP = 1  # pixels per arrow key; shift+arrow moves PEN_JUMP
PEN_JUMP = 4


def line_pixels(x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer pixels on the segment from (x0, y0) to (x1, y1), ends included."""
    n = max(abs(x1 - x0), abs(y1 - y0)) + 1
    t = np.linspace(0.0, 1.0, n)
    return np.rint(x0 + t * (x1 - x0)).astype(np.int64), np.rint(y0 + t * (y1 - y0)).astype(np.int64)


class Canvas(Widget, can_focus=True):
    """Records strokes into `recorder` and shows them; posts StrokesChanged after every change."""

    COMPONENT_CLASSES = {"canvas--ink", "canvas--paper", "canvas--pen"}
    DEFAULT_CSS = """
    Canvas { width: 1fr; height: 1fr; }
    Canvas > .canvas--ink { color: $foreground; }
    Canvas > .canvas--paper { color: $surface-lighten-1; }
    Canvas > .canvas--pen { color: $accent; }
    """
    BINDINGS = [
        Binding("up", "pen(0, -1)", "Pen up", show=False),
        Binding("down", "pen(0, 1)", "Pen down", show=False),
        Binding("left", "pen(-1, 0)", "Pen left", show=False),
        Binding("right", "pen(1, 0)", "Pen right", show=False),
        Binding("shift+up", "pen(0, -1, True)", "Pen up fast", show=False),
        Binding("shift+down", "pen(0, 1, True)", "Pen down fast", show=False),
        Binding("shift+left", "pen(-1, 0, True)", "Pen left fast", show=False),
        Binding("shift+right", "pen(1, 0, True)", "Pen right fast", show=False),
        Binding("space", "toggle_pen", "Pen", key_display="space"),
    ]

    CLOCK = staticmethod(get_time)  # give recorders this clock so points carry their events' times

    def __init__(self, recorder: StrokeRecorder | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.recorder = recorder or StrokeRecorder(self.CLOCK)
        self.pen: tuple[int, int] | None = None  # keyboard pen position (pixels); None until first used
        self.pen_down = False
        self._mouse_down = False
        self._ink = np.zeros((0, 0), np.uint8)
        self._painted: tuple[int, int] = (0, 0)  # (strokes, points of the current stroke) already in _ink
        self._palettes: dict = {}

    # --- geometry -----------------------------------------------------------

    @property
    def pixel_size(self) -> tuple[int, int]:
        """(width, height) in pixels: two pixels per cell vertically."""
        return self.size.width, 2 * self.size.height

    def to_pixel(self, x: float, y: float) -> tuple[int, int]:
        """Widget cell coordinates (fractional where the terminal reports pixels) -> canvas pixel, clamped."""
        w, h = self.pixel_size
        return min(max(int(x), 0), max(w - 1, 0)), min(max(int(math.floor(y * 2)), 0), max(h - 1, 0))

    # --- recording ----------------------------------------------------------

    def begin(self, px: int, py: int, at: float | None = None) -> None:
        """Pen down at a pixel (at: the input event's time): a new stroke."""
        self.recorder.start(px, py, at)
        self._changed(False)

    def extend(self, px: int, py: int, at: float | None = None) -> None:
        """Pen moved to a pixel while down."""
        if self.recorder.extend(px, py, at):
            self._changed(False)

    def end(self) -> None:
        """Pen up: the stroke is finished."""
        if self.recorder.finish():
            self._changed(True)

    def undo(self) -> None:
        """Remove the last stroke."""
        self.pen_down = self._mouse_down = False
        if self.recorder.undo():
            self._changed(True, repaint=True)

    def clear(self) -> None:
        """Remove every stroke."""
        self.pen_down = self._mouse_down = False
        self.recorder.clear()
        self._changed(True, repaint=True)

    def _changed(self, finished: bool, repaint: bool = False) -> None:
        if repaint:
            self._painted = (-1, 0)
        self.refresh()
        self.post_message(StrokesChanged(self, finished))

    # --- mouse --------------------------------------------------------------

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button != 1:
            return
        self.focus()
        self.capture_mouse()
        self._mouse_down = True
        self.pen_down = False
        self.begin(*self.to_pixel(event.pointer_x, event.pointer_y), event.time)
        event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._mouse_down:
            self.extend(*self.to_pixel(event.pointer_x, event.pointer_y), event.time)
            event.stop()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._mouse_down:
            self._mouse_down = False
            self.release_mouse()
            self.extend(*self.to_pixel(event.pointer_x, event.pointer_y), event.time)
            self.end()
            event.stop()

    # --- keyboard pen -------------------------------------------------------

    def _pen_at(self) -> tuple[int, int]:
        if self.pen is None:
            w, h = self.pixel_size
            self.pen = (w // 2, h // 2)
        return self.pen

    def action_pen(self, dx: int, dy: int, fast: bool = False) -> None:
        """Move the keyboard pen; with the pen down it draws."""
        x, y = self._pen_at()
        step = PEN_JUMP if fast else PEN_STEP
        w, h = self.pixel_size
        self.pen = (min(max(x + dx * step, 0), w - 1), min(max(y + dy * step, 0), h - 1))
        if self.pen_down:
            self.extend(*self.pen)
        self.refresh()

    def action_toggle_pen(self) -> None:
        """Put the keyboard pen down (a stroke begins) or lift it (the stroke ends)."""
        pen = self._pen_at()
        self.pen_down = not self.pen_down
        if self.pen_down:
            self.begin(*pen)
        else:
            self.end()
        self.refresh()

    # --- painting -----------------------------------------------------------

    def _ink_pixels(self) -> np.ndarray:
        """uint8 (2H, W) ink, updated incrementally as points arrive (redrawn after undo, clear or resize)."""
        w, h = self.pixel_size
        rec = self.recorder
        if self._ink.shape != (h, w) or self._painted[0] < 0 or self._painted[0] > len(rec.strokes):
            self._ink = np.zeros((h, w), np.uint8)
            self._painted = (0, 0)
        done, pts = self._painted
        strokes = rec.all_strokes()
        for k in range(done, len(strokes)):
            s = strokes[k]
            start = pts if k == done else 0
            for i in range(max(start, 0), len(s)):
                x0, y0 = (s.xs[i - 1], s.ys[i - 1]) if i else (s.xs[0], s.ys[0])
                xs, ys = line_pixels(x0, y0, s.xs[i], s.ys[i])
                ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
                self._ink[ys[ok], xs[ok]] = 255
        # The stroke in progress may still grow: remember where it stopped, not that it is done.
        if rec.current is not None:
            self._painted = (len(rec.strokes), len(rec.current))
        else:
            self._painted = (len(rec.strokes), 0)
        return self._ink

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        pairs = cell_pairs(self._ink_pixels())
        if y >= pairs.shape[0]:
            return Strip.blank(width, self.rich_style)
        palette = widget_palette(self, "canvas", self._palettes)
        row = pairs[y]
        if self.pen is None or self.pen[1] // 2 != y or not self.has_focus:
            return Strip(palette.segments(row)).crop_extend(0, width, self.rich_style)
        # The keyboard pen: its half of the cell in the accent colour (bright when down).
        px, py = self.pen
        pen = self.get_component_rich_style("canvas--pen").color
        segs = palette.segments(row[:px]) if px else []
        top, bottom = (palette.color(int(v)) for v in row[px])
        if py % 2 == 0:
            top = pen
        else:
            bottom = pen
        segs.append(Segment(HALF, Style(color=top, bgcolor=bottom, bold=self.pen_down)))
        segs += palette.segments(row[px + 1:])
        return Strip(segs).crop_extend(0, width, self.rich_style)
