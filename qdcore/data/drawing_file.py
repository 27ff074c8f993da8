"""Read drawings to classify from one file: Google's numpy bitmaps (.npy) or stroke files (.ndjson, .bin)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qdcore.data.drawings import Drawings
from qdcore.data.local import npy_header
from qdcore.data.strokes import bad_lines_note, index_file, read_drawings_file, read_rows, word_rows
from qdcore.errors import DataError


def read_drawing_file(path: Path, notes: list[str] | None = None,
                      strict: bool = False, words: list[str] | None = None) -> tuple[Any, list[str], str]:
    """(drawings, provenance per drawing, the file's stem as a category hint) of a .npy or stroke file: uint8
    bitmaps (N, 28, 28) of a .npy file, a `qdcore.data.drawings.Drawings` (bitmaps, strokes read when a model asks)
    of a stroke file.

    A stroke file's malformed lines are skipped and described by one note appended to `notes` (strict: refused).
    `words`, when given, gets each drawing's category: an ndjson line's "word", else the file's stem.
    """
    suffix = path.suffix.lower()
    if not path.exists():
        raise DataError(f"{str(path)!r} does not exist; give a .npy bitmap file or an .ndjson/.bin stroke file")
    if suffix == ".npy":
        layout = "give Google's numpy_bitmap layout (uint8, N x 784)"
        shape, fortran, dtype, offset, size = npy_header(path, layout)
        if dtype.kind not in "uif" or dtype.hasobject or dtype.fields:
            raise DataError(f"{path} holds {dtype} values, not pixel numbers; {layout}")
        count = 1
        for n in shape:
            count *= n
        if offset + count * dtype.itemsize != size:
            raise DataError(f"{path} is {size:,} bytes but its header says {shape} {dtype}; "
                            f"the file is truncated or corrupt")
        if count == 0:
            raise DataError(f"{path} holds no drawings (shape {shape}); {layout}")
        arr: np.ndarray = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
        if arr.ndim == 1 and arr.size == 784:
            arr = arr.reshape(1, 784)
        if arr.ndim == 2 and arr.shape[1] == 784:
            arr = arr.reshape(-1, 28, 28)
        if arr.ndim != 3 or arr.shape[1:] != (28, 28):
            raise DataError(f"{path} has shape {arr.shape}; expected (N, 784) or (N, 28, 28) like Google's "
                            "numpy_bitmap files")
        if arr.dtype != np.uint8:
            a = np.asarray(arr, dtype=np.float64)
            if not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
                raise DataError(f"{path} holds values outside 0..255; expected uint8 bitmaps")
            arr = np.rint(a * 255 if a.max() <= 1.0 else a).astype(np.uint8)
        images = np.ascontiguousarray(arr)
        if words is not None:
            words.extend([path.stem] * len(images))
        return images, [f"{path.name}#{i}" for i in range(len(images))], path.stem
    if suffix in (".ndjson", ".bin"):
        bad: list[tuple[int, str]] = []
        images, prov = read_drawings_file(path, bad=bad, strict=strict)
        if bad and notes is not None:
            notes.append(bad_lines_note(path, bad, index_file(path).lines))
        rows = np.array([int(p.rpartition("#")[2]) for p in prov], np.int64)  # the readable rows, in file order
        if words is not None:
            of_row = {int(r): w for w, at in word_rows(index_file(path)).items() for r in at}
            words.extend(of_row.get(r, path.stem) for r in rows.tolist())
        return (Drawings(images, lambda: read_rows(index_file(path), rows), str(path)), [Path(p).name for p in prov],
                path.stem)
    raise DataError(f"{path}: unknown drawing file type {suffix or '(none)'}; give .npy, .ndjson or .bin")
