"""Local drawing files: Google's numpy bitmaps (`<category>.npy`) and headerless `.bin` dumps.

Both are memory-mapped: reading N rows touches only the pages of those rows, so taking
a few thousand drawings from a 100 MB file never loads the file whole.
"""

from __future__ import annotations

import os
import tokenize
from pathlib import Path

import numpy as np

from qdcore.data.categories import category_from_stem
from qdcore.data.sources import FileSource, Source, files_by_category
from qdcore.data.strokes import NdjsonSource
from qdcore.errors import DataError
from qdcore.paths import regular_file

ROW = 784  # 28 x 28 uint8 pixels per drawing


def npy_header(path: Path, redo: str = "re-download it or delete it") -> tuple[tuple, bool, np.dtype, int, int]:
    """(shape, fortran, dtype, data offset, file size) of a .npy file, read without trusting it.

    Special files (FIFOs, devices) are refused before opening; any malformed header (bad magic, an
    unbalanced bracket that makes numpy's tokenizer fail, a non-tuple shape) is one DataError.
    """
    fmt = np.lib.format
    size = regular_file(path, "a .npy file").st_size
    try:
        with open(path, "rb") as f:
            try:
                version = fmt.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(f)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = fmt.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unknown format version {version}")
            except (ValueError, SyntaxError, EOFError, TypeError, tokenize.TokenError, RecursionError,
                    MemoryError, OverflowError, UnicodeDecodeError) as e:
                raise DataError(f"{path} is not a valid .npy file ({_first_line(e)}); {redo}") from None
            offset = f.tell()
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check the file's permissions") from None
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise DataError(f"{path} has an invalid shape {shape!r} in its header; {redo}")
    return shape, bool(fortran), dtype, offset, size


def npy_layout(path: Path) -> tuple[int, int]:
    """(header bytes, rows) of a Google numpy bitmap file; DataError if the header or size is wrong."""
    redo = "re-download it or delete it"
    shape, fortran, dtype, offset, size = npy_header(path, redo)
    if dtype != np.uint8 or len(shape) != 2 or shape[1] != ROW:
        raise DataError(f"{path} holds {dtype} {tuple(shape)}, not Google's uint8 (N, 784) bitmaps; "
                        "point --data at Quick, Draw! numpy_bitmap files")
    if fortran:
        raise DataError(f"{path} is Fortran-ordered; save it C-ordered (np.save(path, np.ascontiguousarray(a)))")
    expected = offset + shape[0] * ROW
    if size < expected:
        have = max(0, size - offset) / ROW
        raise DataError(f"{path} is truncated: {size:,} bytes but its header says {shape[0]:,} drawings "
                        f"({expected:,} bytes, only {have:,.1f} present); {redo}")
    if size > expected:
        raise DataError(f"{path} has {size - expected:,} bytes more than its header's {shape[0]:,} drawings; {redo}")
    return offset, int(shape[0])


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def _prefetch(path: Path, offset: int, rows: np.ndarray) -> None:
    """Ask the kernel to start reading the pages of these rows at once (best effort).

    Page faults on a cold memory map read one read-around window at a time; queuing
    every needed range first lets the disk serve them together (about 8x faster here).
    """
    if not hasattr(os, "posix_fadvise") or rows.size == 0:
        return
    starts = offset + rows * ROW
    # Merge rows closer than a page so one call covers a run of neighbours.
    breaks = np.flatnonzero(np.diff(starts) > ROW + 4096) + 1
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        for run in np.split(starts, breaks):
            os.posix_fadvise(fd, int(run[0]), int(run[-1] - run[0]) + ROW, os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_rows(mm: np.ndarray, rows: np.ndarray | None, where: str) -> np.ndarray:
    """Copy the chosen rows out of a memory map, touching only their pages."""
    if rows is None:
        return np.array(mm, dtype=np.uint8)
    rows = np.asarray(rows, dtype=np.int64).ravel()
    if rows.size == 0:
        return np.zeros((0, ROW), np.uint8)
    n = mm.shape[0]
    if rows.min() < 0 or rows.max() >= n:
        raise DataError(f"row {int(rows.max() if rows.max() >= n else rows.min())} is out of range for {where} "
                        f"({n:,} drawings)")
    order = np.argsort(rows, kind="stable")
    srt = rows[order]
    if isinstance(mm, np.memmap) and mm.filename is not None and rows.size < n // 2:
        _prefetch(Path(mm.filename), int(mm.offset), srt)
    # Sorted rows read the map front to back; undo the sort so callers get the order they asked for.
    out = np.empty((rows.size, ROW), np.uint8)
    out[order] = mm[srt]
    return out


def _visible_files(path: Path, suffix: str) -> list[Path]:
    """Files with a suffix, skipping hidden/temporary files and download `.part` files."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.iterdir()
                  if p.is_file() and p.suffix.lower() == suffix and not p.name.startswith("."))


def _by_category(files: list[Path], where: Path) -> dict[str, Path]:
    return files_by_category(files, where, lambda p: category_from_stem(p.stem))


class _MappedFiles(FileSource):
    """One memory-mapped file of uint8 (n, 784) rows per category."""

    _counts: dict[str, int]

    def count(self, category: str) -> int:
        self._file(category)
        return self._counts[category]

    def open_map(self, category: str) -> np.ndarray:
        """The category's file as a read-only memory map, uint8 (n, 784)."""
        raise NotImplementedError

    def read(self, category: str, rows: np.ndarray | None = None) -> np.ndarray:
        # A fresh map per call, dropped on return: the pages the kernel mapped around the
        # sampled rows leave the process's RSS instead of piling up over 345 files.
        return _read_rows(self.open_map(category), rows, str(self._file(category)))

class NpyFolderSource(_MappedFiles):
    """A folder of `<category>.npy` / `full_numpy_bitmap_<category>.npy` files, or one such file."""

    kind = "npy"

    def __init__(self, path: str | os.PathLike, allow_empty: bool = False) -> None:
        path = Path(path).expanduser()
        super().__init__(str(path))
        self.path = path
        if not path.exists():
            if not allow_empty:
                raise DataError(f"{path} does not exist; point --data at a folder of .npy files")
            files: list[Path] = []
        elif not path.is_dir() and path.suffix.lower() != ".npy":
            raise DataError(f"{path} is not a .npy file or a folder of them")
        else:
            try:
                files = _visible_files(path, ".npy")
            except OSError as e:
                raise DataError(f"cannot list {path}: {e.strerror or e}; check its permissions") from None
        if not files and not allow_empty:
            raise DataError(f"no .npy files in {path}; download some with 'qd data download' or use --data demo")
        self._files = _by_category(files, path)
        # Check every header up front: a truncated file fails here, naming itself, not mid-training.
        self._counts = {c: npy_layout(p)[1] for c, p in self._files.items()}

    def open_map(self, category: str) -> np.ndarray:
        p = self._file(category)
        if self._counts[category] == 0:
            return np.zeros((0, ROW), np.uint8)
        try:
            return np.load(p, mmap_mode="r")
        except (OSError, ValueError) as e:
            raise DataError(f"cannot map {p}: {_first_line(e)}; re-download it or delete it") from None


class BinFolderSource(_MappedFiles):
    """Headerless dumps: `<category>.bin` holding N x 784 uint8 rows, one drawing per row."""

    kind = "bin"

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path).expanduser()
        super().__init__(str(path))
        self.path = path
        files = _visible_files(path, ".bin")
        if not files:
            raise DataError(f"no .bin files in {path}; point --data at a folder of raw 784-byte-row dumps")
        self._files = _by_category(files, path)
        self._counts = {}

        for cat, p in self._files.items():
            size = regular_file(p, "a .bin file").st_size
            if size % ROW:
                raise DataError(f"{p} is {size:,} bytes, not a multiple of 784 (one 28x28 uint8 drawing per 784 bytes): "
                                "it is truncated or not a raw bitmap dump; re-create it or delete it")
            self._counts[cat] = size // ROW

    def open_map(self, category: str) -> np.ndarray:
        p, n = self._file(category), self._counts[category]
        # np.memmap refuses empty files.
        return np.memmap(p, dtype=np.uint8, mode="r", shape=(n, ROW)) if n else np.zeros((0, ROW), np.uint8)


def _google_binary(paths: list[Path]) -> list[bool]:
    try:
        from qdcore.data.strokes import looks_like_google_binary
    except ImportError:  # the stroke reader is optional for raw dumps
        return [False] * len(paths)
    return [bool(looks_like_google_binary(p)) for p in paths]


def open_bin(path: str | os.PathLike) -> Source:
    """A `.bin` file or folder: Google's binary stroke format if it looks like it, else raw 784-byte rows."""
    path = Path(path).expanduser()
    files = _visible_files(path, ".bin") if path.exists() else []
    if not files:
        raise DataError(f"no .bin files in {path}; point --data at Quick, Draw! .bin files")
    kinds = _google_binary(files)
    if all(kinds):
        return NdjsonSource(path)
    if any(kinds):
        strokes = [p.name for p, k in zip(files, kinds) if k]
        raise DataError(f"{path} mixes Google binary stroke files ({', '.join(strokes[:3])}) with raw bitmap dumps; "
                        "put them in separate folders")
    return BinFolderSource(path)
