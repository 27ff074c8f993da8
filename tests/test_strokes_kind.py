"""The stroke-sequence kind: it learns what only strokes show, trains/evaluates/resumes through the loop, predicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from qdcore.analysis.metrics import evaluation_metrics
from qdcore.cli.main import app
from qdcore.data.demo import generate_strokes
from qdcore.store import Store

SMALL = ["--hidden", "16", "--conv", "16", "--layers", "1"]


def train_planted(folder, model: str, *extra: str, epochs: int = 3, lr: float = 0.01):
    """`qd train --json` of `model` on a folder of planted drawings (a 60/20/20-ish split, batch 16)."""
    return CliRunner().invoke(app, ["train", "--model", model, "--data", str(folder), "--epochs", str(epochs),
                                    "--batch-size", "16", "--lr", str(lr), "--val", "0.2", "--test", "0.25", "--json",
                                    *extra])


def _strokes(category: str, n: int) -> list:
    return [[(list(map(int, x)), list(map(int, y))) for x, y in d] for d in generate_strokes(category, np.arange(n), 0)]


def _write(path, word: str, drawings: list) -> None:
    path.write_text("".join(json.dumps({"word": word, "key_id": str(i), "drawing": [[x, y] for x, y in d]}) + "\n"
                            for i, d in enumerate(drawings)))


@pytest.fixture
def planted(tmp_path):
    """Two classes with identical bitmaps: demo zigzags drawn with the pen moving rightwards overall, and the same
    zigzags drawn backwards (each stroke reversed, the strokes in reverse order)."""
    from qdcore.data.raster import rasterize_many

    def net_dx(d: list) -> int:
        return sum(x[-1] - x[0] for x, _ in d)

    def backwards(d: list) -> list:
        return [(x[::-1], y[::-1]) for x, y in d[::-1]]

    right = [d if net_dx(d) > 0 else backwards(d) for d in _strokes("zigzag", 70) if net_dx(d) != 0][:60]
    left = [backwards(d) for d in right]
    assert len(right) == 60 and np.array_equal(rasterize_many(right, 28), rasterize_many(left, 28))  # same bitmaps
    folder = tmp_path / "planted"
    folder.mkdir()
    _write(folder / "rightwards.ndjson", "rightwards", right)
    _write(folder / "leftwards.ndjson", "leftwards", left)
    return folder


def test_a_stroke_model_learns_the_drawing_direction_that_bitmaps_cannot_show(planted, home):
    r = train_planted(planted, "stroke-gru", *SMALL)
    assert r.exit_code == 0, r.output
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.kind == "strokes" and run.status == "done"
        assert run.summary["test_top1"] >= 0.9, run.summary  # 30 test drawings; chance is 50%
        assert [e for e, _ in store.history(run.id)["val/top1"]] == list(range(1, 4))
    # qd predict reads the strokes of an .ndjson file; a bitmap file is refused in one line.
    r = CliRunner().invoke(app, ["predict", str(run.id), str(planted / "leftwards.ndjson"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["top1_where_truth_known"] >= 0.9
    np.save(home / "bitmaps.npy", np.zeros((3, 784), np.uint8))
    r = CliRunner().invoke(app, ["predict", str(run.id), str(home / "bitmaps.npy")])
    assert r.exit_code == 2 and "a stroke model needs strokes" in r.output and "Traceback" not in r.output


def test_bitmap_only_data_is_refused_before_a_run_exists(home, tmp_path):
    folder = tmp_path / "numpy"
    folder.mkdir()
    np.save(folder / "cat.npy", np.zeros((20, 784), np.uint8))
    np.save(folder / "dog.npy", np.zeros((20, 784), np.uint8))
    r = CliRunner().invoke(app, ["train", "--model", "stroke-lstm", "--data", str(folder)])
    assert r.exit_code == 2 and "a stroke model needs strokes" in r.output, r.output
    r = CliRunner().invoke(app, ["train", "--model", "stroke-lstm", "--kernel", "4"])
    assert r.exit_code == 2 and "kernel=4 must be odd" in r.output, r.output
    with Store(home) as store:
        assert store.list_runs() == []  # nothing half-made


def test_it_trains_evaluates_and_resumes_exactly_through_the_loop(tmp_path):
    from qdcore.data.drawings import Drawings
    from qdcore.runs.kinds import predictor_of
    from qdcore.runs.run import evaluate, resume, start
    from qdcore.train.strokes_config import StrokeConfig

    cfg = StrokeConfig(data="demo", categories="circle,square,triangle", per_class=30, epochs=2, batch_size=8,
                       hidden=16, conv=16, layers=1, prefix=0.5, device="cpu", log_every=4)  # 72 drawings: 9 steps
    with Store(tmp_path / "one") as store:
        full = start(cfg, store)
        full_loss = store.history(full.run_id)["val/loss"]
    calls = {"n": 0}

    def stop_in_epoch_2() -> bool:
        calls["n"] += 1
        return calls["n"] == 9 + 1 + 5  # 9 steps and the epoch-end poll of epoch 1, then 5 steps

    with Store(tmp_path / "parts") as store:
        first = start(cfg, store, should_stop=stop_in_epoch_2)
        assert first.status == "interrupted" and first.summary["resume_from"] == {"epoch": 2, "batch": 5}
        second = resume(first.run_id, store)
        assert second.status == "done"
        for a, b in zip(second.result.model.state_dict().values(), full.result.model.state_dict().values()):
            assert torch.equal(a, b)
        assert store.history(first.run_id)["val/loss"] == full_loss  # each epoch's row once, the same values
        assert second.summary["test_top1"] == full.summary["test_top1"]

        ev = evaluate(store, first.run_id)
        m = evaluation_metrics(ev)
        assert abs(m["top1"] - second.summary["test_top1"]) < 1e-9 and len(m["per_class"]) == 3
        assert ev.path is not None and ev.path.exists()  # predictions.npz: confusion, per class, worst drawings
        predict, classes = predictor_of(store, first.run_id, "cpu")
        from qdcore.data.drawingset import select
        from qdcore.data.opener import open_source

        ds = select(open_source("demo"), "circle,square,triangle", 5, 1, None)
        probs = predict(Drawings.from_set(ds))
        assert probs.shape == (15, 3) and np.allclose(probs.sum(1), 1, atol=1e-5) and classes == ds.classes


def test_the_partial_drawing_option_cuts_a_share_of_the_batch_to_prefixes():
    from qdcore.train.strokes import prefixes

    lengths = torch.arange(2000) % 50 + 1
    cut = prefixes(lengths, 0.3, 7)
    assert (cut >= 1).all() and (cut <= lengths).all()
    assert 0.2 < float((cut < lengths).float().mean()) < 0.3  # a cut may keep every point (1 in its length)
    assert torch.equal(cut, prefixes(lengths, 0.3, 7)) and torch.equal(prefixes(lengths, 0.0, 7), lengths)


def test_the_transformer_option_learns_the_drawing_direction(planted, home):
    r = train_planted(planted, "stroke-transformer", *SMALL, epochs=4, lr=0.003)
    assert r.exit_code == 0, r.output
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.summary["model"] == "stroke-transformer" and run.summary["test_top1"] >= 0.9, run.summary
    r = CliRunner().invoke(app, ["predict", str(run.id), str(planted / "leftwards.ndjson"), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["top1_where_truth_known"] >= 0.9, r.output
    r = CliRunner().invoke(app, ["train", "--model", "stroke-transformer", "--hidden", "6"])
    assert r.exit_code == 2 and "hidden=6 must be a multiple of 4" in r.output, r.output


@pytest.mark.parametrize("cell, pool", [("lstm", 1), ("transformer", 1), ("gru", 2), ("transformer", 3)])
def test_a_drawings_logits_do_not_depend_on_its_batch(cell, pool):
    from qdcore.data.sequence import encode, padded
    from qdcore.models.stroke_rnn import build_stroke_model

    torch.manual_seed(0)
    model = build_stroke_model({"cell": cell, "conv": 8, "hidden": 8, "layers": 2, "pool": pool,
                                "classes": 3}).eval()
    short, long = (encode(d) for d in _strokes("zigzag", 2))
    long = np.concatenate([long, long, long])
    for drawing in (short, short[:1], short[:5]):  # one point, and a length pool² does not divide
        with torch.no_grad():
            alone = model(*map(torch.as_tensor, padded([drawing])))
            x, n = padded([long, drawing])
            assert torch.allclose(model(torch.as_tensor(x), torch.as_tensor(n))[1], alone[0], atol=1e-5)


def test_pooling_shortens_the_sequence_and_stored_models_without_it_rebuild_as_they_were():
    from qdcore.models.stroke_rnn import StrokeConvs, build_stroke_model
    from qdcore.train.strokes_config import StrokeConfig

    h, n = StrokeConvs(4, 5, pool=2)(torch.ones(2, 45, 3), torch.tensor([45, 9]))
    assert h.shape == (2, 12, 4) and n.tolist() == [12, 3] and not h[1, 3:].any()
    old = {"cell": "gru", "conv": 8, "kernel": 5, "hidden": 8, "layers": 2, "dropout": 0.0, "classes": 3}
    assert build_stroke_model(old).convs.pool == 1  # a stroke_model.json written before --pool
    stored = StrokeConfig(model="stroke-gru", layers=2).to_dict()
    del stored["pool"]  # a run's config stored before --pool: it resumes with the model it trained
    assert StrokeConfig.from_dict(stored).pool == 1 and StrokeConfig.from_dict({"model": "stroke-gru"}).pool == 2


def test_bucketed_batches_hold_similar_lengths_and_every_drawing_once():
    from qdcore.train.strokes import bucketed

    lengths = torch.as_tensor(np.random.default_rng(0).integers(1, 200, 1000))
    perm = torch.randperm(1000, generator=torch.Generator().manual_seed(1))
    out = bucketed(perm, lengths, 32, 8, torch.Generator().manual_seed(2))
    assert sorted(out.tolist()) == list(range(1000)) and len(out) == 1000
    spread = [int(b.max() - b.min()) for b in lengths[out].split(32)]
    random_spread = [int(b.max() - b.min()) for b in lengths[perm].split(32)]
    assert np.mean(spread) < np.mean(random_spread) / 4  # windows of 8 batches: each batch a narrow band
    short = out[-(1000 % 32):].tolist()  # the short batch stays last (rank splits stay aligned), from the last window
    assert set(short) <= set(perm[(1000 // 256) * 256:].tolist())
    assert torch.equal(bucketed(perm, lengths, 32, 0, None), perm)
