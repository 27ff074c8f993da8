"""Where qd keeps its run store and data cache."""

from __future__ import annotations

import os
import tempfile
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


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_path(path: Path):
    """Context manager yielding a temp path beside `path`, renamed over it on success."""
    from contextlib import contextmanager

    @contextmanager
    def _cm():
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp" + p.suffix, dir=p.parent)
        os.close(fd)
        try:
            yield Path(tmp)
            os.replace(tmp, p)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    return _cm()
