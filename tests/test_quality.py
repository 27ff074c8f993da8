"""Data-quality report: blank, near-blank and duplicated drawings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdcore.data.drawingset import DrawingSet, select
from qdcore.data.opener import open_source
from qdcore.data.quality import NEAR_BLANK_BELOW, duplicate_groups, quality_report
from qdcore.paths import shared_quickdraw


def make_set(images: np.ndarray, labels: list[int], classes=("a", "b")) -> DrawingSet:
    n = len(images)
    return DrawingSet(images.astype(np.uint8), np.asarray(labels, np.int64), list(classes), ["f"],
                      np.zeros(n, np.int32), np.arange(n, dtype=np.int64))


def test_blank_near_blank_and_duplicates():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(10, 28, 28)).astype(np.uint8)
    imgs[1] = 0  # blank
    imgs[2] = 0
    imgs[2, 5, 5:10] = 255  # a speck: 5 ink pixels
    imgs[3] = 0
    imgs[3, 0, :20] = 40  # faint: below the ink level, so blank
    imgs[6] = imgs[0]  # duplicate within class a
    imgs[8] = imgs[0]  # ... and in class b
    imgs[9] = 0  # second all-zero image: blank, not a duplicate group
    rep = quality_report(make_set(imgs, [0, 0, 0, 0, 0, 1, 0, 1, 1, 1]))
    assert rep.blank == [1, 3, 9]
    assert rep.near_blank == [2]
    assert rep.duplicate_groups == [[0, 6, 8]]
    assert rep.cross_class_groups == [0]
    assert rep.duplicates == 2
    assert rep.per_class["a"] == {"n": 6, "blank": 2, "near_blank": 1, "duplicates": 1}
    assert rep.per_class["b"] == {"n": 4, "blank": 1, "near_blank": 0, "duplicates": 1}
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["near_blank_below"] == NEAR_BLANK_BELOW and d["duplicates"] == 2


def test_duplicate_groups_ordering():
    a = np.zeros((6, 4), np.uint8)
    a[:, 0] = [3, 1, 3, 2, 1, 3]
    assert duplicate_groups(a) == [[0, 2, 5], [1, 4]]
    assert duplicate_groups(a, skip=np.array([0])) == [[1, 4], [2, 5]]
    assert duplicate_groups(a[:1]) == []


def test_shared_quickdraw_duplicates():
    root = shared_quickdraw()
    if root is None:
        pytest.skip("../shared/quickdraw is absent")
    ds = select(open_source(root / "numpy_bitmap"), "bee,cat,guitar")
    rep = quality_report(ds)
    assert rep.blank == [] and rep.near_blank == []
    # The subsets hold a few drawings twice (bee and guitar rows below); cat has none.
    pairs = [tuple(ds.provenance(i).rsplit("/", 1)[1] for i in g) for g in rep.duplicate_groups]
    assert pairs == [("bee.npy#20", "bee.npy#442"), ("bee.npy#148", "bee.npy#330"),
                     ("guitar.npy#107", "guitar.npy#418"), ("guitar.npy#182", "guitar.npy#215"),
                     ("guitar.npy#190", "guitar.npy#334"), ("guitar.npy#276", "guitar.npy#403")]
    assert rep.per_class["cat"]["duplicates"] == 0 and rep.cross_class_groups == []
    flat = ds.images.reshape(len(ds), -1)
    assert len(np.unique(flat, axis=0)) == len(ds) - rep.duplicates


def test_an_official_category_missing_from_the_data_says_so():
    from qdcore.data.categories import check_category
    from qdcore.errors import DataError

    with pytest.raises(DataError, match="is a Quick, Draw! category but not in this data"):
        check_category("cat", ["circle", "square"])
    with pytest.raises(DataError, match="did you mean 'circle'"):
        check_category("circel", ["circle", "square"])
