"""A run's test predictions (predictions.npz): the one module that knows the file's layout, to write and read it.

Members: probs float32 (N, C) softmax, labels int64 (N,), classes str (C,), images uint8 (N, 28, 28),
provenance str (N,) as 'file#row'. No pickles. Light readers load only the members they need (the
drawings are the bulk of the file).

A split larger than KEEP drawings (all 345 categories: 5 million test drawings, 7 GB of probabilities)
keeps the per-drawing members for a fixed random KEEP of them, and adds the counts over every drawing:
all_confusion int64 (C, C) and all_top5 int64 (), from which top-1, top-5 and the per-class table come.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qdcore.artifacts import PREDICTIONS_FILE
from qdcore.errors import DataError, StoreError
from qdcore.paths import atomic_write_bytes, regular_file

MEMBERS = ("probs", "labels", "classes", "images", "provenance")
TOTALS = ("all_confusion", "all_top5")  # only in a file that keeps a sample
KEEP = 100_000  # drawings whose own predictions a file keeps: 138 MB of probabilities at 345 classes


@dataclass
class Totals:
    """Counts over every drawing evaluated, where a Predictions keeps only a sample of them."""

    confusion: np.ndarray  # int64 (C, C): rows the true class, columns the predicted one
    top5: int  # drawings whose true class is among the five highest scores

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def top1(self) -> int:
        return int(np.trace(self.confusion))


def kept_rows(n: int, keep: int | None = None) -> np.ndarray | None:
    """The rows of n drawings whose predictions are kept: all of them (None) up to `keep`, else a fixed random
    `keep` of them in their order (the same for every run, so a re-evaluation keeps the same drawings)."""
    keep = KEEP if keep is None else keep
    if n <= keep:
        return None
    return np.sort(np.random.default_rng(0x9D).choice(n, size=keep, replace=False))


@dataclass
class Predictions:
    """Model outputs on a labelled set (usually the test split)."""

    probs: np.ndarray  # float32 (N, C), softmax
    labels: np.ndarray  # int64 (N,)
    classes: list[str]
    images: np.ndarray  # uint8 (N, 28, 28)
    provenance: list[str]  # 'file#row' per drawing
    totals: Totals | None = None  # counts over the whole split, where these rows are a sample of it

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def predicted(self) -> np.ndarray:
        """Top-1 predicted class per drawing."""
        return self.probs.argmax(axis=1)

    def save(self, path: Path) -> None:
        """Write predictions.npz atomically (an .npz as np.savez_compressed writes it, at zlib level 1)."""
        members = {"probs": self.probs.astype(np.float32), "labels": self.labels.astype(np.int64),
                   "classes": np.array(self.classes, dtype=str), "images": self.images.astype(np.uint8),
                   "provenance": np.array(self.provenance, dtype=str)}
        if self.totals is not None:
            members.update(all_confusion=np.asarray(self.totals.confusion, np.int64),
                           all_top5=np.int64(self.totals.top5))
        buf = io.BytesIO()
        # Level 1: softmax outputs barely compress at any level (138 MB -> 95 MB at 345 classes), and level 6
        # took 6.6 s of a run's end for that instead of 2.4 s.
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name, arr in members.items():
                with zf.open(name + ".npy", "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, np.asanyarray(arr), allow_pickle=False)
        atomic_write_bytes(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path: Path) -> Predictions:
        """Read a whole predictions.npz, checking that its arrays fit together."""
        parts = read_members(path, *MEMBERS, *TOTALS)
        bad = _problem(parts)
        if bad:
            raise StoreError(f"{path} {bad}; {_REDO}")
        totals = Totals(parts["all_confusion"], int(parts["all_top5"])) if "all_confusion" in parts else None
        return cls(parts["probs"], parts["labels"], [str(c) for c in parts["classes"]], parts["images"],
                   [str(p) for p in parts["provenance"]], totals)


_REDO = "re-run 'qd eval RUN' or retrain the run"


def run_file(run_dir: Path) -> Path:
    """Where a run keeps its test predictions."""
    return Path(run_dir) / PREDICTIONS_FILE


def read_members(path: Path, *names: str) -> dict[str, np.ndarray]:
    """Only the named members of a predictions.npz (StoreError naming the file when missing or unreadable);
    the TOTALS members are left out where the file has none."""
    path = Path(path)
    unknown = [n for n in names if n not in MEMBERS + TOTALS]
    if unknown:
        raise ValueError(f"predictions have no member {unknown[0]!r}; members: {', '.join(MEMBERS)}")
    if not path.exists():
        raise StoreError(f"no predictions at {path}; evaluate the run first with 'qd eval RUN'")
    try:
        regular_file(path, "a predictions file")
        with np.load(path, allow_pickle=False) as z:
            return {n: z[n] for n in names if n in MEMBERS or n in z.files}
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
    if ("all_confusion" in p) != ("all_top5" in p):
        return "has only one of its two whole-split counts"
    if "all_confusion" in p:
        cm, top5 = p["all_confusion"], p["all_top5"]
        if cm.shape != (c, c) or cm.dtype.kind not in "iu" or (cm.size and cm.min() < 0) or cm.sum() < n:
            return f"has whole-split counts of shape {cm.shape} that do not fit its {n} drawings and {c} classes"
        if top5.shape != () or top5.dtype.kind not in "iu" or not np.trace(cm) <= top5 <= cm.sum():
            return "has a whole-split top-5 count outside its whole-split top-1 count and size"
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
