"""A confusion-matrix heatmap: counts or row rates, a cell cursor, fixed headers, scrolling past the edges."""

from __future__ import annotations

import numpy as np
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from qdcore.fmt import percent
from qdtui.messages import CellHighlighted, CellSelected
from qdtui.widgets.drawing_grid import fit_text

MAX_LABEL = 12


FILLER_WORDS = {"the", "of", "a", "an"}


def short_name(name: str, width: int) -> str:
    """'airplane' -> 'air', 'alarm clock' -> 'alc', 'The Great Wall of China' -> 'GWC'."""
    words = [w for w in name.split() if w.lower() not in FILLER_WORDS] or name.split() or ["?"]
    if len(words) == 1:
        return words[0][:width]
    initials = "".join(w[0] for w in words[1:])
    head = words[0][: max(1, width - len(initials))]
    return (head + initials)[:width]


def abbreviate(labels: list[str], width: int) -> list[str]:
    """Distinct labels of at most `width` characters (clashes get a digit)."""
    width = max(1, width)
    out: list[str] = []
    seen: dict[str, int] = {}
    for name in labels:
        short = short_name(name, width)
        n = seen.get(short, 0)
        seen[short] = n + 1
        if n:
            tag = str(n + 1)
            short = short[: max(0, width - len(tag))] + tag
        out.append(short)
    return out


def row_rates(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows without drawings stay 0)."""
    sums = counts.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(counts, sums, out=np.zeros(counts.shape, np.float64), where=sums > 0)


def _blend(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _rgb(style: Style, attr: str, fallback: tuple[int, int, int]) -> tuple[int, int, int]:
    c = getattr(style, attr)
    if c is None:
        return fallback
    t = c.get_truecolor()
    return (t.red, t.green, t.blue)


# One sequential ramp for errors, in rising luminance on a dark background (dark red -> red -> orange ->
# yellow) and falling on a light one (yellow -> orange -> red -> dark red): the biggest error is the most
# salient cell whatever its row, so errors rank by colour.
_ERRORS_ON_DARK = ((96, 16, 24), (200, 36, 36), (245, 130, 40), (255, 228, 110))
_ERRORS_ON_LIGHT = tuple(reversed(((130, 0, 30), (220, 50, 32), (250, 150, 60), (255, 232, 150))))
CURSOR_MARK = Style(bold=True, underline=True, italic=True)
ERROR_FLOOR = 0.12  # the smallest error is still visible next to a 0 (which is a dim dot)


def error_rgb(t: float, dark: bool) -> tuple[int, int, int]:
    """The error ramp's colour at t in 0..1 (0: the smallest error, 1: the biggest)."""
    stops = _ERRORS_ON_DARK if dark else _ERRORS_ON_LIGHT
    x = min(1.0, max(0.0, t)) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    return _blend(stops[i], stops[i + 1], x - i)


def error_t(value: float, top: float) -> float:
    """Where an error of `value` sits on the ramp when the biggest error is `top` (linear, floored)."""
    return ERROR_FLOOR + (1 - ERROR_FLOOR) * (value / top) if top > 0 else 0.0


def _on(rgb: tuple[int, int, int]) -> Style:
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    fg = (0, 0, 0) if lum > 140 else (255, 255, 255)
    return Style(color=RichColor.from_rgb(*fg), bgcolor=RichColor.from_rgb(*rgb))


class ConfusionMatrix(Widget, can_focus=True):
    """Rows are true classes, columns predictions; Enter on a cell posts CellSelected."""

    COMPONENT_CLASSES = {
        "confusion--diag",
        "confusion--label",
        "confusion--label-cursor",
        "confusion--cursor",
        "confusion--zero",
        "confusion--status",
    }
    DEFAULT_CSS = """
    ConfusionMatrix { height: 1fr; width: 1fr; background: $surface; }
    ConfusionMatrix > .confusion--diag { color: $success; }
    ConfusionMatrix > .confusion--label { color: $text-muted; }
    ConfusionMatrix > .confusion--label-cursor { color: $text; background: $accent 30%; text-style: bold; }
    ConfusionMatrix > .confusion--cursor { color: $text; background: $accent; text-style: bold; }
    ConfusionMatrix > .confusion--zero { color: $text-disabled; }
    ConfusionMatrix > .confusion--status { color: $text; background: $panel; }
    """
    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("home", "home", "Diagonal start", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("enter", "select", "Drawings"),
        Binding("n", "toggle_rates", "Counts/rates"),
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0))
    rates: reactive[bool] = reactive(False)

    def __init__(self, counts: np.ndarray | None = None, labels: list[str] | None = None, *,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._counts = np.zeros((0, 0), np.int64)
        self._rates = np.zeros((0, 0))
        self._labels: list[str] = []
        self._top = 0  # first visible row
        self._left = 0  # first visible column
        if counts is not None:
            self.set_data(counts, labels or [str(i) for i in range(len(counts))])

    # --- data ---------------------------------------------------------------

    def set_data(self, counts: np.ndarray, labels: list[str]) -> None:
        """Show a (C, C) count matrix (rows true class, columns prediction) with class names."""
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(labels):
            raise ValueError(f"confusion matrix must be (C, C) with C labels, got {counts.shape} and {len(labels)}")
        self._counts = counts.astype(np.int64)
        self._rates = row_rates(self._counts)
        self._labels = list(labels)
        self._top = self._left = 0
        self.set_reactive(ConfusionMatrix.cursor, (0, 0))
        self.refresh()

    @property
    def labels(self) -> list[str]:
        """Class names, in row/column order."""
        return self._labels

    @property
    def counts(self) -> np.ndarray:
        """The (C, C) int64 count matrix."""
        return self._counts

    @property
    def n(self) -> int:
        """Number of classes."""
        return len(self._labels)

    # --- geometry -----------------------------------------------------------

    @property
    def gutter(self) -> int:
        """Width of the row-label column (including one space)."""
        longest = max((len(s) for s in self._labels), default=1)
        return min(MAX_LABEL, max(5, longest)) + 1

    @property
    def cell_width(self) -> int:
        """Cells hold a right-aligned number and a space."""
        if self.rates:
            return 4  # "100 "
        biggest = int(self._counts.max()) if self._counts.size else 0
        return max(3, len(str(biggest))) + 1

    def _visible(self) -> tuple[int, int]:
        """(rows, columns) of cells that fit."""
        rows = max(1, self.size.height - 3)  # header, status and legend lines
        cols = max(1, (self.size.width - self.gutter) // self.cell_width)
        return rows, cols

    def _follow_cursor(self) -> None:
        rows, cols = self._visible()
        r, c = self.cursor
        if r < self._top:
            self._top = r
        elif r >= self._top + rows:
            self._top = r - rows + 1
        if c < self._left:
            self._left = c
        elif c >= self._left + cols:
            self._left = c - cols + 1
        self._top = max(0, min(self._top, max(0, self.n - rows)))
        self._left = max(0, min(self._left, max(0, self.n - cols)))

    def on_resize(self, event: events.Resize) -> None:
        self._follow_cursor()

    def watch_cursor(self, old: tuple[int, int], new: tuple[int, int]) -> None:
        self._follow_cursor()
        self.refresh()
        if self.n:
            r, c = new
            self.post_message(CellHighlighted(self, r, c, self._labels[r], self._labels[c], int(self._counts[r, c])))

    def watch_rates(self) -> None:
        self._follow_cursor()
        self.refresh()

    # --- actions ------------------------------------------------------------

    def action_move(self, dr: int, dc: int) -> None:
        """Move the cell cursor."""
        if not self.n:
            return
        r, c = self.cursor
        self.cursor = (max(0, min(self.n - 1, r + dr)), max(0, min(self.n - 1, c + dc)))

    def action_page(self, direction: int) -> None:
        """Move the cursor a screenful of rows."""
        self.action_move(direction * self._visible()[0], 0)

    def action_home(self) -> None:
        """Back to the top-left cell."""
        if self.n:
            self.cursor = (0, 0)

    def action_select(self) -> None:
        """Post CellSelected for the cell under the cursor."""
        if not self.n:
            return
        r, c = self.cursor
        self.post_message(CellSelected(self, r, c, self._labels[r], self._labels[c], int(self._counts[r, c])))

    def action_toggle_rates(self) -> None:
        """Switch between counts and row-normalised rates."""
        self.rates = not self.rates

    def on_click(self, event: events.Click) -> None:
        if not self.n:
            return
        rows, cols = self._visible()
        y, x = event.y - 1, event.x - self.gutter
        if 0 <= y < rows and x >= 0 and x // self.cell_width < cols:
            cell = (self._top + y, self._left + x // self.cell_width)
            if cell[0] < self.n and cell[1] < self.n:
                if cell == self.cursor:
                    self.action_select()
                else:
                    self.cursor = cell

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self.action_move(1, 0)
        event.stop()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self.action_move(-1, 0)
        event.stop()

    # --- rendering ----------------------------------------------------------

    def status_text(self, width: int = 200) -> str:
        """'cat → dog: 12 (8.0% of row)' for the cursor cell; the view and mode on the right when they fit."""
        if not self.n:
            return "no predictions"
        r, c = self.cursor
        count = int(self._counts[r, c])
        rate = self._rates[r, c]
        rows, cols = self._visible()
        left = f"{self._labels[r]} → {self._labels[c]}: {count} ({percent(rate)} of row)"
        right = "rates" if self.rates else "counts"
        if self.n > rows or self.n > cols:
            right = (f"rows {self._top + 1}-{min(self.n, self._top + rows)} "
                     f"cols {self._left + 1}-{min(self.n, self._left + cols)} of {self.n} · {right}")
        if len(left) + 2 + len(right) <= width:
            return left + " " * (width - len(left) - len(right)) + right
        return left

    def _error_values(self) -> np.ndarray:
        """What the error ramp ranks: off-diagonal counts (or row rates in rates mode), diagonal zeroed."""
        v = (self._rates if self.rates else self._counts).astype(np.float64).copy()
        np.fill_diagonal(v, 0.0)
        return v

    def legend_text(self) -> list[tuple[str, tuple[int, int, int] | None]]:
        """The legend line as (text, background) pieces: the error ramp at five values, the diagonal's meaning."""
        v = self._error_values()
        top = float(v.max()) if v.size else 0.0
        dark = self._dark()
        pieces: list[tuple[str, tuple[int, int, int] | None]] = [("errors ", None)]
        if top <= 0:
            pieces.append(("none", None))
        else:
            for f in (0.0, 0.25, 0.5, 0.75, 1.0):
                value = top * f if f else (v[v > 0].min() if (v > 0).any() else 0)
                text = f"{int(round(value * 100))}%" if self.rates else f"{int(round(value)):,}"
                pieces.append((f" {text} ", error_rgb(error_t(value, top), dark)))
            pieces.append((" of row" if self.rates else " drawings", None))
        pieces.append(("  correct ", None))
        pieces.append((" diagonal ", _blend(self._bg(), self._diag(), 0.8)))
        return pieces

    def _bg(self) -> tuple[int, int, int]:
        return _rgb(self.rich_style, "bgcolor", (0, 0, 0))

    def _dark(self) -> bool:
        bg = self._bg()
        return 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2] < 128

    def _diag(self) -> tuple[int, int, int]:
        return _rgb(self.get_component_rich_style("confusion--diag"), "color", (0, 160, 0))

    def _cell_text(self, r: int, c: int, cw: int) -> str:
        if self.rates:
            v = self._rates[r, c]
            s = "·" if self._counts[r, c] == 0 else str(int(round(v * 100)))
        else:
            v = int(self._counts[r, c])
            s = "·" if v == 0 else str(v)
        return s.rjust(cw - 1) + " "

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if not self.n:
            return Strip([Segment(fit_text("no predictions" if y == 0 else "", width), base)])
        rows, cols = self._visible()
        gw, cw = self.gutter, self.cell_width
        label = self.get_component_rich_style("confusion--label")
        label_cur = self.get_component_rich_style("confusion--label-cursor")
        cr, cc = self.cursor
        last_col = min(self.n, self._left + cols)
        segs: list[Segment] = []
        if y == 0:
            corner = "true\\pred"[: gw - 1].ljust(gw)
            segs.append(Segment(corner, label))
            shorts = abbreviate(self._labels, cw - 1)
            for c in range(self._left, last_col):
                segs.append(Segment(shorts[c].rjust(cw - 1) + " ", label_cur if c == cc else label))
        elif y == 1 + min(self.n - self._top, rows):
            segs.append(Segment(fit_text(self.status_text(width), width),
                                self.get_component_rich_style("confusion--status")))
        elif y == 2 + min(self.n - self._top, rows):
            segs += [Segment(text, label if rgb is None else _on(rgb)) for text, rgb in self.legend_text()]
        else:
            r = self._top + y - 1
            if r >= self.n or y - 1 >= rows:
                return Strip.blank(width, base)
            name = fit_text(self._labels[r], gw - 1) + " "
            segs.append(Segment(name, label_cur if r == cr else label))
            bg, diag, dark = self._bg(), self._diag(), self._dark()
            errors = self._error_values()
            top = float(errors.max()) if errors.size else 0.0
            zero = self.get_component_rich_style("confusion--zero")
            cursor = self.get_component_rich_style("confusion--cursor")
            for c in range(self._left, last_col):
                text = self._cell_text(r, c, cw)
                if self._counts[r, c] == 0:
                    style = cursor if (r, c) == (cr, cc) else zero
                elif r == c:  # the diagonal: green by the row's share correct
                    style = _on(_blend(bg, diag, 0.15 + 0.85 * float(self._rates[r, c])))
                else:  # errors: one ramp over all cells, the biggest error at its top
                    style = _on(error_rgb(error_t(float(errors[r, c]), top), dark))
                if (r, c) == (cr, cc) and self._counts[r, c]:
                    style += CURSOR_MARK  # the cell keeps its colour, which is data
                segs.append(Segment(text, style))
        return Strip(segs).crop_extend(0, width, base)
