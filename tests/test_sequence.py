"""The stroke-sequence encoding: strokes -> (dx, dy, pen) rows -> the same strokes, on demo and hand-made drawings."""

from __future__ import annotations

import numpy as np

from qdcore.data.sequence import SCALE, decode, encode, of_drawing, padded


def test_a_tiny_drawing_encodes_as_computed_by_hand():
    strokes = [([10, 20, 20], [5, 5, 30]), ([0], [255])]
    rows = encode(strokes)
    assert rows.tolist() == [[10, 5, 0], [10, 0, 0], [0, 25, 1], [-20, 225, 1]]
    assert decode(rows) == strokes
    assert decode(rows[:2]) == [([10, 20], [5, 5])]  # a prefix is the drawing as it was after two points
    assert encode(strokes, max_points=3).shape == (3, 3)


def test_demo_and_raw_strokes_round_trip():
    from qdcore.data.drawingset import select
    from qdcore.data.opener import open_source

    ds = select(open_source("demo"), "circle,square,triangle", 10, 0, None)
    drawings = ds.drawings(np.arange(len(ds)))
    assert drawings is not None and len(drawings) == 30
    for d in drawings:
        assert decode(of_drawing(d)) == [(list(x), list(y)) for x, y in d.simplified() if len(x)]


def test_padding_scales_offsets_and_gives_empty_drawings_one_row():
    x, n = padded([encode([([0, 32], [0, 64])]), np.zeros((0, 3), np.int32)])
    assert x.shape == (2, 2, 3) and n.tolist() == [2, 1]
    assert np.allclose(x[0], [[0, 0, 0], [32 * SCALE, 64 * SCALE, 1]]) and not x[1].any()
