"""SVG snapshots of qdtui screens at 80x24 and 120x40 (update with `pytest --snapshot-update`).

Deterministic: an empty store at a fixed relative path, the demo data at its fixed seed, no clocks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qdtui.app import QdApp
from qdtui.state import AppState

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def app(tmp_path, monkeypatch) -> QdApp:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    return QdApp(AppState(data_spec="demo", home=Path("qd-home"), seed=0))


async def _settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def _after(*keys: str):
    async def run_before(pilot) -> None:
        await _settle(pilot)
        for key in keys:
            await pilot.press(key)
            await _settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_help(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after("question_mark"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_data_browser(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after("d"))


def test_too_small(snap_compare, app):
    assert snap_compare(app, terminal_size=(60, 16), run_before=_after())
