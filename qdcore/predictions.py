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
        """Read a whole predictions.npz, checking that its arrays fit together."""
        parts = read_members(path, *MEMBERS)
        bad = _problem(parts)
        if bad:
            raise StoreError(f"{path} {bad}; {_REDO}")
        return cls(parts["probs"], parts["labels"], [str(c) for c in parts["classes"]], parts["images"],
                   [str(p) for p in parts["provenance"]])


_REDO = "re-run 'qd eval RUN' or retrain the run"


def run_file(run_dir: Path) -> Path:
    """Where a run keeps its test predictions."""
    return Path(run_dir) / PREDICTIONS_FILE


def read_members(path: Path, *names: str) -> dict[str, np.ndarray]:
    """Only the named members of a predictions.npz (StoreError naming the file when missing or unreadable)."""
    import zipfile

    from qdcore.errors import DataError
    from qdcore.paths import regular_file

    path = Path(path)
    unknown = [n for n in names if n not in MEMBERS]
    if unknown:
        raise ValueError(f"predictions have no member {unknown[0]!r}; members: {', '.join(MEMBERS)}")
    if not path.exists():
        raise StoreError(f"no predictions at {path}; evaluate the run first with 'qd eval RUN'")
    try:
        regular_file(path, "a predictions file")
        with np.load(path, allow_pickle=False) as z:
            return {n: z[n] for n in names}
    except DataError as e:
        raise StoreError(str(e)) from None
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as e:
        # numpy's own words would suggest allow_pickle for object arrays: never do that here.
        why = "it holds objects, not plain arrays" if "pickle" in str(e) else _first(e)
        raise StoreError(f"{path} is not a readable predictions file ({why}); {_REDO}") from None


def _first(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0][:120]


def _problem(p: dict[str, np.ndarray]) -> str:
    """What is wrong with the arrays of a predictions file ('' when they fit together)."""
    probs, labels, classes, images, prov = (p[k] for k in ("probs", "labels", "classes", "images", "provenance"))
    if probs.ndim != 2 or probs.dtype.kind != "f":
        return f"has probabilities of shape {probs.shape} {probs.dtype}, not (N, classes) floats"
    n, c = probs.shape
    if classes.ndim != 1 or classes.dtype.kind != "U" or len(classes) != c:
        return f"lists {classes.size} class names for {c} probability columns"
    if labels.shape != (n,) or labels.dtype.kind not in "iu" or (n and (labels.min() < 0 or labels.max() >= c)):
        return f"has labels that do not fit its {n} drawings and {c} classes"
    if images.shape != (n, 28, 28) or images.dtype != np.uint8:
        return f"has drawings of shape {images.shape} {images.dtype}, not ({n}, 28, 28) uint8"
    if prov.shape != (n,):
        return f"has {prov.size} provenance entries for {n} drawings"
    return ""


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
