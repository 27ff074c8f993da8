"""Real pixels: the kitty and sixel paths emit their protocols' escape sequences for a known image."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.reactive import reactive
from tui_helpers import sync

from qdtui.app import parse_args
from qdtui.widgets.drawing import Drawing
from qdtui.widgets.drawing_grid import DrawingGrid, GridItem
from qdtui.widgets.pixels import CellImage, kitty_transmit, sixel_data

RED_BLUE = np.array([[[255, 0, 0], [0, 0, 255]], [[0, 0, 255], [255, 0, 0]]], np.uint8)


def _kitty_png(seq: str) -> np.ndarray:
    """The image carried by a kitty transmission (chunks joined, base64 decoded)."""
    payload = "".join(re.findall(r"\x1b_G[^;\x1b]*;([^\x1b]*)\x1b\\", seq))
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB"))


def test_kitty_transmission_carries_the_image_and_a_placement() -> None:
    seq = kitty_transmit(4242, RED_BLUE, cols=2, rows=1)
    assert seq.startswith("\x1b_Ga=t,q=2,f=100,i=4242,m=0;")
    assert seq.endswith("\x1b_Ga=p,U=1,q=2,i=4242,c=2,r=1\x1b\\")
    assert np.array_equal(_kitty_png(seq), RED_BLUE)


def test_sixel_encoding_has_header_palette_and_terminator() -> None:
    seq = sixel_data(np.repeat(np.repeat(RED_BLUE, 6, 0), 6, 1), (0, 0, 0))
    assert seq.startswith("\x1bP") and seq.endswith("\x1b\\")
    assert '"1;1;12;12' in seq  # raster attributes: 12x12 pixels
    registers = set(re.findall(r"#\d+;2;(\d+);(\d+);(\d+)", seq))
    assert registers == {("100", "0", "0"), ("0", "0", "100")}  # red and blue, in percent


class PixelApp(App[None]):
    """A drawing and a grid in a chosen graphics mode."""

    graphics: reactive[str] = reactive("halfblock")

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.set_reactive(PixelApp.graphics, mode)

    def compose(self) -> ComposeResult:
        img = np.zeros((28, 28), np.uint8)
        img[4:24, 13:15] = 255
        yield Drawing(img, id="one")
        yield DrawingGrid([GridItem(img, truth="line"), GridItem(RED_BLUE.repeat(14, 0).repeat(14, 1), title="rgb")])


def _lines(widget) -> str:
    """What the widget hands Textual's compositor for the whole of it, as text."""
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return "".join(seg.text for strip in strips for seg in strip)


@sync
async def test_widgets_emit_kitty_placeholders_and_transmissions() -> None:
    app = PixelApp("kitty")
    async with app.run_test(size=(80, 40)):
        drawing, grid = app.query_one("#one", Drawing), app.query_one(DrawingGrid)
        for widget in (drawing, grid):
            widget._graphics_changed()  # forget what the first paint sent
            text = _lines(widget)
            assert "\x1b_Ga=t,q=2,f=100" in text and "a=p,U=1" in text
            assert chr(0x10EEEE) in text
            again = "".join(seg.text for y in range(widget.size.height) for seg in widget.render_line(y))
            assert "\x1b_Ga=t" not in again and chr(0x10EEEE) in again  # sent once, then only placed
        fresh = CellImage(RED_BLUE, 2, 1, "kitty")
        png = _kitty_png("".join(s.text for s in fresh.line(0)))
        assert tuple(png[0, 0]) == (255, 0, 0) and tuple(png[-1, 0]) == (0, 0, 255)


@sync
async def test_widgets_emit_sixels_and_halfblocks_stay_plain() -> None:
    app = PixelApp("sixel")
    async with app.run_test(size=(80, 40)) as pilot:
        drawing, grid = app.query_one("#one", Drawing), app.query_one(DrawingGrid)
        assert _lines(drawing).count("\x1bP") == 1
        assert _lines(grid).count("\x1bP") == 2  # both items in view
        app.graphics = "halfblock"
        await pilot.pause()
        for widget in (drawing, grid):
            text = _lines(widget)
            assert "\x1bP" not in text and "\x1b_G" not in text and "▀" in text


def test_graphics_flag() -> None:
    assert parse_args(["--graphics", "sixel"]).graphics == "sixel"
    assert parse_args([]).graphics in ("auto", "kitty", "sixel", "halfblock")


@sync
async def test_the_app_setting_switches_every_drawing(tmp_path):
    from tui_helpers import settle

    from qdtui.app import QdApp
    from qdtui.state import AppState

    app = QdApp(AppState(home=tmp_path / "qd-home"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        grid = app.screen.query_one(DrawingGrid)
        assert app.graphics == "halfblock" and "▀" in _lines(grid)
        await pilot.press("ctrl+g")  # kitty
        await pilot.pause()
        assert app.graphics == "kitty" and chr(0x10EEEE) in _lines(grid) and "▀" not in _lines(grid)
        await pilot.press("ctrl+g")  # sixel
        await pilot.pause()
        assert app.graphics == "sixel" and "\x1bP" in _lines(grid)
