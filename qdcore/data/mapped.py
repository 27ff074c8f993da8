"""Drawings left in their files: (memory map, row) per drawing, read only when rows are asked for.

A selection of all 50 million drawings is 37 GiB of uint8; `MappedImages` keeps only one memory map per
category and two index arrays (12 bytes a drawing), and behaves like a uint8 (N, 28, 28) array where the
streamed engine needs one: a slice or `take` is another lazy view (as a numpy view costs no copy), an index
array gathers those rows (as numpy's fancy indexing copies), `np.asarray` copies all of it (resident mode).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

CHUNK = 16_384  # drawings per read when walking a whole selection (12.8 MB)
READERS = min(4, os.cpu_count() or 1)  # threads reading a whole selection's chunks ahead (see chunks)


class MappedImages:
    """uint8 (N, 28, 28) drawings: drawing i is row rows[i] of maps[src[i]] (each map uint8 (n, 784))."""

    dtype = np.dtype(np.uint8)
    ndim = 3

    def __init__(self, maps: list[np.ndarray], src: np.ndarray, rows: np.ndarray) -> None:
        self.maps = maps
        self.src = np.asarray(src, dtype=np.int32)
        self.rows = np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self), 28, 28)

    @property
    def nbytes(self) -> int:
        return len(self) * 784

    def reshape(self, *shape: Any) -> MappedImages:
        """Itself for (-1, 28, 28), the only shape the engine asks for."""
        want = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], tuple) else tuple(shape)
        if want not in ((-1, 28, 28), self.shape):
            raise ValueError(f"MappedImages holds (N, 28, 28) drawings; cannot reshape to {want}")
        return self

    def take(self, idx: Any, axis: int = 0) -> MappedImages:
        """The drawings at idx, still in their files."""
        if axis != 0:
            raise ValueError("MappedImages.take works along the drawings (axis 0)")
        return MappedImages(self.maps, self.src[idx], self.rows[idx])

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return self.take(key)
        return self.gather(np.asarray(key, dtype=np.int64))

    def gather(self, idx: np.ndarray) -> np.ndarray:
        """uint8 (len(idx), 28, 28) copies of those drawings, read file by file in row order (locality)."""
        src, rows = self.src[idx], self.rows[idx]
        order = np.lexsort((rows, src))
        out = np.empty((len(idx), 784), np.uint8)
        cuts = np.flatnonzero(np.diff(src[order])) + 1
        for part in np.split(order, cuts) if len(order) else []:
            out[part] = self.maps[int(src[part[0]])][rows[part]]
        return out.reshape(-1, 28, 28)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.gather(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype, copy=False)


Images = np.ndarray | MappedImages  # uint8 (N, 28, 28) drawings, in memory or left in their files


def in_memory(images: np.ndarray) -> MappedImages:
    """An array of drawings (a memory map or in RAM) as one map, so it is read through the same gather."""
    n = len(images)
    return MappedImages([images.reshape(n, 784)], np.zeros(n, np.int32), np.arange(n, dtype=np.int64))


def chunks(images: Any, size: int | None = None, readers: int | None = None) -> Iterator[np.ndarray]:
    """The drawings in order as contiguous arrays, a chunk at a time (an array or MappedImages: never all at once).

    Drawings still in their files are read ahead by `readers` threads (default READERS), at most
    one chunk per reader beyond the one handed out: the reads fault pages of the memory maps in and numpy copies
    without the GIL: hashing 1.66 million drawings took 1.2 s instead of 1.8 s on 2 cores."""
    size = size or CHUNK
    starts = range(0, len(images), size)

    def read(start: int) -> np.ndarray:
        return np.ascontiguousarray(images[start:start + size])

    readers = READERS if readers is None else readers
    if not isinstance(images, MappedImages) or readers < 2 or len(starts) < 2:
        yield from map(read, starts)
        return
    with ThreadPoolExecutor(readers, thread_name_prefix="qd-read") as pool:
        ahead: deque = deque()
        try:
            for start in starts:
                ahead.append(pool.submit(read, start))
                if len(ahead) > readers:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
        finally:
            for f in ahead:  # a consumer that stops early: drop the reads not yet started
                f.cancel()
