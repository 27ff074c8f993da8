"""Fixtures shared by the test files: a temporary run store, and a fixed relative one for SVG snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty run store in a temporary directory (QD_HOME points at it)."""
    monkeypatch.setenv("QD_HOME", str(tmp_path / "qd-home"))
    return tmp_path / "qd-home"


@pytest.fixture
def snap_home(tmp_path, monkeypatch) -> Path:
    """`qd-home` relative to a temporary working directory, so snapshots show no temporary paths."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    return Path("qd-home")
