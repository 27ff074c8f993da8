"""Where qd keeps its run store and data cache."""

from __future__ import annotations

import errno
import os
import shutil
import stat as st_
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qdcore.errors import ConfigError, DataError, StoreError


def qd_home(override: str | os.PathLike | None = None) -> Path:
    """The run store directory: --home, $QD_HOME, or the user data dir."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("QD_HOME"):
        return Path(os.environ["QD_HOME"]).expanduser()
    from platformdirs import user_data_dir  # lazy: keeps platformdirs out of qd --help

    return Path(user_data_dir("qd", appauthor=False))


def data_cache(override: str | os.PathLike | None = None) -> Path:
    """The download cache: --cache, $QD_DATA, or the user cache dir."""
    if override:
        return Path(override).expanduser()
    if os.environ.get("QD_DATA"):
        return Path(os.environ["QD_DATA"]).expanduser()
    from platformdirs import user_cache_dir  # lazy: keeps platformdirs out of qd --help

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


_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def umask() -> int:
    """The process's umask, read without changing it where /proc allows (os.umask is not thread-safe)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def disk_full(path: Path, needed: int | None = None) -> StoreError:
    """The one-line error for a write that ran out of space: which file, how much it needs, how much is free."""
    try:
        free = f"{shutil.disk_usage(Path(path).parent).free:,} bytes free"
    except OSError:
        free = "free space unknown"
    need = f"{needed:,} bytes needed, " if needed else ""
    return StoreError(f"no space left on the device to write {path} ({need}{free}): free some space "
                      "or use another --home; nothing was half-written")


@contextmanager
def _replaced(path: Path, suffix: str, needed: int | None = None) -> Iterator[Path]:
    """A temp file `.NAME.*SUFFIX` beside `path`, renamed over `path` when the block succeeds, removed if not.

    The file gets the mode a plain open() would (0666 less the umask), not mkstemp's 0600, so
    teammates sharing a store can read it; a full disk becomes one StoreError naming the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as e:
        if e.errno in _FULL:
            raise disk_full(path, needed) from None
        raise
    try:
        os.fchmod(fd, 0o666 & ~umask())
    finally:
        os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.errno in _FULL:
            raise disk_full(path, needed) from None
        raise


def regular_file(path: Path, what: str = "a file", limit: int | None = None) -> os.stat_result:
    """stat() of a path that must be a plain file (not a FIFO, device or folder), at most `limit` bytes.

    Readers call it before opening, so `/dev/zero` or a FIFO in place of a file is refused at once
    instead of hanging or reading forever.
    """
    try:
        st = os.stat(path)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check that it exists") from None
    if not st_.S_ISREG(st.st_mode):
        kind = "a folder" if st_.S_ISDIR(st.st_mode) else "a FIFO" if st_.S_ISFIFO(st.st_mode) else \
            "a device" if (st_.S_ISCHR(st.st_mode) or st_.S_ISBLK(st.st_mode)) else "not a regular file"
        raise DataError(f"{path} is {kind}, not {what}; point at a regular file")
    if limit is not None and st.st_size > limit:
        raise DataError(f"{path} is {st.st_size:,} bytes, more than {limit:,} for {what}; it is not what qd wrote")
    return st


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so readers see the old or the new content, never half of it."""
    with _replaced(path, ".tmp", len(data)) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def atomic_path(path: Path):
    """Context manager yielding a temp path beside `path`, renamed over it on success."""
    return _replaced(path, ".tmp" + Path(path).suffix)


def out_folder(out: Path, purpose: str) -> Path:
    """The --out folder, created; one ConfigError naming it when it is (or is under) a file, cannot be created, or
    cannot be written into. `purpose` ends the first message: 'give a folder {purpose}'."""
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            what = "is a file, not a folder" if parent == out else f"is under {str(parent)!r}, which is a file"
            raise ConfigError(f"--out {str(out)!r} {what}; give a folder {purpose}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create --out folder {str(out)!r} ({e.strerror or e}); choose another folder") \
            from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot write into --out folder {str(out)!r} (permission denied); choose another folder")
    return out
