"""A run's test predictions (predictions.npz): the one module that knows the file's layout, to write and read it.

Members: probs float32 (N, C) softmax, labels int64 (N,), classes str (C,), images uint8 (N, 28, 28),
provenance str (N,) as 'file#row'. No pickles. Light readers load only the members they need (the
drawings are the bulk of the file).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qdcore.errors import StoreError
from qdcore.paths import atomic_write_bytes
from qdcore.train.artifacts import PREDICTIONS_FILE

MEMBERS = ("probs", "labels", "classes", "images", "provenance")


@dataclass
class Predictions:
    """Model outputs on a labelled set (usually the test split)."""

    probs: np.ndarray  # float32 (N, C), softmax
    labels: np.ndarray  # int64 (N,)
    classes: list[str]
    images: np.ndarray  # uint8 (N, 28, 28)
    provenance: list[str]  # 'file#row' per drawing

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def predicted(self) -> np.ndarray:
        """Top-1 predicted class per drawing."""
        return self.probs.argmax(axis=1)

    def save(self, path: Path) -> None:
        """Write predictions.npz atomically."""
        buf = io.BytesIO()
        np.savez_compressed(buf, probs=self.probs.astype(np.float32), labels=self.labels.astype(np.int64),
                            classes=np.array(self.classes, dtype=str), images=self.images.astype(np.uint8),
                            provenance=np.array(self.provenance, dtype=str))
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> "Predictions":
        """Read a whole predictions.npz."""
        z = read_members(path, *MEMBERS)
        return cls(z["probs"], z["labels"], [str(c) for c in z["classes"]], z["images"],
                   [str(p) for p in z["provenance"]])


def run_file(run_dir: Path) -> Path:
    """Where a run keeps its test predictions."""
    return Path(run_dir) / PREDICTIONS_FILE


def read_members(path: Path, *names: str) -> dict[str, np.ndarray]:
    """Only the named members of a predictions.npz (StoreError naming the file when missing or unreadable)."""
    path = Path(path)
    unknown = [n for n in names if n not in MEMBERS]
    if unknown:
        raise ValueError(f"predictions have no member {unknown[0]!r}; members: {', '.join(MEMBERS)}")
    if not path.exists():
        raise StoreError(f"no predictions at {path}; evaluate the run first with 'qd eval RUN'")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {n: z[n] for n in names}
    except (ValueError, KeyError, OSError, EOFError) as e:
        raise StoreError(f"{path} is not a readable predictions file ({e}); re-run 'qd eval RUN'") from None


def count(path: Path) -> int:
    """How many drawings a predictions file holds (reads the labels only)."""
    return int(read_members(path, "labels")["labels"].shape[0])


def provenance(path: Path) -> list[str]:
    """'file#row' of every drawing, without decompressing the drawings."""
    return [str(p) for p in read_members(path, "provenance")["provenance"]]


def outcomes(path: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(classes, labels, top-1 predicted, provenance), without decompressing the drawings."""
    z = read_members(path, "classes", "labels", "probs", "provenance")
    return ([str(c) for c in z["classes"]], np.asarray(z["labels"], dtype=np.int64), np.asarray(z["probs"]).argmax(axis=1),
            [str(p) for p in z["provenance"]])
