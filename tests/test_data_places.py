"""Data discovery: local folders ($QD_DATA_DIRS, ../shared/quickdraw) in `qd data list` and the browser's source picker."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tui_helpers import settle, sync, wait_for
from typer.testing import CliRunner

from qdcore.cli.main import app as cli
from qdcore.data.places import known_places, summarise
from qdtui.app import QdApp
from qdtui.screens.data_browser import DataBrowserScreen
from qdtui.screens.source_picker import SourcePicker
from qdtui.state import AppState
from qdtui.widgets.drawing_grid import DrawingGrid


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    bitmaps = tmp_path / "my bitmaps"
    bitmaps.mkdir()
    np.save(bitmaps / "apple.npy", np.full((7, 784), 200, np.uint8))
    np.save(bitmaps / "full_numpy_bitmap_bee.npy", np.full((4, 784), 100, np.uint8))
    strokes = tmp_path / "strokes"
    strokes.mkdir()
    line = json.dumps({"word": "cat", "countrycode": "GB", "recognized": True, "key_id": "1",
                       "drawing": [[[0, 100, 200], [0, 150, 30]]]})
    (strokes / "cat.ndjson").write_text("\n".join([line] * 3) + "\n")
    return bitmaps, strokes


def test_known_places_list_the_configured_folders_once(tmp_path, monkeypatch):
    bitmaps, strokes = _folders(tmp_path)
    gone = tmp_path / "gone"
    monkeypatch.setenv("QD_DATA_DIRS", f"{bitmaps}:{gone}:{strokes}:{bitmaps}")
    places = known_places(tmp_path / "cache")
    assert [p.kind for p in places[:2]] == ["demo", "cache"]
    local = [p.spec for p in places if p.why == "$QD_DATA_DIRS"]
    assert local == [str(bitmaps), str(strokes)]  # a missing folder is left out, a repeated one listed once
    got = {s.place.spec: s for s in (summarise(p) for p in places if p.kind == "local")}
    assert (got[str(bitmaps)].categories, got[str(bitmaps)].drawings) == (2, 11)
    assert (got[str(strokes)].categories, got[str(strokes)].drawings, got[str(strokes)].approximate) == (1, 3, True)


def test_qd_data_list_shows_local_folders(tmp_path, monkeypatch, home):
    bitmaps, _ = _folders(tmp_path)
    monkeypatch.setenv("QD_DATA_DIRS", str(bitmaps))
    monkeypatch.setenv("QD_DATA", str(tmp_path / "cache"))
    r = CliRunner().invoke(cli, ["data", "list", "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    local = json.loads(r.stdout)["local"]
    assert {"path": str(bitmaps), "categories": 2, "drawings": 11} .items() <= next(
        x for x in local if x["path"] == str(bitmaps)).items()
    r = CliRunner().invoke(cli, ["data", "list"], catch_exceptions=False, env={"COLUMNS": "200"})
    assert "local folders" in r.stdout and "my bitmaps" in r.stdout and "$QD_DATA_DIRS" in r.stdout


@sync
async def test_the_browser_switches_to_a_local_folder(tmp_path, monkeypatch, home):
    bitmaps, _ = _folders(tmp_path)
    monkeypatch.setenv("QD_DATA_DIRS", str(bitmaps))
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DataBrowserScreen)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SourcePicker) and app.screen.specs, 60, "the places")
        picker = app.screen
        await pilot.press(*["down"] * picker.specs.index(str(bitmaps)), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DataBrowserScreen) and app.screen.catalog is not None
                       and app.state.data_spec == str(bitmaps), 60, "the folder's catalog")
        assert [c.name for c in app.screen.catalog.categories] == ["apple", "bee"]
        await settle(app, pilot)
        assert all(it.truth == "apple" for it in app.screen.query_one(DrawingGrid).items)
