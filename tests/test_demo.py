"""The built-in demo set: deterministic, official names, simplified-stroke conventions, confusable pairs."""

import numpy as np
import pytest

from qdcore.data.categories import official_categories
from qdcore.data.demo import CONFUSABLE_PAIRS, DEMO_CLASSES, DemoSource, generate, generate_strokes
from qdcore.data.drawingset import class_rows, select, split
from qdcore.data.opener import open_source
from qdcore.errors import DataError


def test_classes_are_official_quickdraw_names():
    official = set(official_categories())
    assert len(DEMO_CLASSES) >= 10
    assert all(c in official for c in DEMO_CLASSES)
    assert DEMO_CLASSES == sorted(DEMO_CLASSES)
    assert ("hexagon", "octagon") in CONFUSABLE_PAIRS
    assert all(a in DEMO_CLASSES and b in DEMO_CLASSES for a, b in CONFUSABLE_PAIRS)


def test_shapes_dtypes_and_grouped_labels():
    images, labels = generate(per_class=6, seed=0)
    n = 6 * len(DEMO_CLASSES)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    assert np.array_equal(labels, np.repeat(np.arange(len(DEMO_CLASSES)), 6))


def test_same_seed_same_bytes_other_seed_other_drawings():
    a, la = generate(per_class=5, seed=0)
    b, lb = generate(per_class=5, seed=0)
    c, _ = generate(per_class=5, seed=1)
    assert a.tobytes() == b.tobytes() and np.array_equal(la, lb)
    assert a.tobytes() != c.tobytes()
    # Differing seeds differ drawing by drawing, not just somewhere.
    assert (a.reshape(len(a), -1) != c.reshape(len(c), -1)).any(axis=1).mean() > 0.9


def test_rows_do_not_depend_on_how_many_are_asked_for():
    small, _ = generate(per_class=4, seed=3, classes=["octagon"])
    large, _ = generate(per_class=260, seed=3, classes=["octagon"])
    assert np.array_equal(small, large[:4])
    one = generate_strokes("octagon", [257], seed=3)[0]
    many = generate_strokes("octagon", 260, seed=3)[257]
    assert all(np.array_equal(x1, x2) and np.array_equal(y1, y2) for (x1, y1), (x2, y2) in zip(one, many))


def test_classes_argument_orders_labels():
    images, labels = generate(per_class=3, seed=0, classes=["octagon", "hexagon"])
    hexa, _ = generate(per_class=3, seed=0, classes=["hexagon"])
    assert np.array_equal(labels, [0, 0, 0, 1, 1, 1])
    assert np.array_equal(images[3:], hexa)
    with pytest.raises(DataError, match="octagon"):
        generate(per_class=3, classes=["octagonn"])


def test_strokes_follow_simplified_conventions():
    for cat in DEMO_CLASSES:
        for drawing in generate_strokes(cat, 30, seed=0):
            assert drawing and all(len(xs) == len(ys) >= 1 for xs, ys in drawing)
            xs = np.concatenate([s[0] for s in drawing])
            ys = np.concatenate([s[1] for s in drawing])
            assert np.issubdtype(xs.dtype, np.integer) and np.issubdtype(ys.dtype, np.integer)
            assert xs.min() == 0 and ys.min() == 0, cat  # aligned to the top left
            assert max(xs.max(), ys.max()) == 255, cat  # longer side spans 0..255
            assert xs.max() <= 255 and ys.max() <= 255


def test_drawings_have_ink_and_vary():
    images, labels = generate(per_class=40, seed=0)
    flat = images.reshape(len(images), -1)
    assert ((flat > 128).sum(axis=1) >= 25).all()  # no blank or near-blank drawing
    for c in range(len(DEMO_CLASSES)):
        rows = flat[labels == c]
        assert len(np.unique(rows, axis=0)) == len(rows), DEMO_CLASSES[c]
        assert rows.std(axis=0).mean() > 20  # real variation within a class


def test_designed_pairs_are_what_a_nearest_neighbour_confuses():
    # 1-NN on raw pixels: cheap, no training, and sensitive to the same look-alikes a CNN mixes up.
    per = 200
    images, labels = generate(per_class=per, seed=0)
    x = images.reshape(len(images), -1).astype(np.float32) / 255
    train = (np.arange(len(labels)) % per) < per // 2
    a, b = x[train], x[~train]
    d = (b * b).sum(1)[:, None] - 2 * b @ a.T + (a * a).sum(1)[None]
    pred = labels[train][d.argmin(1)]
    k = len(DEMO_CLASSES)
    cm = np.zeros((k, k), np.int64)
    np.add.at(cm, (labels[~train], pred), 1)
    pair = cm + cm.T
    designed = {tuple(sorted((DEMO_CLASSES.index(p), DEMO_CLASSES.index(q)))) for p, q in CONFUSABLE_PAIRS}
    others = [pair[i, j] for i in range(k) for j in range(i + 1, k) if (i, j) not in designed]
    floor = 4 * max(np.mean(others), 1.0)
    for i, j in designed:
        assert pair[i, j] >= floor, (DEMO_CLASSES[i], DEMO_CLASSES[j], int(pair[i, j]), floor)
    order = sorted(((pair[i, j], (i, j)) for i in range(k) for j in range(i + 1, k)), reverse=True)
    top3 = {ij for _, ij in order[:3]}
    assert tuple(sorted((DEMO_CLASSES.index("hexagon"), DEMO_CLASSES.index("octagon")))) in top3


def test_demo_source_interface_and_provenance():
    src = DemoSource(per_class=30, seed=0)
    assert src.kind == "demo" and src.synthetic is True
    assert src.location == "demo (synthetic, seed 0)"
    assert "synthetic" in src.describe()
    assert src.categories() == sorted(DEMO_CLASSES)
    assert src.count("hexagon") == 30
    assert src.file_of("hexagon") == "demo:hexagon"
    everything = src.read("hexagon")
    assert everything.shape == (30, 784) and everything.dtype == np.uint8
    expected, _ = generate(per_class=30, seed=0, classes=["hexagon"])
    assert np.array_equal(everything, expected.reshape(30, 784))
    assert np.array_equal(src.read("hexagon", np.array([17, 2])), everything[[17, 2]])
    with pytest.raises(DataError, match="hexagon"):
        src.read("hexagon", np.array([30]))
    with pytest.raises(DataError, match="hexagonn"):
        src.count("hexagonn")
    assert DemoSource(per_class=30, seed=5).location == "demo (synthetic, seed 5)"
    assert DemoSource().count("circle") == 2000


def test_open_source_demo_is_the_demo_set():
    src = open_source("demo")
    assert isinstance(src, DemoSource) and src.per_class == 2000 and src.seed == 0


def test_select_and_split_work_on_the_demo_source():
    src = DemoSource(per_class=60, seed=0)
    ds = select(src, ["hexagon", "octagon", "circle"], per_class=20, seed=1)
    assert ds.synthetic and ds.origin == "demo (synthetic, seed 0)"
    assert ds.images.shape == (60, 28, 28) and list(ds.counts()) == [20, 20, 20]
    prov = ds.provenance(0)
    cat, row = prov.removeprefix("demo:").split("#")
    assert prov.startswith("demo:") and cat in ds.classes
    assert np.array_equal(ds.images[0].reshape(784), src.read(cat, np.array([int(row)]))[0])
    again = select(src, ["hexagon", "octagon", "circle"], per_class=20, seed=1)
    assert again.fingerprint() == ds.fingerprint()
    parts = split(ds, val=0.2, test=0.2, seed=0)
    assert len(parts.train) + len(parts.val) + len(parts.test) == 60
    assert len(parts.test) == 12 and parts.test.synthetic


def test_class_rows_are_each_class_scan_in_one_sort():
    rng = np.random.default_rng(4)
    for labels in (np.repeat(np.arange(5), [3, 0, 7, 1, 4]), rng.integers(0, 6, 500), np.zeros(0, np.int64)):
        rows = class_rows(labels, 6)
        assert len(rows) == 6
        for c, idx in enumerate(rows):
            assert np.array_equal(idx, np.flatnonzero(labels == c)), (labels, c)
