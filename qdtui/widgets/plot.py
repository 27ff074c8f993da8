"""A plotext plot with a title, rebuilt from scratch on each render (the base of Curves and Scatter)."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class TitledPlot(PlotextPlot):
    """A PlotextPlot that keeps a title; `fresh_figure()` starts a render on an empty figure."""

    def __init__(self, title: str = "", *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title = title

    def fresh_figure(self):
        """The plotext module, its data and figure cleared and the title set."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if self.title:
            plt.title(self.title)
        return plt
