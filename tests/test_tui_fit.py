"""80x24 without cut text: shortened paths, even ticks, the selected cluster drawn as x."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult
from tui_helpers import settle, sync

from qdtui.app import QdApp
from qdtui.chart_model import axis_ticks, nice_ticks
from qdtui.state import AppState
from qdtui.textfit import short_path
from qdtui.widgets.scatter import Scatter


def test_short_path_drops_whole_folders():
    assert short_path("/tmp/qd", 30) == "/tmp/qd"
    assert short_path("/very/long/path/to/some/qd/store/home", 20) == "/…/qd/store/home"
    for width in range(4, 30):
        out = short_path("/srv/data/experiments/qd-home", width)
        assert len(out) <= width
        if out.startswith("/…/"):  # whole folder names only
            assert "/srv/data/experiments/qd-home".endswith(out[3:])


def test_ticks_are_evenly_spaced_round_numbers():
    for lo, hi in ((-3.8, 5.6), (0.0, 1.0), (0.013, 0.0171), (3.0, 97.0), (-120.0, -3.0)):
        ticks = nice_ticks(lo, hi, 6)
        steps = np.diff(ticks)
        assert 2 <= len(ticks) <= 6 and np.allclose(steps, steps[0])
        assert lo - 1e-9 <= ticks[0] and ticks[-1] <= hi + 1e-9
    assert axis_ticks(0, 97, 5) == ([0, 20, 40, 60, 80], ["0", "20", "40", "60", "80"])


class ScatterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Scatter("clusters")


@sync
async def test_scatter_labels_even_ticks_and_marks_the_selection_with_x():
    app = ScatterApp()
    async with app.run_test(size=(60, 20)) as pilot:
        scatter = app.query_one(Scatter)
        rng = np.random.default_rng(0)
        xy = rng.normal(size=(200, 2)) * [3.0, 2.0]
        groups = (xy[:, 0] > 0).astype(np.int64)
        scatter.set_points(xy, groups)
        scatter.set_highlight(1)
        await pilot.pause()
        text = "\n".join(line.text for line in app.screen._compositor.render_strips())
        assert "x" in text and "█" not in text  # the selection is drawn with one-cell markers
        yt, yl = axis_ticks(float(xy[:, 1].min()), float(xy[:, 1].max()), max(2, scatter.size.height // 3))
        assert all(label in text for label in yl)


@sync
async def test_train_about_shows_a_long_store_path_without_cutting_names(tmp_path):
    home = tmp_path / "a-rather-long-folder-name" / "experiments-of-the-quarter" / "qd-store-home"
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.action_open("train")
        await settle(app, pilot)
        path_line = str(app.screen.query_one("#about-store").content).splitlines()[1]
        assert path_line.endswith("/qd-store-home") and "…" in path_line
        assert len(path_line) < app.screen.query_one("#train-about").scrollable_content_region.width
