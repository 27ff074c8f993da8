"""Plain helpers shared by several test files (no fixtures: those live in conftest.py)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from qdcore.paths import shared_quickdraw

# A busy or slow machine takes longer: every subprocess timeout and Pilot wait is scaled by this factor.
TIMEOUT_FACTOR = max(1.0, float(os.environ.get("QD_TEST_TIMEOUT_FACTOR", "1") or 1))


def scaled_timeout(seconds: float) -> float:
    """A timeout for this machine: `seconds` times $QD_TEST_TIMEOUT_FACTOR (scripts/test sets it; default 1)."""
    return seconds * TIMEOUT_FACTOR


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of a with the same row of b (images flattened)."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a -= a.mean(1, keepdims=True)
    b -= b.mean(1, keepdims=True)
    return (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))


def hand_wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval written out from the textbook formula (z = 1.96)."""
    z = 1.959963984540054
    p = k / n
    mid = (2 * n * p + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return mid - half, mid + half


def require_shared_quickdraw() -> Path:
    """The shared Quick, Draw! folder; the calling test is skipped where it is not present."""
    root = shared_quickdraw()
    if root is None:
        pytest.skip("shared Quick, Draw! data not present")
    return root


def google_order(root: Path) -> list[str]:
    """The categories whose .npy rows follow the order of their simplified .ndjson lines (from INDEX.tsv)."""
    lines = (root / "numpy_bitmap" / "INDEX.tsv").read_text().splitlines()[1:]
    return [ln.split("\t")[0] for ln in lines if ln.split("\t")[2] == "google-order"]


def npy_folder(path: Path, categories: tuple[str, ...], per_file: int) -> str:
    """A folder of Google-layout uint8 (n, 784) files of sparse random strokes, one per category."""
    rng = np.random.default_rng(0)
    for cat in categories:
        a = rng.integers(0, 256, (per_file, 784), dtype=np.uint8)
        a[a < 200] = 0
        np.save(Path(path) / f"{cat}.npy", a)
    return str(path)
