"""Where drawings are known to be: the demo set, the download cache and local folders (data discovery).

Local folders are those named in $QD_DATA_DIRS (separated like PATH) and the project's ../shared/quickdraw
(numpy_bitmap, simplified, raw) when present, so `qd data list` and the app's data browser show the
folders named category sets refer to, not only the demo and the cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from qdcore.data.opener import open_source
from qdcore.errors import QDError
from qdcore.paths import data_cache, shared_quickdraw

SHARED_FORMATS = ("numpy_bitmap", "simplified", "raw")  # ../shared/quickdraw's folders, in that order


@dataclass(frozen=True)
class Place:
    """A data source qd knows of: what `--data` takes to open it, how it is named, and why it is listed."""

    spec: str  # demo | cache | a folder's path
    kind: str  # demo | cache | local
    why: str  # 'built-in, synthetic', the cache's folder, '$QD_DATA_DIRS' or '../shared/quickdraw' (the project's)

    @property
    def label(self) -> str:
        """'demo (synthetic)', 'download cache', or the folder's path (relative to here where that is shorter)."""
        return {"demo": "demo (synthetic)", "cache": "download cache"}.get(self.kind) or short_path(self.spec)


def short_path(path: str) -> str:
    """The path relative to the working directory where that is shorter (both open the same folder)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path
    return rel if len(rel) < len(path) else path


@dataclass(frozen=True)
class PlaceSummary:
    """What a place holds (or why it cannot be read)."""

    place: Place
    categories: int = 0
    drawings: int = 0
    description: str = ""
    error: str | None = None
    approximate: bool = False  # stroke files counted by their lines, not parsed (malformed lines included)


def data_dirs() -> list[tuple[Path, str]]:
    """Local folders to offer, with why each is known: $QD_DATA_DIRS entries, then ../shared/quickdraw's."""
    out: list[tuple[Path, str]] = []
    for entry in os.environ.get("QD_DATA_DIRS", "").split(os.pathsep):
        if entry.strip():
            out.append((Path(entry.strip()).expanduser(), "$QD_DATA_DIRS"))
    shared = shared_quickdraw()
    if shared is not None:
        out += [(shared / f, "../shared/quickdraw") for f in SHARED_FORMATS if (shared / f).is_dir()]
    return out


def known_places(cache: str | Path | None = None) -> list[Place]:
    """The demo set, the download cache, then every local folder that exists (each once)."""
    places = [Place("demo", "demo", "built-in, synthetic"), Place("cache", "cache", str(data_cache(cache)))]
    seen = {data_cache(cache).resolve()}
    for path, why in data_dirs():
        key = path.resolve()
        if path.is_dir() and key not in seen:
            seen.add(key)
            places.append(Place(str(path), "local", why))
    return places


def summarise(place: Place, cache: str | Path | None = None) -> PlaceSummary:
    """Open a place and count its categories and drawings; an unreadable one says why instead.

    Stroke files (.ndjson) are counted by their non-empty lines: parsing 345 files to list them took 10 s."""
    try:
        src = open_source(place.spec, cache=cache)
        cats = src.categories()
        files = [src.file_of(c) for c in cats]
        if files and all(f.lower().endswith(".ndjson") for f in files):
            return PlaceSummary(place, len(cats), sum(_lines(Path(f)) for f in files), src.describe(), approximate=True)
        return PlaceSummary(place, len(cats), sum(src.count(c) for c in cats), src.describe())
    except QDError as e:
        return PlaceSummary(place, error=str(e))
    except OSError as e:
        return PlaceSummary(place, error=f"cannot read {place.spec}: {e.strerror or e}")


def _lines(path: Path) -> int:
    """Non-empty lines of a text file, read in binary blocks."""
    n, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            n += block.count(b"\n") - block.count(b"\n\n")
            last = block[-1:]
    return n + (last != b"\n")
