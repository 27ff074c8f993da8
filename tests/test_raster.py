"""The rasteriser against Google's own bitmaps, and its basic geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import google_order, pearson_rows, require_shared_quickdraw

from qdcore.data.raster import geometry, rasterize, rasterize_many


def google_order_pairs(n: int = 25):
    """(drawings, google rows) for line i < n of every `google-order` category."""
    root = require_shared_quickdraw()
    cats = google_order(root)
    drawings, rows = [], []
    for c in cats:
        with open(root / "simplified" / f"{c}.ndjson", encoding="utf-8") as f:
            for _, line in zip(range(n), f):
                drawings.append(json.loads(line)["drawing"])
        rows.append(np.load(root / "numpy_bitmap" / f"{c}.npy", mmap_mode="r")[:n])
    return cats, drawings, np.concatenate(rows)


def test_matches_google_bitmaps():
    cats, drawings, rows = google_order_pairs()
    assert len(cats) >= 30 and len(drawings) == 25 * len(cats)
    images = rasterize_many(drawings)
    r = pearson_rows(images, rows)
    mad = np.abs(images.astype(np.int16) - rows.reshape(-1, 28, 28)).mean()
    # Measured: mean r 0.998, min 0.992, mean |diff| 1.6 grey levels.
    assert r.mean() >= 0.99, r.mean()
    assert r.min() >= 0.98, r.min()
    assert mad <= 3.5, mad


def test_single_equals_batch_and_lists_equal_arrays():
    strokes = [([10, 80, 200, 250], [5, 90, 60, 255]), ([30], [200]), ([0, 255.0], [128, 120.5])]
    as_arrays = [(np.asarray(x, np.float64), np.asarray(y)) for x, y in strokes]
    one = rasterize(strokes)
    many = rasterize_many([[], strokes, as_arrays, []])
    assert one.dtype == np.uint8 and one.shape == (28, 28)
    assert np.array_equal(many[1], one) and np.array_equal(many[2], one)
    assert many[0].max() == 0 and many[3].max() == 0


def test_transposed_strokes_give_transposed_image():
    strokes = [([0, 40, 255, 120], [0, 200, 30, 255])]
    swapped = [(y, x) for x, y in strokes]
    assert np.array_equal(rasterize(swapped), rasterize(strokes).T)


def test_dot_and_line_geometry():
    # A one-point stroke is a round dot of the line's diameter (area about 1.7 pixels).
    for p in (0, 100, 128, 255):
        dot = rasterize([([p], [p])])
        assert dot.max() > 100 and 1 <= (dot > 0).sum() <= 9
        assert 1.3 <= dot.sum() / 255 <= 2.5
    # A full-width horizontal line sits in the middle rows, padded away from the edges.
    line = rasterize([([0, 255], [0, 0])])
    cols = np.flatnonzero(line.max(0))
    rows = np.flatnonzero(line.max(1))
    scale, shift, radius = geometry(28)
    left = (shift - 8) * scale  # line start minus half the line width, in pixels
    assert cols[0] == int(np.floor(left)) and cols[-1] == 27 - cols[0]
    assert set(rows) <= {12, 13, 14, 15}
    # Away from the caps each column holds exactly the line width's worth of ink.
    width = line[:, 4:24].astype(np.float64).sum(0) / 255
    assert np.allclose(width, 2 * radius, atol=0.02)


def test_other_sizes():
    strokes = [([0, 255], [0, 255]), ([0, 255], [255, 0])]
    big = rasterize(strokes, size=64)
    tiny = rasterize(strokes, size=4)
    assert big.shape == (64, 64) and tiny.shape == (4, 4)
    assert np.array_equal(big, big[:, ::-1]) and tiny.max() > 100


def test_ragged_stroke_is_rejected():
    with pytest.raises(ValueError):
        rasterize([([1, 2, 3], [1, 2])])
