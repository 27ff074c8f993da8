"""A 2-D scatter of points coloured by group (PCA coordinates of clustered drawings) on a plotext plot."""

from __future__ import annotations

import numpy as np

from qdtui.widgets.plot import TitledPlot

# plotext colour names that read on dark and light backgrounds; noise is gray
GROUP_COLORS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "white")
NOISE_COLOR = "gray"
RICH_COLORS = {"cyan": "cyan", "orange": "dark_orange", "green": "green", "magenta": "magenta", "blue": "blue",
               "red": "red", "yellow": "yellow", "white": "bright_white", "gray": "grey50"}
MAX_POINTS = 4000  # per plot; more points only blacken the terminal cells


def group_color(group: int) -> str:
    """The plotext colour of a group id (-1: noise)."""
    return NOISE_COLOR if group < 0 else GROUP_COLORS[group % len(GROUP_COLORS)]


class Scatter(TitledPlot):
    """Points (x, y) with an integer group each; the highlighted group is drawn last and bold."""

    DEFAULT_CSS = """
    Scatter { height: 1fr; min-height: 6; }
    """

    def __init__(self, title: str = "", *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(title, name=name, id=id, classes=classes)
        self._xy = np.zeros((0, 2), np.float32)
        self._groups = np.zeros(0, np.int64)
        self._names: dict[int, str] = {}
        self.highlight: int | None = None

    def set_points(self, xy: np.ndarray, groups: np.ndarray, names: dict[int, str] | None = None) -> None:
        """Show points coloured by group; names label the groups in the legend."""
        xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
        groups = np.asarray(groups, dtype=np.int64).ravel()
        if len(xy) > MAX_POINTS:  # an even stride keeps every group's shape
            keep = np.linspace(0, len(xy) - 1, MAX_POINTS).astype(np.int64)
            xy, groups = xy[keep], groups[keep]
        self._xy, self._groups, self._names = xy, groups, dict(names or {})
        self.refresh()

    def set_highlight(self, group: int | None) -> None:
        """Draw this group on top."""
        self.highlight = group
        self.refresh()

    @property
    def groups(self) -> list[int]:
        """The group ids shown, in drawing order (highlight last)."""
        ids = sorted(set(self._groups.tolist()), key=lambda g: (g == self.highlight, g < 0, g))
        return ids

    def render(self):
        """Rebuild the figure: one plotext series per group, on evenly spaced round ticks.

        The highlighted group is drawn last with a one-cell marker ('x'), so it stands out without
        covering the points around it as block markers did."""
        from qdtui.chart_model import axis_ticks

        plt = self.fresh_figure()
        for g in self.groups:
            m = self._groups == g
            xs, ys = self._xy[m, 0].tolist(), self._xy[m, 1].tolist()
            marker = "x" if g == self.highlight else "dot"
            plt.scatter(xs, ys, color=group_color(g), marker=marker, label=self._names.get(g))
        if len(self._xy):
            (x0, y0), (x1, y1) = self._xy.min(axis=0).tolist(), self._xy.max(axis=0).tolist()
            xt, xl = axis_ticks(x0, x1, max(2, self.size.width // 10))
            yt, yl = axis_ticks(y0, y1, max(2, self.size.height // 3))
            plt.xticks(xt, xl)
            plt.yticks(yt, yl)
        return super().render()
