"""Where drawings come from: the demo set, Google's npy files, .bin dumps, ndjson strokes.

A Source lists categories, counts drawings and reads chosen rows as uint8 (n, 784)
bitmaps in Google's layout (white ink on black), without loading whole files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qdcore.errors import DataError
from qdcore.fmt import text_path


class Source(ABC):
    """A collection of drawings grouped by category."""

    kind: str = "?"
    synthetic: bool = False

    def __init__(self, location: str) -> None:
        self.location = location

    @abstractmethod
    def categories(self) -> list[str]:
        """Category names this source holds, sorted."""

    @abstractmethod
    def count(self, category: str) -> int:
        """Number of drawings of a category."""

    @abstractmethod
    def read(self, category: str, rows: np.ndarray | None = None) -> np.ndarray:
        """uint8 (n, 784) bitmaps of the given rows (all, in file order, when None)."""

    @abstractmethod
    def file_of(self, category: str) -> str:
        """The file (or generator) a category's drawings come from, for provenance."""

    def drawings(self, category: str, rows: np.ndarray) -> list | None:
        """The strokes of the given rows (`qdcore.data.strokes.Drawing`, times where known; None for one that
        cannot be read), or None: this source holds bitmaps only."""
        return None

    def describe(self) -> str:
        """One line naming the source for headers and reports."""
        tag = " (synthetic)" if self.synthetic and "synthetic" not in self.location else ""
        return f"{self.kind}: {self.location}{tag}"


class FileSource(Source):
    """A source that keeps each category in one file (`_files`: category -> path)."""

    _files: dict[str, Path]

    def categories(self) -> list[str]:
        return sorted(self._files)

    def _file(self, category: str) -> Path:
        try:
            return self._files[category]
        except KeyError:
            raise DataError(f"{self.location} has no drawings of {category!r}") from None

    def file_of(self, category: str) -> str:
        return text_path(self._file(category))  # shown and stored in provenance: always encodable


def files_by_category(files: list[Path], where: Path, category_of: Callable[[Path], str]) -> dict[str, Path]:
    """category -> file; DataError where two files in `where` name the same category."""
    out: dict[str, Path] = {}
    for p in files:
        cat = category_of(p)
        if cat in out:
            raise DataError(f"both {out[cat].name!r} and {p.name!r} in {where} hold category {cat!r}; remove one")
        out[cat] = p
    return out
