"""Classical baselines (LightGBM, logistic regression): learning, events, early stopping, exact resume, no pickle."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from qdcore.analysis.metrics import evaluation_metrics
from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError, StoreError
from qdcore.events import EpochEnd, ListSink, Progress, RunFinished, RunStarted
from qdcore.predictions import Predictions
from qdcore.train.classical import metrics_of, train_classical
from qdcore.train.classical_config import ClassicalConfig
from qdcore.train.classical_model import load_classical

# Seconds on one thread, enough to learn: 12 demo classes (chance 8.3%), 48 training drawings each.
FAST = dict(data="demo", per_class=60, n_rounds=12, num_leaves=7, min_data_in_leaf=5, lr=0.3,
            max_iter=30, iters_per_step=5, threads=1)


@pytest.fixture(scope="module")
def splits():
    return load_splits(ClassicalConfig(**FAST))


@pytest.fixture(scope="module", params=["lightgbm", "logreg"])
def trained(request, splits, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp(request.param)
    sink = ListSink()
    result = train_classical(ClassicalConfig(model=request.param, **FAST), sink, run_dir=run_dir, splits=splits)
    return request.param, result, sink, run_dir


def test_runs_learn_and_write_the_classifier_artifacts(trained, splits):
    name, result, _, run_dir = trained
    assert result.status == "done"
    assert result.summary["test_top1"] > 0.5, result.summary  # chance is 1/12
    preds = Predictions.load(run_dir / "predictions.npz")
    assert preds.classes == list(splits.train.classes) and len(preds) == len(splits.test)
    assert np.array_equal(preds.labels, splits.test.labels)
    assert preds.probs.shape == (len(splits.test), 12) and np.allclose(preds.probs.sum(1), 1, atol=1e-4)
    assert float((preds.predicted == preds.labels).mean()) == pytest.approx(result.summary["test_top1"])
    meta = json.loads((run_dir / "model.json").read_text())
    assert meta["kind"] == "classical" and meta["arch"]["name"] == name and meta["classes"] == preds.classes
    history = json.loads((run_dir / "history.json").read_text())
    assert len(history["val/loss"]) == result.summary["epochs"]


def test_events_give_a_validation_loss_curve(trained):
    name, result, sink, _ = trained
    assert isinstance(sink.events[0], RunStarted) and isinstance(sink.events[-1], RunFinished)
    ends = sink.of(EpochEnd)
    assert [e.epoch for e in ends] == list(range(1, len(ends) + 1))
    steps = [e.step for e in ends]
    assert steps == sorted(steps) and [p.step for p in sink.of(Progress)] == steps
    if name == "lightgbm":
        assert steps == list(range(1, 13))  # one point per boosting round
    else:
        assert steps[:2] == [5, 10]  # L-BFGS iterations so far
    losses = [e.metrics["val/loss"] for e in ends]
    assert losses[result.summary["best_epoch"] - 1] == min(losses) < losses[0]
    assert all(0 <= e.metrics["val/top1"] <= e.metrics["val/top5"] <= 1 for e in ends)
    assert all(e.metrics["train/loss"] > 0 for e in ends)


def test_models_reload_without_pickle(trained, splits, monkeypatch):
    name, result, _, run_dir = trained

    def refuse(*a, **k):
        raise AssertionError("pickle was used")

    for attr in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, attr, refuse)
    monkeypatch.setattr(np, "load", refuse)
    model = load_classical(run_dir)
    monkeypatch.undo()
    saved = Predictions.load(run_dir / "predictions.npz")
    assert np.allclose(model.predict_proba(splits.test.images), saved.probs, atol=1e-6)
    if name == "lightgbm":
        text = (run_dir / "model.txt").read_text("utf-8")  # LightGBM's own text format, nothing binary
        assert text.startswith("tree\nversion=") and "Tree=0" in text
        assert not (run_dir / "model.safetensors").exists()
    else:
        raw = (run_dir / "model.safetensors").read_bytes()
        header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
        assert header["coef"]["shape"] == [12, 784] and header["coef"]["dtype"] == "F64"
        assert len(raw) == 8 + int.from_bytes(raw[:8], "little") + 8 * (12 * 784 + 12)  # header + raw floats only


def test_a_pickle_in_place_of_a_model_is_refused(trained, tmp_path):
    name, _, _, run_dir = trained
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "model.json").write_text((run_dir / "model.json").read_text())
    (tmp_path / ("model.txt" if name == "lightgbm" else "model.safetensors")).write_bytes(pickle.dumps(Evil()))
    with pytest.raises(StoreError) as e:
        load_classical(tmp_path)
    assert "\n" not in str(e.value) and not marker.exists()


def test_a_fifo_in_place_of_model_json_is_refused_not_read(trained, tmp_path):
    import os

    name, _, _, run_dir = trained
    (tmp_path / ("model.txt" if name == "lightgbm" else "model.safetensors")).write_bytes(
        (run_dir / ("model.txt" if name == "lightgbm" else "model.safetensors")).read_bytes())
    os.mkfifo(tmp_path / "model.json")  # reading it would block forever: it must be refused unread
    with pytest.raises(StoreError, match=r"model\.json is a FIFO"):
        load_classical(tmp_path)
    if name == "lightgbm":  # the model file itself as a FIFO, too
        os.unlink(tmp_path / "model.json")
        (tmp_path / "model.json").write_text((run_dir / "model.json").read_text())
        os.unlink(tmp_path / "model.txt")
        os.mkfifo(tmp_path / "model.txt")
        with pytest.raises(StoreError, match=r"model\.txt is a FIFO"):
            load_classical(tmp_path)


@pytest.mark.parametrize("name", ["lightgbm", "logreg"])
def test_interrupt_then_resume_ends_where_an_uninterrupted_run_ends(name, splits, tmp_path):
    cfg = ClassicalConfig(model=name, **FAST)
    full = train_classical(cfg, ListSink(), splits=splits)
    calls = {"n": 0}

    def stop_at_point_3():
        calls["n"] += 1
        return calls["n"] == 3

    run_dir = tmp_path / "split"
    run_dir.mkdir()
    first, second = ListSink(), ListSink()
    r1 = train_classical(cfg, first, stop_at_point_3, run_dir=run_dir, splits=splits)
    assert r1.status == "interrupted" and r1.summary["resume_from"]["epoch"] == 3
    assert (run_dir / "resume.safetensors").is_file() and not (run_dir / "predictions.npz").exists()
    r2 = train_classical(cfg, second, run_dir=run_dir, resume=run_dir, splits=splits)
    assert r2.status == "done"
    assert [e.epoch for e in first.of(EpochEnd) + second.of(EpochEnd)] == [e + 1 for e in range(full.summary["epochs"])]
    assert all(r2.history[k] == full.history[k] for k in full.history if k != "seconds")
    assert np.array_equal(r2.predictions.probs, full.predictions.probs)
    assert r2.summary["test_top1"] == full.summary["test_top1"]


def test_resume_refuses_other_data_and_missing_checkpoints(splits, tmp_path):
    cfg = ClassicalConfig(model="logreg", **FAST)
    train_classical(cfg, ListSink(), lambda: True, run_dir=tmp_path, splits=splits)
    other = load_splits(ClassicalConfig(**{**FAST, "per_class": 50}))
    with pytest.raises(StoreError, match="differ from those"):
        train_classical(cfg, ListSink(), run_dir=tmp_path, resume=tmp_path, splits=other)
    with pytest.raises(StoreError, match="continues a logreg model"):
        train_classical(ClassicalConfig(**FAST), ListSink(), run_dir=tmp_path, resume=tmp_path, splits=splits)
    with pytest.raises(StoreError, match="no resume checkpoint"):
        train_classical(cfg, ListSink(), resume=tmp_path / "nothing", splits=splits)


def test_early_stopping_keeps_the_best_round(splits, tmp_path):
    # Big leaves and a huge step overfit 48 drawings a class within a few rounds.
    cfg = ClassicalConfig(**{**FAST, "n_rounds": 60, "lr": 1.0, "num_leaves": 31, "min_data_in_leaf": 2,
                             "patience": 3})
    r = train_classical(cfg, ListSink(), run_dir=tmp_path, splits=splits)
    s = r.summary
    assert s["stopped_early"] and s["epochs"] == s["best_epoch"] + 3 < 60
    assert r.model.estimator.current_iteration() == s["best_epoch"]  # model.txt holds the best rounds only


@pytest.mark.parametrize("name", ["lightgbm", "logreg"])
def test_without_a_validation_split_the_training_loss_is_watched(name):
    cfg = ClassicalConfig(model=name, **{**FAST, "per_class": 20, "val": 0.0, "n_rounds": 3, "max_iter": 10})
    splits = load_splits(cfg)
    r = train_classical(cfg, ListSink(), splits=splits)
    assert r.status == "done" and len(splits.val) == 0
    assert all(np.isnan(v) for v in r.history["val/loss"]) and r.summary["best_val_loss"] is not None


def test_metrics_of():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], np.float32)
    loss, top1, top5 = metrics_of(probs, np.array([0, 1]))
    assert loss == pytest.approx(-(np.log(0.7) + np.log(0.3)) / 2, rel=1e-6) and top1 == 0.5 and top5 == 1.0


@pytest.mark.parametrize("changes, words", [
    ({"model": "lightgmb"}, "did you mean 'lightgbm'"),
    ({"lr": 0}, "lr=0 must be a number > 0"),
    ({"num_leaves": 1}, "num_leaves=1 must be a whole number >= 2"),
    ({"val": 0.5, "test": 0.5}, "leave no training data"),
    ({"max_iter": 2.5}, "whole number"),
    ({"C": "big"}, "must be a number"),
    ({"depth": 3}, "unknown training option 'depth'"),
])
def test_config_errors_are_one_line(changes, words):
    with pytest.raises(ConfigError, match=words) as e:
        ClassicalConfig().replace(**changes)
    assert "\n" not in str(e.value)


def test_a_stored_run_is_evaluated_through_its_own_model(home, splits):
    from qdcore.store import Store, StoreSink
    from qdcore.train.classical import evaluate_classical_run

    cfg = ClassicalConfig(model="logreg", **FAST)
    with Store(home) as store:
        rid = store.create_run("logreg on demo", "classical", cfg.to_dict())
        r = train_classical(cfg, StoreSink(store, rid), run_dir=store.run_dir(rid), splits=splits, run_id=rid)
        assert store.get_run(rid).status == "done"
        (store.run_dir(rid) / "predictions.npz").unlink()
        ev = evaluate_classical_run(store, rid)
        assert ev.path.is_file() and np.array_equal(ev.predictions.probs, r.predictions.probs)
        assert evaluation_metrics(ev)["top1"] == pytest.approx(r.summary["test_top1"])
        other = evaluate_classical_run(store, rid, "demo", categories="circle,square", per_class=10, seed=5)
        assert other.path is None and other.data_classes == ["circle", "square"] and len(other.predictions) == 20
