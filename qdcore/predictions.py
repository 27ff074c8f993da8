"""A run's test predictions: probabilities, truth, the drawings and where they came from."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qdcore.errors import StoreError
from qdcore.paths import atomic_write_bytes


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
        """Read predictions.npz (no pickles)."""
        import zipfile

        from qdcore.errors import DataError
        from qdcore.paths import regular_file

        path = Path(path)
        if not path.exists():
            raise StoreError(f"no predictions at {path}; evaluate the run first with 'qd eval RUN'")
        redo = "re-run 'qd eval RUN' or retrain the run"
        try:
            regular_file(path, "a predictions file")
            with np.load(path, allow_pickle=False) as z:
                parts = {k: z[k] for k in ("probs", "labels", "classes", "images", "provenance")}
        except DataError as e:
            raise StoreError(str(e)) from None
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as e:
            # numpy's own words would suggest allow_pickle for object arrays: never do that here.
            why = "it holds objects, not plain arrays" if "pickle" in str(e) else _first(e)
            raise StoreError(f"{path} is not a readable predictions file ({why}); {redo}") from None
        bad = _problem(parts)
        if bad:
            raise StoreError(f"{path} {bad}; {redo}")
        return cls(parts["probs"], parts["labels"], [str(c) for c in parts["classes"]], parts["images"],
                   [str(p) for p in parts["provenance"]])


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
