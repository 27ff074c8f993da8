"""The training engine: learning, events, callbacks, exact resume, checkpoints, config checks, ranks."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
import torch

from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError, DataError, StoreError
from qdcore.events import Checkpoint, EpochEnd, ListSink, Progress, RunFinished, RunStarted
from qdcore.predictions import Predictions
from qdcore.train import TrainConfig, build_config
from qdcore.train import checkpoint as ckpt
from qdcore.train.engine import lr_factor, train
from qdcore.train.gpudata import Augment, DeviceData, augment_batch

# Small enough for seconds on one CPU thread, big enough to learn (12 demo classes: chance is 8.3%).
FAST = dict(data="demo", per_class=120, epochs=3, batch_size=64, width=8, batch_norm=True, lr=3e-3,
            log_every=5, amp=False)


@pytest.fixture(scope="module")
def splits():
    return load_splits(TrainConfig(**FAST))


@pytest.fixture(scope="module")
def trained(splits, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    sink = ListSink()
    result = train(TrainConfig(**FAST), sink, run_dir=run_dir, splits=splits)
    return result, sink, run_dir


def test_tiny_training_learns_and_writes_artifacts(trained, splits):
    result, _, run_dir = trained
    assert result.status == "done"
    assert result.summary["test_top1"] > 0.4  # chance is 1/12
    assert result.summary["test_top5"] >= result.summary["test_top1"]
    assert result.summary["epochs"] == 3 and result.summary["params"] > 0
    assert result.summary["train_seconds"] > 0 and result.summary["images_per_second"] > 0
    for name in ("model.safetensors", "model.json", "predictions.npz", "history.json", "resume.safetensors"):
        assert (run_dir / name).is_file(), name
    preds = Predictions.load(run_dir / "predictions.npz")
    assert len(preds) == len(splits.test) and preds.classes == splits.test.classes
    assert math.isclose(float((preds.predicted == preds.labels).mean()), result.summary["test_top1"], abs_tol=1e-9)
    assert preds.provenance[0] == splits.test.provenance(0)
    history = json.loads((run_dir / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3] and len(history["val/top1"]) == 3


def test_event_sequence(trained):
    result, sink, _ = trained
    kinds = [type(e) for e in sink.events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    started = sink.of(RunStarted)[0]
    assert started.total_epochs == 3 and started.num_train == result.summary["num_train"]
    ends = sink.of(EpochEnd)
    assert [e.epoch for e in ends] == [1, 2, 3]
    assert all(0 <= e.metrics["val/top1"] <= e.metrics["val/top5"] <= 1 for e in ends)
    steps = [p.step for p in sink.of(Progress)]
    epoch_ends = {e.step for e in ends}
    assert steps and all(s % 5 == 0 or s in epoch_ends for s in steps) and steps == sorted(set(steps))
    assert all(isinstance(p.loss, float) and p.throughput > 0 for p in sink.of(Progress))
    # Every step's loss reaches the host inside its window's Progress (means of runs of steps), the
    # windows cover the run, and each window's points average to its loss.
    points = [pt for p in sink.of(Progress) for pt in p.step_losses]
    assert [s for s, _ in points] == sorted({s for s, _ in points}) and points[-1][0] == ends[-1].step
    assert len(points) == ends[-1].step  # log_every 5 <= POINTS_PER_LOG: one point per step
    for p in sink.of(Progress):
        assert p.step_losses[-1][0] == p.step
        assert sum(v for _, v in p.step_losses) / len(p.step_losses) == pytest.approx(p.loss, rel=0.02)
    assert any(c.best for c in sink.of(Checkpoint))
    # Events carry plain Python numbers, never tensors.
    assert all(not isinstance(v, torch.Tensor) for e in ends for v in vars(e).values())
    assert sink.of(RunFinished)[0].status == "done"


def test_checkpoint_round_trip_rebuilds_the_model(trained, splits):
    result, _, run_dir = trained
    model, meta = ckpt.load_model(run_dir)
    assert meta["classes"] == result.classes and meta["arch"]["name"] == "widthk"
    x = torch.from_numpy(splits.test.images[:50]).unsqueeze(1).float() / 255
    result.model.eval()
    with torch.inference_mode():
        assert torch.equal(model(x), result.model.cpu()(x))


def test_pickle_bearing_checkpoints_are_refused(trained, tmp_path):
    _, _, run_dir = trained
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for name in ("model.safetensors", "resume.safetensors"):
        bad = tmp_path / name
        bad.write_bytes(pickle.dumps(Evil()))
    (tmp_path / "model.json").write_text((run_dir / "model.json").read_text())
    with pytest.raises(StoreError, match="not a valid safetensors"):
        ckpt.load_model(tmp_path)
    with pytest.raises(StoreError, match="not a valid safetensors"):
        ckpt.load_resume(tmp_path)
    # torch.save's zip-of-pickles is refused the same way.
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "model.safetensors")
    with pytest.raises(StoreError):
        ckpt.load_model(tmp_path)
    assert not marker.exists()


def test_corrupt_checkpoints_are_store_errors(trained, tmp_path):
    _, _, run_dir = trained
    data = (run_dir / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[: len(data) // 2])
    (tmp_path / "model.json").write_text((run_dir / "model.json").read_text())
    with pytest.raises(StoreError) as e:
        ckpt.load_model(tmp_path)
    assert "\n" not in str(e.value)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(StoreError, match="not readable JSON"):
        ckpt.load_model(tmp_path)
    with pytest.raises(StoreError, match="no trained model"):
        ckpt.load_model(tmp_path / "missing")


@pytest.mark.parametrize("placement", [{}, {"device_memory": 0.0004}], ids=["resident", "streamed"])
def test_interrupt_then_resume_ends_where_an_uninterrupted_run_ends(splits, tmp_path, placement):
    # Dropout and augmentation make the RNG streams matter; the stop lands mid-epoch (streamed: in the middle of
    # the second chunk of 256 drawings, so the resumed run starts inside a chunk).
    cfg = TrainConfig(**{**FAST, "epochs": 2, "dropout": 0.1, "rotate": 10.0, "shift": 1.0, "hflip": True,
                         **placement})
    full = ListSink()
    r_full = train(cfg, full, splits=splits)

    calls = {"n": 0}

    def stop_at_step_7():
        calls["n"] += 1
        return calls["n"] == 7

    first, second = ListSink(), ListSink()
    r1 = train(cfg, first, stop_at_step_7, run_dir=tmp_path, splits=splits)
    assert r1.status == "interrupted" and first.of(RunFinished)[0].status == "interrupted"
    assert (tmp_path / "resume.safetensors").is_file()
    r2 = train(cfg, second, run_dir=tmp_path, resume=tmp_path, splits=splits)
    assert r2.status == "done" and r2.summary["epochs"] == r_full.summary["epochs"] == 2
    assert all(r2.history[k] == r_full.history[k] for k in r_full.history if k != "seconds")
    # Metrics appended, not duplicated: each step and each epoch appears once across both parts.
    steps = [p.step for p in first.of(Progress) + second.of(Progress)]
    assert steps == [p.step for p in full.of(Progress)]
    assert [p.loss for p in first.of(Progress) + second.of(Progress)] == [p.loss for p in full.of(Progress)]
    assert [e.epoch for e in first.of(EpochEnd) + second.of(EpochEnd)] == [1, 2]
    for a, b in zip(r_full.model.state_dict().values(), r2.model.state_dict().values()):
        assert torch.equal(a, b)
    assert r2.summary["test_top1"] == r_full.summary["test_top1"]
    assert r2.summary["streamed_chunk"] == (256 if placement else None)


def test_early_stopping_and_plateau(splits):
    # min_delta larger than any loss: only the first epoch counts as an improvement.
    cfg = TrainConfig(**{**FAST, "epochs": 10, "patience": 3, "plateau_patience": 1, "plateau_factor": 0.5,
                         "min_delta": 100.0})
    r = train(cfg, splits=splits)
    assert r.summary["stopped_early"] and r.summary["epochs"] == 4 and r.summary["best_epoch"] == 1
    assert r.history["lr"] == pytest.approx([3e-3, 3e-3, 1.5e-3, 7.5e-4])


def test_lr_schedule():
    cfg = TrainConfig(schedule="cosine", warmup_epochs=1.0)
    assert lr_factor(cfg, 5, 100, 10) == pytest.approx(0.5)
    assert lr_factor(cfg, 10, 100, 10) == pytest.approx(1.0)
    assert lr_factor(cfg, 100, 100, 10) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(TrainConfig(), 50, 100, 10) == 1.0


@pytest.mark.parametrize("changes, words", [
    ({"lr": -0.1}, "lr=-0.1"), ({"batch_size": 0}, "batch_size=0"), ({"epochs": 0}, "epochs=0"),
    ({"val": 0.5, "test": 0.5}, "sum must be below 1"), ({"test": 1.5}, "test=1.5"),
    ({"optimizer": "adamm"}, "did you mean 'adam'"), ({"nesterov": True}, "nesterov needs"),
    ({"width": 0}, "width=0"), ({"label_smoothing": 1.0}, "label_smoothing"), ({"device": "tpu"}, "device='tpu'"),
    ({"warp": 1}, "unknown training option 'warp'"),
])
def test_config_errors_are_one_line(changes, words):
    with pytest.raises(ConfigError) as e:
        TrainConfig().replace(**changes)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_config_layers_and_toml(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('[train]\nepochs = 3\nlr = 0.01\nbetas = [0.8, 0.99]\nmodel-opts = { depth = 3 }\n')
    cfg = build_config("plain", f, {"lr": 0.02, "name": None})
    assert (cfg.width, cfg.batch_size, cfg.epochs, cfg.lr, cfg.betas) == (12, 256, 3, 0.02, (0.8, 0.99))
    assert cfg.model_options() == {"width": 12, "depth": 3}
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    strong = build_config("strong", None, {"model": "fc"})  # a new model drops the preset's model options
    assert strong.model_options() == {} and strong.optimizer == "adamw"
    (tmp_path / "bad.toml").write_text("epochs = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        build_config(None, tmp_path / "bad.toml")
    with pytest.raises(ConfigError, match="unknown preset"):
        build_config("strnog")


def test_config_json_file_is_a_full_config(tmp_path):
    # The TUI starts `qd train --config run.json` with TrainConfig.to_dict(): it must come back unchanged.
    cfg = TrainConfig().replace(model="cnn2-000", per_class=40, epochs=3, betas=(0.8, 0.99), name="from json",
                                model_opts={"depth": 2}, amp=None)
    f = tmp_path / "run.json"
    f.write_text(json.dumps(cfg.to_dict()))
    assert build_config(None, f) == cfg
    assert build_config(None, f, {"epochs": 5}).epochs == 5
    (tmp_path / "bad.json").write_text("{epochs: 3")
    with pytest.raises(ConfigError, match="not valid JSON"):
        build_config(None, tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold an object"):
        build_config(None, tmp_path / "list.json")
    (tmp_path / "typo.json").write_text('{"epoch": 3}')
    with pytest.raises(ConfigError, match="unknown training option 'epoch'"):
        build_config(None, tmp_path / "typo.json")


def test_unknown_model_option_is_a_config_error(splits):
    with pytest.raises(ConfigError):
        train(TrainConfig(**{**FAST, "model": "fc"}), splits=splits)  # fc has no 'width'


def test_class_mismatch_is_a_data_error(splits):
    from qdcore.train.evaluate import labels_for

    with pytest.raises(DataError, match="not trained on"):
        labels_for(splits.test, ["cat", "dog"])
    sub = splits.test.subset(np.flatnonzero(splits.test.labels < 2))
    sub.classes = splits.test.classes[:2]
    mapped = labels_for(sub, list(reversed(splits.test.classes)))  # a subset, in another order, maps by name
    assert set(mapped) <= {len(splits.test.classes) - 1, len(splits.test.classes) - 2}


def test_batch_order_shards_by_rank():
    data = DeviceData(np.zeros((103, 28, 28), np.uint8), np.zeros(103), torch.device("cpu"))
    parts = [data.order(seed=1, epoch=2, rank=r, world_size=3) for r in range(3)]
    assert all(len(p) == 34 for p in parts)
    flat = torch.cat(parts).tolist()
    assert len(set(flat)) == len(flat)
    assert torch.equal(data.order(1, 2), data.order(1, 2)) and not torch.equal(data.order(1, 2), data.order(1, 3))


def test_augmentation_on_the_device():
    x = torch.rand(64, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    flipped = augment_batch(x, Augment(hflip=True), g)
    same = [torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1)) for i in range(64)]
    assert all(same) and not torch.equal(flipped, x)
    a = augment_batch(x, Augment(rotate=15, shift=2), torch.Generator().manual_seed(3))
    b = augment_batch(x, Augment(rotate=15, shift=2), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == x.shape and a.min() >= 0 and a.max() <= 1.0001
    # A rotation of 0 and shift of 0 with flips only through the affine path is still a flip.
    img = torch.zeros(1, 1, 28, 28)
    img[..., 5, 3] = 1.0
    out = augment_batch(img.repeat(32, 1, 1, 1), Augment(hflip=True, shift=1e-9), torch.Generator().manual_seed(1))
    assert all(torch.allclose(o, img[0], atol=1e-4) or torch.allclose(o, img[0].flip(-1), atol=1e-4) for o in out)


def test_fast_view_computes_exactly_what_the_model_does():
    from qdcore.models import build_model
    from qdcore.train.engine import fast_view

    torch.manual_seed(0)
    model = build_model("widthk", 5, width=4, batch_norm=True)
    view = fast_view(model)
    assert view is not model and [n for n, _ in view.named_children()][:4] == ["conv1", "bn1", "pool1", "relu1"]
    x = torch.rand(8, 1, 28, 28)
    y = torch.randint(0, 5, (8,))
    model.eval()
    assert torch.equal(view(x), model(x))
    grads = []
    for net in (model, view):
        model.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        grads.append([p.grad.clone() for p in model.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads))
    fc = build_model("fc", 5)
    assert fast_view(fc) is fc


def test_crash_mid_epoch_then_resume_through_the_store(tmp_path):
    """A run that dies mid-epoch resumes from its last epoch checkpoint; replayed steps are not logged twice."""
    from qdcore.store import Store
    from qdcore.train.runner import resume_run, start_run

    store = Store(tmp_path)
    cfg = TrainConfig(**{**FAST, "epochs": 2, "log_every": 2})
    full = start_run(cfg, store)
    calls = {"n": 0}

    def crash_in_epoch_two():
        calls["n"] += 1
        if calls["n"] == full.summary["num_train"] // 64 + 4:
            raise RuntimeError("power cut")
        return False

    with pytest.raises(RuntimeError, match="power cut"):
        start_run(cfg, store, should_stop=crash_in_epoch_two)
    crashed = store.list_runs()[0]
    assert crashed.status == "failed" and crashed.id != full.run_id
    result = resume_run(crashed.id, store)
    assert result.status == "done" and result.summary["epochs"] == 2
    assert result.history["val/loss"] == full.history["val/loss"]
    assert result.summary["test_top1"] == full.summary["test_top1"]
    step_rows = [(r.step, r.name) for r in store.metrics(crashed.id, split="step")]
    assert len(step_rows) == len(set(step_rows)) == len(store.metrics(full.run_id, split="step"))
    assert store.history(crashed.id)["val/loss"] == store.history(full.run_id)["val/loss"]
    assert [r.epoch for r in store.metrics(crashed.id, split="val") if r.name == "loss"] == [1, 2]
    with pytest.raises(ConfigError, match="already finished"):
        resume_run(crashed.id, store)


def test_top1_breaks_ties_as_the_saved_predictions_do():
    """bf16 logits tie often; top-1 must pick the first tied class, as Predictions.predicted (argmax) does."""
    from qdcore.train.device import Runtime
    from qdcore.train.evaluate import evaluate

    class Tied(torch.nn.Module):
        def forward(self, x):
            logits = torch.zeros(x.shape[0], 12)
            logits[:, 2] = logits[:, 7] = 1.0  # a tie between classes 2 and 7
            return logits

    n = 8
    data = DeviceData(np.zeros((n, 28, 28), np.uint8), np.full(n, 2), torch.device("cpu"))
    res = evaluate(Tied(), data, Runtime(torch.device("cpu"), None, False), keep_probs=True)
    assert res.top1 == float((res.probs.argmax(1) == 2).mean()) == 1.0


@pytest.mark.skipif(not (__import__("shutil").which("c++") or __import__("shutil").which("g++")),
                    reason="torch.compile on the CPU needs a C++ compiler, and none is on PATH")
def test_compiled_with_cuda_graphs_trains_as_eager_does(tmp_path):
    # On the CPU --cuda-graphs compiles without graphs (mode reduce-overhead); the graphs run on CUDA only.
    cfg = TrainConfig(data="demo", per_class=30, epochs=1, width=4, batch_size=32, amp=False, device="cpu",
                      log_every=2)
    eager = train(cfg)
    sink = ListSink()
    compiled = train(cfg.replace(cuda_graphs=True), sink, run_dir=tmp_path)
    started = next(e for e in sink.events if isinstance(e, RunStarted))
    assert any("compiled without graphs" in n for n in started.notes)
    assert compiled.status == "done" and json.loads((tmp_path / "model.json").read_text())["config"]["cuda_graphs"]
    for (k, a), b in zip(eager.model.state_dict().items(), compiled.model.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-4, msg=k)
    assert compiled.summary["test_top1"] == pytest.approx(eager.summary["test_top1"], abs=0.05)


@pytest.mark.skipif(__import__("qdcore.train.threads", fromlist=["cores"]).cores() < 2,
                    reason="needs 2 CPU cores to start and resume with different thread counts")
def test_resume_uses_the_thread_count_the_run_started_with(splits, tmp_path, monkeypatch):
    # Another count sums a conv's gradient in another order (1 vs 2 threads: up to 8e-8 apart), so a run resumed
    # when the load had changed would not end where the unbroken run ends. The load decides the count at start.
    from qdcore.train import threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_CEILING", 2)  # as a process started without OMP_NUM_THREADS=1 (scripts/test sets it)
    before = torch.get_num_threads()
    try:
        cfg = TrainConfig(**{**FAST, "epochs": 1, "device": "cpu"})
        monkeypatch.setattr(threads, "load", lambda: 50.0)  # a busy box: 1 thread
        r_full = train(cfg, splits=splits)
        assert r_full.summary["device"].count("1 thread")
        calls = {"n": 0}

        def stop_at_step_4():
            calls["n"] += 1
            return calls["n"] == 4

        assert train(cfg, should_stop=stop_at_step_4, run_dir=tmp_path, splits=splits).status == "interrupted"
        monkeypatch.setattr(threads, "load", lambda: 0.0)  # the box went quiet: 2 threads would be chosen
        second = ListSink()
        r2 = train(cfg, second, run_dir=tmp_path, resume=tmp_path, splits=splits)
        assert any("1 CPU thread as when the run started" in n for n in second.of(RunStarted)[0].notes)
        for a, b in zip(r_full.model.state_dict().values(), r2.model.state_dict().values()):
            assert torch.equal(a, b)
    finally:
        torch.set_num_threads(before)


def test_a_checkpoint_of_another_model_is_a_one_line_error(splits, tmp_path):
    """The loop driver's one check for every kind: weights that do not load are a StoreError naming the file."""
    cfg = TrainConfig(**{**FAST, "epochs": 2})
    calls = {"n": 0}

    def stop_at_step_3():
        calls["n"] += 1
        return calls["n"] == 3

    assert train(cfg, should_stop=stop_at_step_3, run_dir=tmp_path, splits=splits).status == "interrupted"
    wider = TrainConfig(**{**FAST, "epochs": 2, "width": 12})
    with pytest.raises(StoreError) as err:
        train(wider, run_dir=tmp_path, resume=tmp_path, splits=splits)
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / ckpt.RESUME_FILE} does not fit this model/optimizer (") and "\n" not in msg
