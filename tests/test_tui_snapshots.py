"""SVG snapshots of qdtui screens at 80x24 and 120x40 (update with `pytest --snapshot-update`).

Deterministic: an empty store at a fixed relative path, the demo data at its fixed seed, no clocks.
"""

from __future__ import annotations

import pytest

from qdtui.app import QdApp
from qdtui.state import AppState

from tui_helpers import pressing

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def app(snap_home) -> QdApp:
    return QdApp(AppState(data_spec="demo", home=snap_home, seed=0))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=pressing())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=pressing("question_mark"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_data_browser(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=pressing("d"))


def test_too_small(snap_compare, app):
    assert snap_compare(app, terminal_size=(60, 16), run_before=pressing())
