"""DrawingSet (images, labels, classes, provenance), selection from a source, and splits."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field

import numpy as np

from qdcore.data.categories import chosen_categories
from qdcore.data.mapped import MappedImages, chunks
from qdcore.data.sources import Source
from qdcore.errors import DataError


@dataclass
class DrawingSet:
    """uint8 28x28 drawings with labels, class names and where each drawing came from."""

    images: np.ndarray | MappedImages  # uint8 (N, 28, 28), white ink on black; MappedImages: still in the files
    labels: np.ndarray  # int64 (N,)
    classes: list[str]
    sources: list[str]  # distinct files/generators
    source_idx: np.ndarray  # int32 (N,), index into sources
    rows: np.ndarray  # int64 (N,), row within that file
    synthetic: bool = False
    origin: str = ""  # e.g. "demo" or a folder path
    notes: list[str] = field(default_factory=list)
    source: Source | None = field(default=None, compare=False, repr=False)  # where strokes are read from

    def drawings(self, idx: np.ndarray) -> list | None:
        """The strokes of the drawings at `idx` (`qdcore.data.strokes.Drawing`, times where the files have them),
        read from the source's files; None when the source holds bitmaps only."""
        if self.source is None:
            return None
        idx = np.asarray(idx, np.int64).ravel()
        out: list = [None] * len(idx)
        labels = self.labels[idx]
        for label in np.unique(labels).tolist():
            at = np.flatnonzero(labels == label)
            got = self.source.drawings(self.classes[label], self.rows[idx[at]])
            if got is None:
                return None
            for j, d in zip(at.tolist(), got):
                out[j] = d
        return out

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def provenance(self, i: int) -> str:
        """'file#row' for drawing i."""
        return f"{self.sources[int(self.source_idx[i])]}#{int(self.rows[i])}"

    def subset(self, idx: np.ndarray) -> DrawingSet:
        """The drawings at the given indices, same classes and sources."""
        idx = np.asarray(idx, dtype=np.int64)
        # take: a copy of an array, a lazy view of drawings still in their files (MappedImages).
        return DrawingSet(self.images.take(idx, axis=0), self.labels[idx], list(self.classes), list(self.sources),
                          self.source_idx[idx], self.rows[idx], self.synthetic, self.origin, list(self.notes),
                          self.source)

    def counts(self) -> np.ndarray:
        """Drawings per class."""
        return np.bincount(self.labels, minlength=len(self.classes))

    def fingerprint(self) -> str:
        """A short hash of images, labels and classes: same data, same fingerprint."""
        h = hashlib.sha1()
        h.update("\n".join(self.classes).encode())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        for part in chunks(self.images):  # chunk by chunk: the same hash, never the whole selection at once
            h.update(part.data)
        return h.hexdigest()[:16]


@dataclass
class Splits:
    """Train/val/test parts of one selection."""

    train: DrawingSet
    val: DrawingSet
    test: DrawingSet

    def fingerprint(self) -> str:
        """'train-val-test' short hashes: a run is resumable only while its selection yields these drawings."""
        return "-".join(part.fingerprint()[:8] for part in (self.train, self.val, self.test))


def _rng(seed: int, *keys: str) -> np.random.Generator:
    # crc32 (not hash()) so the stream is stable across processes and Python versions.
    salt = [zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng([int(seed), *salt])


def parse_ratios(spec: str | dict[str, float] | None) -> dict[str, float]:
    """'hammer=0.002,fork=1' -> {'hammer': 0.002, 'fork': 1.0} (sizes relative to --per-class)."""
    if not spec:
        return {}
    items: list[tuple[str, str | float]]
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        items = []
        for part in spec.split(","):
            if "=" not in part:
                raise DataError(f"bad imbalance entry {part!r}: write CATEGORY=RATIO, e.g. hammer=0.002")
            name, ratio = part.split("=", 1)
            items.append((name.strip(), ratio.strip()))
    out = {}
    for k, v in items:
        try:
            r = float(v)
        except ValueError:
            raise DataError(f"bad imbalance ratio {v!r} for {k!r}: give a number in (0, 1]") from None
        if not 0 < r <= 1:
            raise DataError(f"imbalance ratio for {k!r} is {r}; it must be in (0, 1]")
        out[k] = r
    return out


def held_out_rows(cat: str, n_avail: int, n: int) -> np.ndarray:
    """The rows of a category's balanced test drawings: N of them, sorted, the same whatever the run's seed."""
    # A fixed stream (seed 0), not the run's: trials over seeds, sizes and imbalances share one test set.
    return np.sort(_rng(0, "balanced-test", cat).choice(n_avail, size=n, replace=False))


def split_counts(n: int, val: float, test: float) -> tuple[int, int, int]:
    """(train, val, test) sizes of one class of n drawings, as `split` cuts it."""
    n_test = int(round(n * test))
    n_val = int(round(n * val))
    return n - n_test - n_val, n_val, n_test


def _chosen(source: Source, categories: str | list[str] | None, per_class: int | None,
            imbalance: str | dict[str, float] | None) -> tuple[list[str], dict[str, float]]:
    """The checked categories and imbalance ratios of a selection."""
    available = source.categories()
    if not available:
        raise DataError(f"no drawings found in {source.location}; download some with 'qd data download' or use --data demo")
    chosen = chosen_categories(categories, available)
    missing = [c for c in chosen if c not in available]
    if missing:
        raise DataError(f"{source.location} has no drawings of {', '.join(repr(m) for m in missing)}; "
                        f"it holds {len(available)} categories (see 'qd data list --data {source.location}')")
    if per_class is not None and per_class < 1:
        raise DataError(f"--per-class is {per_class}; it must be at least 1")
    ratios = parse_ratios(imbalance)
    if ratios and per_class is None:
        raise DataError("an imbalance needs --per-class (the majority class size)")
    for k in ratios:
        if k not in chosen:
            raise DataError(f"imbalance names {k!r}, which is not among the chosen categories")
    return chosen, ratios


def class_size(source: Source, cat: str, per_class: int | None, ratio: float, hold_out: int | None) -> int:
    """Drawings of `cat` the selection takes for training and validation; DataError when the data has too few."""
    n_avail = source.count(cat)
    if n_avail == 0:
        # A class with no drawings would train into a model that can never predict it.
        raise DataError(f"{source.file_of(cat)} holds no drawings of {cat!r}; remove the file or leave the "
                        "category out with --categories")
    hold = hold_out or 0
    n = n_avail - hold if per_class is None else max(1, int(round(per_class * ratio)))
    if hold and (n < 1 or n + hold > n_avail):
        what = "at least one" if per_class is None else f"{n}"
        raise DataError(f"{cat!r} has {n_avail} drawings in {source.file_of(cat)}; --balanced-test {hold} plus "
                        f"{what} for training and validation need {hold + max(n, 1)}: lower --balanced-test or "
                        "--per-class")
    if n > n_avail:
        raise DataError(f"asked for {n} drawings of {cat!r} but {source.file_of(cat)} has {n_avail}; "
                        f"use --per-class {n_avail} or fewer")
    return n


def check_sizes(source: Source, categories: str | list[str] | None = None, per_class: int | None = None,
                imbalance: str | dict[str, float] | None = None, hold_out: int | None = None) -> list[str]:
    """The chosen categories; DataError for a selection the data cannot fill, reading no drawings."""
    chosen, ratios = _chosen(source, categories, per_class, imbalance)
    for cat in chosen:
        class_size(source, cat, per_class, ratios.get(cat, 1.0), hold_out)
    return chosen


def select(source: Source, categories: str | list[str] | None = None, per_class: int | None = None,
           seed: int = 0, imbalance: str | dict[str, float] | None = None, hold_out: int | None = None,
           held_out: bool = False, mapped: bool = False) -> DrawingSet:
    """Take drawings from a source: chosen categories, N per class (random, by seed) or all in file order.

    `hold_out` N keeps each category's N balanced-test rows out of the selection; with `held_out` the
    selection is those N rows per category instead (the balanced test set). `mapped`: leave the drawings
    in their files (MappedImages) where the source memory-maps them; the same drawings."""
    if held_out and not hold_out:
        raise DataError("a balanced test set needs its size (--balanced-test N)")
    chosen, ratios = _chosen(source, categories, per_class, imbalance)
    open_map = getattr(source, "open_map", None) if mapped else None
    images, labels, src_idx, rows_all, sources = [], [], [], [], []
    for label, cat in enumerate(chosen):
        n = class_size(source, cat, per_class, ratios.get(cat, 1.0), hold_out)
        n_avail = source.count(cat)
        test_rows = held_out_rows(cat, n_avail, hold_out) if hold_out else None
        if test_rows is not None and held_out:
            rows = test_rows
        elif test_rows is not None:  # drawn from the rows the balanced test set leaves, never from it
            pool = np.setdiff1d(np.arange(n_avail), test_rows)
            rows = pool if per_class is None else np.sort(
                pool[_rng(seed, "select", cat).choice(len(pool), size=n, replace=False)])
        elif per_class is None:
            rows = None
        else:
            # Sorted rows read a memory map front to back.
            rows = np.sort(_rng(seed, "select", cat).choice(n_avail, size=n, replace=False))
        # One map per category (aligned with `sources`); otherwise the chosen rows copied out.
        bitmaps = open_map(cat) if open_map is not None else source.read(cat, rows)
        got = (n_avail if rows is None else len(rows)) if open_map is not None else bitmaps.shape[0]
        if got == 0:
            continue
        sources.append(source.file_of(cat))
        images.append(bitmaps if open_map is not None else bitmaps.reshape(-1, 28, 28))
        labels.append(np.full(got, label, dtype=np.int64))
        src_idx.append(np.full(got, len(sources) - 1, dtype=np.int32))
        rows_all.append(np.arange(n_avail, dtype=np.int64) if rows is None else rows.astype(np.int64))
    if not images:
        raise DataError(f"the selection from {source.location} holds no drawings; choose other --categories")
    rows_cat, src_cat = np.concatenate(rows_all), np.concatenate(src_idx)
    pixels = MappedImages(images, src_cat, rows_cat) if open_map is not None else np.concatenate(images)
    return DrawingSet(pixels, np.concatenate(labels), chosen, sources, src_cat, rows_cat, source.synthetic,
                      source.location, list(getattr(source, "notes", [])), source)


def class_rows(labels: np.ndarray, n_classes: int) -> list[np.ndarray]:
    """Each class's row indices, ascending: np.flatnonzero(labels == c) for every c in one stable sort
    (2 s for all 50 million drawings, whose labels come grouped, instead of 10 s for 345 scans)."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_classes + 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(n_classes)]


def split(ds: DrawingSet, val: float = 0.1, test: float = 0.1, seed: int = 0) -> Splits:
    """Stratified, shuffled train/val/test split, deterministic for a seed."""
    if val < 0 or test < 0 or val + test >= 1:
        raise DataError(f"split fractions val={val}, test={test} must be >= 0 and sum to less than 1")
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for c, idx in enumerate(class_rows(ds.labels, len(ds.classes))):
        idx = idx[_rng(seed, "split", ds.classes[c]).permutation(len(idx))]
        _, n_val, n_test = split_counts(len(idx), val, test)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    out = {}
    for name, picked in parts.items():
        idx = np.concatenate(picked) if picked else np.zeros(0, np.int64)
        idx = idx[_rng(seed, "shuffle", name).permutation(len(idx))]
        out[name] = ds.subset(idx)
    if len(out["train"]) == 0:
        raise DataError("the training split is empty; ask for more drawings per class")
    return Splits(**out)
