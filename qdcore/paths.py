"""Where qd keeps its run store and data cache."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def qd_home(override: str | os.PathLike | None = None) -> Path:
    """The run store directory: --home, $QD_HOME, or the user data dir."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("QD_HOME"):
        return Path(os.environ["QD_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("qd", appauthor=False))


def data_cache(override: str | os.PathLike | None = None) -> Path:
    """The download cache: --cache, $QD_DATA, or the user cache dir."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("QD_DATA"):
        return Path(os.environ["QD_DATA"]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qd", appauthor=False)) / "numpy_bitmap"


def shared_quickdraw() -> Path | None:
    """The real Quick, Draw! test subsets beside the checkout, if present."""
    env = os.environ.get("QD_SHARED")
    candidates = [Path(env)] if env else []
    here = Path(__file__).resolve().parent.parent
    candidates += [here.parent / "shared" / "quickdraw", here / "shared" / "quickdraw"]
    for c in candidates:
        if (c / "numpy_bitmap").is_dir():
            return c
    return None


@contextmanager
def _replaced(path: Path, suffix: str) -> Iterator[Path]:
    """A temp file `.NAME.*SUFFIX` beside `path`, renamed over `path` when the block succeeds, removed if not."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    with _replaced(path, ".tmp") as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_path(path: Path):
    """Context manager yielding a temp path beside `path`, renamed over it on success."""
    return _replaced(path, ".tmp" + Path(path).suffix)
