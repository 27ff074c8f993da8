"""qdtui widgets in a small host app: half-block drawings, the drawing grid, the confusion heatmap, curves."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult
from tui_helpers import sync

from qdtui.messages import CellSelected, DrawingSelected
from qdtui.widgets.confusion import ConfusionMatrix, abbreviate, row_rates
from qdtui.widgets.curves import Curves, thin
from qdtui.widgets.drawing import HALF, Drawing, cell_pairs, fit_zoom, resample
from qdtui.widgets.drawing_grid import DrawingGrid, GridItem, fit_text


class Host(App[None]):
    """Mounts one widget and records the messages it posts."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.widget = widget
        self.got: list = []

    def compose(self) -> ComposeResult:
        yield self.widget

    def on_mount(self) -> None:
        self.widget.focus()

    def on_cell_selected(self, m: CellSelected) -> None:
        self.got.append(m)

    def on_drawing_selected(self, m: DrawingSelected) -> None:
        self.got.append(m)


def cells(strip) -> list[tuple[str, tuple, tuple]]:
    """(char, fg rgb, bg rgb) for every cell of a strip."""
    out = []
    for seg in strip:
        fg = seg.style.color.get_truecolor() if seg.style and seg.style.color else None
        bg = seg.style.bgcolor.get_truecolor() if seg.style and seg.style.bgcolor else None
        for ch in seg.text:
            out.append((ch, tuple(fg) if fg else None, tuple(bg) if bg else None))
    return out


# --- pure helpers ------------------------------------------------------------


def test_resample_and_cell_pairs():
    img = np.zeros((28, 28), np.uint8)
    img[0, 0] = 255
    img[3, 5] = 100
    half = resample(img, 0.5)
    assert half.shape == (14, 14) and half[0, 0] == 255 and half[1, 2] == 100  # max pooling keeps thin strokes
    assert resample(img, 2).shape == (56, 56)
    pairs = cell_pairs(img)
    assert pairs.shape == (14, 28, 2)
    assert tuple(pairs[0, 0]) == (255, 0) and tuple(pairs[1, 5]) == (0, 100)
    assert fit_zoom(28, 14) == 1.0 and fit_zoom(56, 28) == 2.0 and fit_zoom(60, 20) == 1.0
    flat = resample(img.reshape(784), 1)
    assert flat.shape == (28, 28)


def test_fit_text_and_abbreviations():
    assert fit_text("airplane", 5) == "airp…"
    assert fit_text("file.npy#123", 8, keep_end=True) == "…npy#123"
    assert fit_text("ab", 4) == "ab  "
    assert abbreviate(["airplane", "airport", "cat"], 3) == ["air", "ai2", "cat"]
    assert abbreviate(["The Great Wall of China", "alarm clock", "The Mona Lisa"], 3) == ["GWC", "alc", "MoL"]
    r = row_rates(np.array([[3, 1], [0, 0]]))
    assert r[0].tolist() == [0.75, 0.25] and r[1].tolist() == [0.0, 0.0]


def test_grid_item_caption():
    it = GridItem(np.zeros((28, 28), np.uint8), truth="cat", pred="dog", prob=0.8312, provenance="/x/cat.npy#12")
    first, second = it.caption(28)
    assert first.strip() == "cat→dog 0.83" and second.strip() == "/x/cat.npy#12"
    assert it.correct is False
    assert GridItem(it.image, truth="cat", pred="cat").caption(10)[0].strip() == "cat"


def test_thin_keeps_last_point():
    xs = list(range(1000))
    tx, ty = thin(xs, xs, 50)
    assert len(tx) <= 50 and tx[-1] == 999 and tx[0] == 0


# --- mounted widgets -----------------------------------------------------------


@sync
async def test_drawing_renders_expected_half_blocks():
    img = np.zeros((28, 28), np.uint8)
    img[0, 0] = 255  # top of cell (0,0): ink over paper
    img[1, 1] = 255  # bottom of cell (0,1): paper over ink
    img[2, 2] = 255
    img[3, 2] = 255  # both halves of cell (1,2)
    widget = Drawing(img)
    app = Host(widget)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        assert widget.size == (28, 14) and widget.current_zoom() == 1.0
        ink = tuple(widget.get_component_rich_style("drawing--ink").color.get_truecolor())
        paper = tuple(widget.get_component_rich_style("drawing--paper").color.get_truecolor())
        assert ink != paper
        row0 = cells(widget.render_line(0))
        assert [c[0] for c in row0] == [HALF] * 28
        assert row0[0][1:] == (ink, paper)
        assert row0[1][1:] == (paper, ink)
        assert row0[2][1:] == (paper, paper)
        row1 = cells(widget.render_line(1))
        assert row1[2][1:] == (ink, ink) and row1[0][1:] == (paper, paper)
        assert len(widget.render_line(13)) > 0 and widget.render_line(13).cell_length == 28


@sync
async def test_drawing_scales_up_when_there_is_room():
    img = np.zeros((28, 28), np.uint8)
    img[0, 0] = 255
    widget = Drawing(img)
    widget.styles.width = 60
    widget.styles.height = 30
    app = Host(widget)
    async with app.run_test(size=(80, 40)) as pilot:
        await pilot.pause()
        assert widget.current_zoom() == 2.0
        # 56x28 cells centred in 60x30: one blank row on top, two blank columns on the left.
        row = cells(widget.render_line(1))
        assert [c[0] for c in row[2:58]] == [HALF] * 56
        ink = tuple(widget.get_component_rich_style("drawing--ink").color.get_truecolor())
        assert row[2][1:] == (ink, ink) and row[3][1:] == (ink, ink) and row[4][1] != ink


def _items(n: int) -> list[GridItem]:
    rng = np.random.default_rng(0)
    return [GridItem((rng.random((28, 28)) > 0.9).astype(np.uint8) * 255, truth=f"c{i}", provenance=f"f.npy#{i}")
            for i in range(n)]


@sync
async def test_drawing_grid_navigation_and_selection():
    grid = DrawingGrid(_items(7))
    app = Host(grid)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert grid.effective_zoom() == 1.0 and grid.columns == 2
        assert HALF in grid.render_line(0).text
        await pilot.press("right", "down")
        assert grid.cursor == 3
        await pilot.press("down", "down", "down")
        assert grid.cursor == 6  # clamped to the last drawing
        await pilot.press("home", "enter")
        await pilot.pause()
        assert [m.index for m in app.got] == [0] and app.got[0].item.truth == "c0"
        await pilot.press("z")
        assert grid.effective_zoom() == 2.0 and grid.columns == 1
        await pilot.press("z")
        assert grid.effective_zoom() == 0.5 and grid.columns >= 4


@sync
async def test_confusion_cursor_and_cell_selected():
    labels = ["airplane", "apple", "bear", "bee", "bicycle"]
    counts = np.arange(25).reshape(5, 5) + np.eye(5, dtype=int) * 50
    matrix = ConfusionMatrix(counts, labels)
    app = Host(matrix)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert matrix.cursor == (0, 0)
        await pilot.press("down", "down", "right", "right", "right", "up")
        assert matrix.cursor == (1, 3)
        await pilot.press("enter")
        await pilot.pause()
        (m,) = app.got
        assert (m.truth, m.pred, m.count) == (1, 3, int(counts[1, 3]))
        assert (m.truth_name, m.pred_name) == ("apple", "bee")
        assert "apple → bee: 8" in matrix.status_text()
        assert matrix.status_text(80).endswith("counts")
        header = matrix.render_line(0).text
        assert "air" in header and "bic" in header
        assert "56" in matrix.render_line(2).text  # apple's diagonal: 6 + 50
        await pilot.press("n")
        assert matrix.rates and matrix.status_text().endswith("rates")
        assert "66" in matrix.render_line(2).text  # 56 of 85 apples, row-normalised


@sync
async def test_confusion_errors_rank_on_one_ramp_with_a_legend():
    labels = ["circle", "hexagon", "octagon"]
    counts = np.array([[95, 2, 3], [1, 80, 19], [4, 76, 20]])  # octagon -> hexagon is the biggest error
    matrix = ConfusionMatrix(counts, labels)
    app = Host(matrix)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()

        def bg(r: int, c: int) -> tuple:
            segs = [seg for seg in matrix.render_line(1 + r) if seg.text.strip()][1:]  # after the row label
            t = segs[c].style.bgcolor.get_truecolor()
            return (t.red, t.green, t.blue)

        def lum(rgb: tuple) -> float:
            return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]

        errors = sorted((int(counts[r, c]), lum(bg(r, c))) for r in range(3) for c in range(3) if r != c)
        assert [e for e, _ in errors] == [1, 2, 3, 4, 19, 76]
        assert all(a[1] < b[1] for a, b in zip(errors, errors[1:]))  # brighter as errors grow (dark theme)
        legend = matrix.render_line(5).text
        assert legend.startswith("errors") and "76" in legend and "drawings" in legend and "diagonal" in legend
        await pilot.press("n")
        line = matrix.render_line(5).text
        assert "76%" in line and "of row" in line  # rates: 76 of 100 octagons


@sync
async def test_confusion_scrolls_for_30_classes():
    n = 30
    labels = [f"class{i:02d}" for i in range(n)]
    counts = np.full((n, n), 3) + np.eye(n, dtype=int) * 900
    matrix = ConfusionMatrix(counts, labels)
    app = Host(matrix)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        matrix.action_move(0, n - 2)  # as n-2 presses of right, without a frame each
        await pilot.press("right", "pagedown", "pagedown")
        assert matrix.cursor == (n - 1, n - 1)
        assert matrix.status_text(80).endswith(f"rows 10-30 cols 13-30 of {n} · counts")  # 21 rows + legend
        # The cursor row and column are on screen: the last row label is drawn.
        lines = [matrix.render_line(y).text for y in range(matrix.size.height)]
        assert any(line.startswith("class29") for line in lines)


@sync
async def test_curves_append_is_cheap():
    curves = Curves("loss")
    app = Host(curves)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = curves.builds
        for i in range(500):
            curves.append("train/loss", i, 1.0 / (i + 1))
        curves.append("val/loss", 0, float("nan"))  # NaN is skipped
        await pilot.pause()
        assert len(curves.series["train/loss"].xs) == 500
        assert "val/loss" not in curves.series
        assert 1 <= curves.builds - before <= 3  # one rebuild per frame, not per point


def test_integer_ticks_for_epochs_and_steps():
    from qdtui.widgets.curves import int_ticks

    assert int_ticks(1, 10) == [2, 4, 6, 8, 10]
    assert int_ticks(1, 3) == [1, 2, 3]
    assert int_ticks(50, 325) == [100, 200, 300]
    assert all(isinstance(t, int) for t in int_ticks(0, 12345))
    assert len(int_ticks(0, 12345)) <= 6


@sync
async def test_sample_grid_shows_whole_drawings_and_says_when_some_do_not_fit():
    from qdtui.widgets.sample_grid import SampleGrid

    grid = SampleGrid()
    app = Host(grid)
    samples = np.full((2, 8, 28, 28), 200, np.uint8)
    async with app.run_test(size=(124, 40)) as pilot:  # the GAN screen's sample area at 160 columns
        grid.show(samples, ["apple", "banana"])
        await pilot.pause()
        assert grid.shown_columns() == 8 and grid.render_line(0).text.strip() == "apple"
        assert grid.shown_columns(100) == 6 and grid.shown_columns(8 * 15 - 1) == 8
    async with Host(grid2 := SampleGrid()).run_test(size=(80, 24)) as pilot:
        grid2.show(samples, ["apple", "banana"])
        await pilot.pause()
        assert grid2.render_line(0).text.startswith("apple  (5 of 8 shown")
        assert grid2.render_line(1).cell_length == 80 and grid2.render_line(1).text.rstrip() != ""
