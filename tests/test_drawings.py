"""A drawing is more than a bitmap: selections carry strokes (times where the source has them) and the predictor
contract takes drawings, so a stroke-sequence model plugs in as one kind."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qdcore.data.drawings import Drawings
from qdcore.data.drawingset import select, split
from qdcore.data.opener import open_source
from qdcore.data.raster import rasterize_many
from qdcore.options import RunConfig
from qdcore.runs.kinds import RunKind, predictor_of, register, unregister
from qdcore.store import Store


def test_a_demo_selection_carries_the_strokes_its_bitmaps_were_drawn_from():
    s = split(select(open_source("demo"), "sun,star", 30, seed=3), 0.2, 0.2, seed=3)
    for part in (s.train, s.val, s.test):
        drawings = part.drawings(np.arange(len(part)))
        assert len(drawings) == len(part) and all(d.times is None for d in drawings)  # programs have no clock
        assert np.array_equal(rasterize_many([d.strokes for d in drawings]), np.asarray(part.images))
        assert [d.word for d in drawings] == [part.classes[y] for y in part.labels]


def _ndjson(path, word, strokes, timed):
    lines = []
    for k, (xs, ys) in enumerate(strokes):
        stroke = [xs, ys, [10 * i + 1000 * k for i in range(len(xs))]] if timed else [xs, ys]
        lines.append(json.dumps({"word": word, "key_id": str(k), "drawing": [stroke]}))
    path.write_text("\n".join(lines) + "\n")


def test_raw_strokes_keep_their_times_and_bitmap_sources_have_no_strokes(tmp_path):
    strokes = [([0, 50, 120], [0, 80, 40]), ([10, 200], [30, 220]), ([5, 90, 91, 250], [250, 5, 6, 0])]
    raw, simple = tmp_path / "raw", tmp_path / "simple"
    raw.mkdir()
    simple.mkdir()
    _ndjson(raw / "zigzag.ndjson", "zigzag", strokes, timed=True)
    _ndjson(simple / "zigzag.ndjson", "zigzag", strokes, timed=False)
    got = select(open_source(str(raw))).drawings(np.arange(3))
    assert [d.strokes[0] for d in got] == strokes
    assert [d.times[0] for d in got] == [[0, 10, 20], [1000, 1010], [2000, 2010, 2020, 2030]]
    assert all(d.times is None for d in select(open_source(str(simple))).drawings(np.arange(3)))
    np.save(tmp_path / "zigzag.npy", np.zeros((4, 784), np.uint8))
    assert select(open_source(str(tmp_path / "zigzag.npy"))).drawings(np.arange(2)) is None


def _stroke_counter(run_dir, device=None):
    """A 'model' that reads strokes: class 1 for drawings of more than 8 strokes (what a sequence model sees)."""

    def predict(d: Drawings) -> np.ndarray:
        assert isinstance(d, Drawings)
        many = np.array([s is not None and len(s.strokes) > 8 for s in (d.strokes or [None] * len(d))])
        return np.stack([~many, many], 1).astype(np.float32)

    return predict, ["few", "many"]


@pytest.fixture
def stroke_kind():
    register(RunKind(name="stroke-counter", config=RunConfig, train=lambda ctx: {}, predictor=_stroke_counter,
                     reads="drawings"))
    yield
    unregister("stroke-counter")  # not "strokes": that is a real kind, which this must not remove


def test_a_kind_that_reads_strokes_is_given_drawings_by_predictor_of(stroke_kind, tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("s", "stroke-counter", {})
    predict, classes = predictor_of(store, rid)
    ds = select(open_source("demo"), "sun,star", 10, seed=0)
    counts = [len(d.strokes) for d in ds.drawings(np.arange(len(ds)))]
    probs = predict(Drawings.from_set(ds))
    assert classes == ["few", "many"] and probs[:, 1].tolist() == [float(n > 8) for n in counts]
    assert 0 < probs[:, 1].sum() < len(ds)  # the strokes, not the bitmaps, decided
    assert predict(np.asarray(ds.images)).tolist() == [[1.0, 0.0]] * len(ds)  # bare bitmaps: no strokes known


def test_the_draw_canvas_gives_a_stroke_model_its_strokes_and_times(stroke_kind, tmp_path):
    from qdcore.draw.recorder import model_drawing, model_input
    from qdcore.train.predictor import load_predictor

    store = Store(tmp_path)
    predictor = load_predictor(store, store.create_run("s", "stroke-counter", {}))
    raw = [[[10 * i, 10 * i + 5], [20, 30], [100 * i, 100 * i + 16]] for i in range(10)]  # ten timed strokes
    drawing = model_drawing(raw)
    assert drawing.times[3] == [300, 316] and len(drawing.strokes) == 10
    assert predictor.top(model_input(raw), 1, strokes=drawing)[0][0] == "many"
    assert predictor.top(model_input(raw), 1)[0][0] == "few"  # the bitmap alone says nothing of strokes
