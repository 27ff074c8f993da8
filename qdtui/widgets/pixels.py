"""Images in terminal cells: kitty graphics or sixel where the terminal shows pixels, half-blocks elsewhere.

Drawing and DrawingGrid (and every screen built on them) paint through this module. Half-blocks are
drawn by those widgets themselves (two pixels per cell); for the pixel modes a `CellImage` turns an
RGB array into what each row of cells emits:

- kitty: the image is sent once with the kitty graphics protocol and placed with Unicode placeholders
  (U+10EEEE plus row/column diacritics, the image id in the foreground colour), so it scrolls and
  crops with the text like any other cell;
- sixel: the cells are left blank and the widget writes the sixel data over them after its last row.

Both travel inside Textual's own output (zero-width control segments), so they reach the terminal in
order with the text, over SSH too.
"""

from __future__ import annotations

import base64
import io
import itertools
import os

import numpy as np
from rich.color import Color as RichColor
from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style

from qdtui.graphics import cell_pixels

PIXEL_MODES = ("kitty", "sixel")

_APC, _ST = "\x1b_G", "\x1b\\"
_PLACEHOLDER = chr(0x10EEEE)
# Row/column diacritics of the kitty placeholder scheme (the first 64 of the protocol's list; images
# wider or taller than 64 cells are not drawn by qd).
_DIACRITICS = [chr(c) for c in (
    0x0305, 0x030D, 0x030E, 0x0310, 0x0312, 0x033D, 0x033E, 0x033F, 0x0346, 0x034A, 0x034B, 0x034C,
    0x0350, 0x0351, 0x0352, 0x0357, 0x035B, 0x0363, 0x0364, 0x0365, 0x0366, 0x0367, 0x0368, 0x0369,
    0x036A, 0x036B, 0x036C, 0x036D, 0x036E, 0x036F, 0x0483, 0x0484, 0x0485, 0x0486, 0x0487, 0x0592,
    0x0593, 0x0594, 0x0595, 0x0597, 0x0598, 0x0599, 0x059C, 0x059D, 0x059E, 0x059F, 0x05A0, 0x05A1,
    0x05A8, 0x05A9, 0x05AB, 0x05AC, 0x05AF, 0x05C4, 0x0610, 0x0611, 0x0612, 0x0613, 0x0614, 0x0615,
    0x0616, 0x0617, 0x0657, 0x0658)]
MAX_CELLS = len(_DIACRITICS)
_NULL = Style()
_ids = itertools.count(1 + (os.getpid() % 4096) * 4096)  # distinct per process; ids fit 24 bits


def gray_to_rgb(image: np.ndarray, ink: tuple[int, int, int], paper: tuple[int, int, int]) -> np.ndarray:
    """uint8 (H, W) intensities -> uint8 (H, W, 3) blending paper (0) to ink (255)."""
    v = np.asarray(image, np.float32)[..., None] / 255.0
    out = np.array(paper, np.float32) * (1 - v) + np.array(ink, np.float32) * v
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def fit_pixels(rgb: np.ndarray, cols: int, rows: int, cell: tuple[int, int]) -> np.ndarray:
    """The image scaled (nearest pixel, aspect kept) and centred on its corner colour in cols x rows cells."""
    from PIL import Image as PILImage

    width, height = cols * cell[0], rows * cell[1]
    h, w = rgb.shape[:2]
    scale = min(width / w, height / h)
    sw, sh = max(1, int(w * scale)), max(1, int(h * scale))
    scaled = np.asarray(PILImage.fromarray(rgb, "RGB").resize((sw, sh), PILImage.Resampling.NEAREST))
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = rgb[0, 0]
    top, left = (height - sh) // 2, (width - sw) // 2
    canvas[top:top + sh, left:left + sw] = scaled
    return canvas


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG encoding of a uint8 (H, W, 3) array."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(rgb, "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def kitty_transmit(image_id: int, rgb: np.ndarray, cols: int, rows: int) -> str:
    """Escape sequences sending a PNG under image_id and a virtual placement of cols x rows cells."""
    data = base64.standard_b64encode(png_bytes(rgb)).decode("ascii")
    chunks = [data[i:i + 4096] for i in range(0, len(data), 4096)] or [""]
    parts = []
    for k, chunk in enumerate(chunks):
        more = 1 if k < len(chunks) - 1 else 0
        keys = f"a=t,q=2,f=100,i={image_id},m={more}" if k == 0 else f"q=2,m={more}"
        parts.append(f"{_APC}{keys};{chunk}{_ST}")
    parts.append(f"{_APC}a=p,U=1,q=2,i={image_id},c={cols},r={rows}{_ST}")
    return "".join(parts)


def kitty_placeholders(image_id: int, row: int, cols: int, first_col: int = 0) -> Segment:
    """One row of placeholder cells for an image placed with kitty_transmit."""
    color = Style(color=RichColor.from_rgb((image_id >> 16) & 255, (image_id >> 8) & 255, image_id & 255))
    r = _DIACRITICS[row]
    return Segment("".join(_PLACEHOLDER + r + _DIACRITICS[c] for c in range(first_col, first_col + cols)), color)


def sixel_data(rgb: np.ndarray, background: tuple[int, int, int]) -> str:
    """The sixel encoding (DCS ... ST) of a uint8 (H, W, 3) array."""
    from PIL import Image as PILImage
    from textual_image._sixel import image_to_sixels

    return image_to_sixels(PILImage.fromarray(rgb, "RGB"), None, (*background, 1.0))


def control(text: str) -> Segment:
    """A zero-width segment carrying escape sequences to the terminal as they are."""
    return Segment(text, _NULL, control=((ControlType.CURSOR_FORWARD, 0),))


def sixel_at(x: int, y: int, data: str) -> Segment:
    """Sixel data drawn with its top-left corner at screen cell (x, y)."""
    return control(Control.move_to(x, y).segment.text + data)


class CellImage:
    """An RGB image fitted into cols x rows cells for a pixel mode, with its encodings cached."""

    def __init__(self, rgb: np.ndarray, cols: int, rows: int, mode: str) -> None:
        if mode not in PIXEL_MODES:
            raise ValueError(f"CellImage draws kitty or sixel, not {mode!r}")
        self.cols, self.rows, self.mode = min(cols, MAX_CELLS), min(rows, MAX_CELLS), mode
        self.cell = cell_pixels()
        self.pixels = fit_pixels(np.asarray(rgb, np.uint8), self.cols, self.rows, self.cell)
        self.background = tuple(int(v) for v in self.pixels[0, 0])
        self.image_id = next(_ids) & 0xFFFFFF
        self._sixels: dict[tuple[int, int], str] = {}
        self.sent = False  # kitty: whether the image went out with a rendered line

    def line(self, row: int) -> list[Segment]:
        """Row `row` of cells; for kitty the first line rendered also carries the image itself."""
        if self.mode == "sixel":
            return [Segment(" " * self.cols, Style(bgcolor=RichColor.from_rgb(*self.background)))]
        segs = []
        if not self.sent:
            segs.append(control(kitty_transmit(self.image_id, self.pixels, self.cols, self.rows)))
            self.sent = True
        segs.append(kitty_placeholders(self.image_id, row, self.cols))
        return segs

    def sixel(self, first_row: int = 0, last_row: int | None = None) -> str:
        """Sixel data of cell rows first_row..last_row (exclusive), for an image partly scrolled out."""
        last = self.rows if last_row is None else min(last_row, self.rows)
        key = (first_row, last)
        data = self._sixels.get(key)
        if data is None:
            ch = self.cell[1]
            data = self._sixels[key] = sixel_data(self.pixels[first_row * ch:last * ch], self.background)
        return data
