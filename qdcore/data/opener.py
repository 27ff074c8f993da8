"""Open a data source by name or path: `demo`, `cache` or a folder/file of .npy, .bin or .ndjson drawings.

Kept apart from `sources` (the base classes) so that the concrete sources can import those without a cycle.
"""

from __future__ import annotations

from pathlib import Path

from qdcore.data import local
from qdcore.data.demo import DemoSource
from qdcore.data.local import NpyFolderSource
from qdcore.data.sources import Source
from qdcore.data.strokes import NdjsonSource
from qdcore.errors import DataError
from qdcore.paths import data_cache, regular_file


def open_source(spec: str | Path | None = "demo", *, cache: str | Path | None = None, strict: bool = False) -> Source:
    """Open `demo`, `cache` (the download cache) or a path (folder or single file).

    strict: a stroke file with malformed lines is refused (DataError) instead of read without them."""
    spec = "demo" if spec in (None, "") else spec
    if str(spec) == "demo":
        return DemoSource()
    if str(spec) == "cache":
        root = data_cache(cache)
        return NpyFolderSource(root, allow_empty=True)
    path = Path(spec).expanduser()
    if not path.exists():
        raise DataError(f"data path {str(path)!r} does not exist; use --data demo, --data cache or a folder of .npy/.bin/.ndjson files")
    if not path.is_dir():
        regular_file(path, "a drawing file or a folder of them")  # /dev/zero, a FIFO: refused, not read
    return _open_path(path, strict)


def _open_path(path: Path, strict: bool = False) -> Source:
    try:
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    except OSError as e:
        raise DataError(f"cannot list {path}: {e.strerror or e}; check its permissions") from None
    suffixes = {p.suffix.lower() for p in files}
    if ".npy" in suffixes:
        return local.NpyFolderSource(path)
    if ".ndjson" in suffixes:
        return NdjsonSource(path, strict=strict)
    if ".bin" in suffixes:
        return local.open_bin(path)
    raise DataError(f"no .npy, .bin or .ndjson drawings in {str(path)!r}; point --data at a folder of Quick, Draw! files")
