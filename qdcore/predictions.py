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
        path = Path(path)
        if not path.exists():
            raise StoreError(f"no predictions at {path}; evaluate the run first with 'qd eval RUN'")
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(z["probs"], z["labels"], [str(c) for c in z["classes"]], z["images"],
                           [str(p) for p in z["provenance"]])
        except (ValueError, KeyError, OSError) as e:
            raise StoreError(f"{path} is not a readable predictions file ({e}); re-run 'qd eval RUN'") from None
