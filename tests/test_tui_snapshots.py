"""SVG snapshots of qdtui screens at 80x24 and 120x40 (update with `pytest --snapshot-update`).

Deterministic: an empty store at a fixed relative path, the demo data at its fixed seed, no clocks.
"""

from __future__ import annotations

import pytest
from tui_helpers import pressing

from qdtui.app import QdApp
from qdtui.state import AppState

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


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home_with_runs(snap_compare, snap_home, monkeypatch, size):
    """Long names are cut and the started column stays whole at 80 columns (runs started at fixed UTC times)."""
    import sqlite3
    import time

    from qdcore.store import Store

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    names = ("widthk shared24 n=1000 k=32 e=12 lr=0.003 preset strong", "fc", "lightgbm 12 cats n=500 rounds=100",
             "a study of data size with a long name")
    with Store(snap_home) as store:
        for i, name in enumerate(names):
            rid = store.create_run(name, "study" if "study" in name else "classifier", {"model": "widthk"})
            store.finish_run(rid, "done", {"test_top1": 0.5 + 0.1 * i})
    with sqlite3.connect(snap_home / "qd.sqlite") as db:
        db.execute("UPDATE runs SET started = 1796630400 + 3600 * id")  # 2026-12-07 08:00 UTC + id hours
    try:
        app = QdApp(AppState(data_spec="demo", home=snap_home, seed=0))
        assert snap_compare(app, terminal_size=size, run_before=pressing())
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
