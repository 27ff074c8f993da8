"""App state that outlives screens: which data, which store, which run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdtui.loaders import CatalogCache


def data_label(spec: str) -> str:
    """How a data spec is named on screen: the demo is always marked synthetic."""
    if spec in ("", "demo"):
        return "demo (synthetic)"
    if spec == "cache":
        return "download cache"
    return spec


@dataclass
class AppState:
    """Choices made on the command line or in the app."""

    data_spec: str = "demo"
    home: Path | None = None  # None: $QD_HOME or the user data dir, resolved by qd_home()
    attach_run: int | None = None  # `qdtui attach ID`
    current_run: int | None = None
    quiz: Any = None  # parsed `qdtui quiz ...` arguments, opened on start
    draw: Any = None  # parsed `qdtui draw ...` arguments, opened on start
    seed: int = 0  # sample choice in the data browser
    graphics: str = "halfblock"  # kitty | sixel | halfblock; main() resolves --graphics auto before the app starts
    graphics_note: str = ""  # why the asked-for graphics were replaced (shown once the app is up)
    catalogs: CatalogCache = field(default_factory=CatalogCache, repr=False)

    @property
    def store_home(self) -> Path:
        """The run store directory in use."""
        from qdcore.paths import qd_home

        return qd_home(self.home)

    @property
    def data_label(self) -> str:
        """The data in use, as shown in headers."""
        return data_label(self.data_spec)
