"""Timing rasters for CNNs (issue 24 point 2): strokes drawn on the device as ink / order / time channels at 28 or
64 pixels, checked against a tiny drawing computed by hand; a zoo CNN learns from them a rule that only the
time channel carries (the drawing direction: identical bitmaps)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.data.sequence import encode, padded, time_shares
from qdcore.data.strokes import Drawing
from qdcore.data.timing_raster import render
from qdcore.store import Store
from tests.test_strokes_kind import planted, train_planted  # noqa: F401 (planted is a fixture)

# Two one-point strokes: a dot at (0, 0), drawn at t=0 ms, then a dot at (200, 200), drawn at t=300 ms.
DOTS = Drawing([([0], [0]), ([200], [200])], times=[[0], [300]])


def _expected(size: int, x: float, y: float) -> tuple[int, int, float]:
    """By hand, Google's geometry: the drawing is centred by its max corner (200, 200) on the 256 canvas, padded by
    16 + 8 units a side, scaled by size / 304; a dot covers a pixel by radius + 0.5 - distance (radius 8 units)."""
    scale = size / 304
    px, py = (x + 28 + 24) * scale, (y + 28 + 24) * scale
    col, row = int(px), int(py)  # the pixel whose centre is nearest
    d = math.hypot(col + 0.5 - px, row + 0.5 - py)
    return row, col, min(1.0, max(0.0, 8 * scale + 0.5 - d))


@pytest.mark.parametrize("size", [28, 64])
def test_order_and_time_channels_of_a_tiny_drawing_match_the_hand_computed_values(size):
    rows = encode(DOTS.strokes)
    x, n = padded([rows], times=[time_shares(DOTS, len(rows))])
    assert np.allclose(x[0, :, 3], [0.0, 1.0])  # the first dot at 0 of 300 ms, the second at the end
    img = render(torch.as_tensor(x), torch.as_tensor(n), "time", size)[0].numpy()
    assert img.shape == (3, size, size)
    (r1, c1, a1), (r2, c2, a2) = _expected(size, 0, 0), _expected(size, 200, 200)
    assert a1 > 0.5 and a2 > 0.5
    assert img[:, r1, c1] == pytest.approx([a1, a1 / 2, 0.0], abs=1e-5)  # stroke 1 of 2, at time share 0
    assert img[:, r2, c2] == pytest.approx([a2, a2, a2], abs=1e-5)  # stroke 2 of 2, at the end of the drawing
    assert float(img[0].sum()) > 0 and np.count_nonzero(img[0]) < 40  # ink only around the two dots
    order = render(torch.as_tensor(x[..., :3]), torch.as_tensor(n), "order", size)[0].numpy()
    assert order.shape == (2, size, size) and np.allclose(order, img[:2])


def test_time_shares_spread_each_strokes_times_and_hold_times_that_go_backwards():
    d = Drawing([([0, 10, 20], [0, 0, 0]), ([0, 0], [10, 20])], times=[[0, 50, 100], [90, 200]])
    assert np.allclose(time_shares(d, 10), [0, 0.25, 0.5, 0.5, 1.0])  # 90 < 100 is held at 100
    untimed = Drawing([([0, 10, 20], [0, 0, 0]), ([0, 0], [10, 20])])
    assert np.allclose(time_shares(untimed, 3), [0.2, 0.4, 0.6])  # the share of points drawn


def test_the_ink_channel_is_the_bitmap_of_googles_recipe():
    from qdcore.data.demo import generate_strokes
    from qdcore.data.raster import rasterize_many

    drawings = [[(list(map(int, x)), list(map(int, y))) for x, y in d]
                for d in generate_strokes("star", np.arange(6), 0)]
    x, n = padded([encode(d) for d in drawings])
    ink = render(torch.as_tensor(x), torch.as_tensor(n), "ink", 28)[:, 0].numpy()
    ref = rasterize_many(drawings, 28).astype(np.float32) / 255
    for a, b in zip(ink, ref):
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.97  # max over segments vs cairo's OVER per stroke


def _train(folder, raster: str):
    return train_planted(folder, "raster-cnn2-000", "--raster", raster, epochs=4, lr=0.005)


def test_a_zoo_cnn_learns_the_drawing_direction_from_the_time_channel_only(planted, home):  # noqa: F811
    r = _train(planted, "time")
    assert r.exit_code == 0, r.output
    r = _train(planted, "ink")
    assert r.exit_code == 0, r.output
    with Store(home) as store:
        ink, time = sorted(store.list_runs(), key=lambda run: run.config["raster"])
        assert time.kind == "strokes" and time.config["model"] == "raster-cnn2-000"
        assert time.summary["test_top1"] >= 0.9, time.summary  # 30 test drawings; chance is 50%
        assert ink.summary["test_top1"] <= 0.7, ink.summary  # the bitmaps are identical: ink alone cannot tell
    r = CliRunner().invoke(app, ["predict", str(time.id), str(planted / "leftwards.ndjson"), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["top1_where_truth_known"] >= 0.9, r.output


@pytest.mark.parametrize("args, says", [
    (["--model", "raster-widthk"], "give --raster ink|order|time"),
    (["--model", "raster-widthk", "--raster", "time", "--size", "32"], "size=32 must be 28 or 64"),
    (["--model", "stroke-gru", "--raster", "order"], "raster=order is for raster-<CNN> models"),
    (["--model", "stroke-lstm", "--size", "64"], "size=64 is for raster-<CNN> models"),
    (["--model", "widthk", "--raster", "time"], "--model widthk (28x28 bitmaps) does not read: give --model "
                                                "raster-widthk --raster ink|order|time"),
    (["--model", "cnn2-000", "--size", "64"], "--size is for the strokes drawn as raster channels"),
    (["--model", "lightgbm", "--raster", "time"], "--raster is not an option of classical runs"),  # no raster-lightgbm
])
def test_raster_options_refused_in_one_line(args, says, home):
    r = CliRunner().invoke(app, ["train", *args])
    assert r.exit_code == 2 and r.output.startswith("qd: error:") and says in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    with Store(home) as store:
        assert store.list_runs() == []


def test_a_64_pixel_raster_cnn_of_every_zoo_family_builds_and_runs():
    from qdcore.models.raster_cnn import RasterCNN

    x, n = padded([encode(DOTS.strokes)])
    for cnn in ("cnn1-000", "widthk", "cnn-001-best", "alexnet1"):
        for size, raster in ((28, "ink"), (64, "time")):
            model = RasterCNN(5, cnn, raster, size).eval()
            assert model(torch.as_tensor(x), torch.as_tensor(n)).shape == (1, 5), (cnn, size)


def test_bitmap_files_are_refused_for_a_raster_cnn_by_name(home, tmp_path):
    for name in ("cat", "dog"):
        np.save(tmp_path / f"{name}.npy", np.zeros((20, 784), np.uint8))
    r = CliRunner().invoke(app, ["train", "--model", "raster-widthk", "--raster", "order", "--data", str(tmp_path)])
    assert r.exit_code == 2 and str(tmp_path) in r.output and "needs strokes" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    with Store(home) as store:
        assert store.list_runs() == []


def test_rasters_drawn_once_give_the_logits_of_rasters_drawn_in_the_step():
    from qdcore.data.demo import generate_strokes
    from qdcore.models.raster_cnn import RasterCNN

    drawings = [[(list(map(int, x)), list(map(int, y))) for x, y in d] for d in generate_strokes("star", np.arange(5), 1)]
    x, n = (torch.as_tensor(a) for a in padded([encode(d) for d in drawings]))
    model = RasterCNN(3, "widthk", "order", 64).eval()
    drawn = model.draw(x, n, chunk=2)  # chunks trimmed to their own longest drawing
    assert drawn.dtype == torch.uint8 and drawn.shape == (5, 2, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(drawn, n), model(x, n))
