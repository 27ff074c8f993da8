"""GAN runs on the demo set: samples, metrics, resume, divergence, quality metrics, GIF and the qd gan commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gan_runs import whole_and_resumed
from typer.testing import CliRunner

from qdcore.events import EpochEnd, ListSink, RunFailed, Samples
from qdcore.store import Store
from qdcore.train.gan_config import GanConfig

CLASSES = "circle,star"
TINY = dict(data="demo", categories=CLASSES, per_class=48, epochs=2, batch_size=16, g_width=4, d_width=4,
            latent_dim=8, quality_n=16, grid_cols=3, log_every=1, amp=False)


def invoke(*args: str):
    from qdcore.cli.main import app  # imported late: the commands are built from the kinds registered by then

    return CliRunner().invoke(app, list(args))


@pytest.fixture
def judge_home(home):
    """A store whose run 1 is a small finished classifier over circle, star and square (the judge)."""
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import start_run

    with Store(home) as store:
        start_run(TrainConfig(data="demo", categories="circle,star,square", per_class=40, epochs=1, width=4,
                              batch_size=32, amp=False), store)
    return home


def _metrics(store: Store, run_id: int) -> set[str]:
    return {f"{r.split}/{r.name}" for r in store.metrics(run_id) if r.split != "step"}


@pytest.mark.parametrize("model,per_class", [("dcgan", False), ("acgan", False), ("dcgan", True)])
def test_tiny_runs_write_samples_and_metrics(judge_home, model, per_class):
    from qdcore.runs.run import start as start_gan_run
    from qdcore.train import gan_files

    sink = ListSink()
    with Store(judge_home) as store:
        cfg = GanConfig(**TINY, model=model, per_class_gans=per_class, sample_every=2)
        result = start_gan_run(cfg, store, sink)
        rec = store.get_run(result.run_id)
        assert (rec.kind, rec.status, rec.config["judge"]) == ("gan", "done", 1)  # the best covering judge
        keys = _metrics(store, result.run_id)
        run_dir = store.run_dir(result.run_id)
    for key in ("train/g_loss", "train/d_loss", "train/d_real", "train/d_fake", "quality/recognised",
                "quality/confidence", "quality/fid", "quality/diversity", "quality/nearest"):
        assert key in keys, key
    assert ("train/cls_real" in keys) == (model == "acgan")
    assert gan_files.grid_epochs(run_dir) == [1, 2]
    grid = gan_files.read_grid(run_dir, 2)
    rows = 2 if (model == "acgan" or per_class) else 4
    assert grid.shape == (rows, 3, 28, 28) and grid.dtype == np.uint8
    samples = sink.of(Samples)
    assert samples[-1].labels[:2] == (["circle", "star"] if rows == 2 else ["circle + star"] * 2)
    assert len(samples) > 2  # epoch ends plus every 2 steps
    assert np.array_equal(samples[-1].grid, grid)
    assert gan_files.stored_generator_epochs(run_dir) == [1, 2]


def test_resume_ends_at_the_same_epoch_count_and_weights(home):
    cfg = GanConfig(**TINY, no_judge=True)
    with Store(home) as store:
        whole, part, done = whole_and_resumed(cfg, store, 4)  # stopped after step 4 of epoch 1's 6
        assert done.status == "done" and done.summary["epochs"] == cfg.epochs
        epochs = [r.epoch for r in store.metrics(part.run_id) if r.split == "train" and r.name == "g_loss"]
        assert epochs == [1, 2]  # each epoch's row written once
    for a, b in zip(whole.result.pairs[0].g.state_dict().values(), done.result.pairs[0].g.state_dict().values()):
        assert np.allclose(a.float().numpy(), b.float().numpy(), atol=1e-6)
    assert np.allclose(whole.result.history["train/g_loss"], done.result.history["train/g_loss"], atol=1e-6)


def test_g_ema_is_the_moving_average_of_the_weights():
    import torch

    from qdcore.models import build_gan
    from qdcore.train.gan_group import ema_copy, ema_update

    g, _ = build_gan("dcgan", 1, 8, g_width=4, d_width=4, kernel=5, dropout=0.0, batch_norm=True)
    ema = ema_copy(g)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    with torch.no_grad():
        for q in g.parameters():
            q.add_(1.0)
        g.net.bn0.running_mean.fill_(3.0)
    ema_update(ema, g, 0.9)
    for name, q in g.named_parameters():
        torch.testing.assert_close(ema.state_dict()[name], 0.9 * before[name] + 0.1 * q.detach())
    assert torch.equal(ema.net.bn0.running_mean, g.net.bn0.running_mean)  # buffers follow G
    assert not any(q.requires_grad for q in ema.parameters())


@pytest.mark.parametrize("per_class", [False, True])
def test_g_ema_samples_from_the_average_and_resumes_exactly(home, per_class):
    import torch

    from qdcore.train import gan_files
    from qdcore.train.checkpoint import load_states

    cfg = GanConfig(**TINY, no_judge=True, g_ema=0.8, per_class_gans=per_class)
    with Store(home) as store:
        whole, part, done = whole_and_resumed(cfg, store, 4)
        whole_dir, done_dir = store.run_dir(whole.run_id), store.run_dir(done.run_id)
    stored = load_states(whole_dir / gan_files.MODEL_FILE, gan_files.FORMAT, "GAN weights")["modules"]
    again = load_states(done_dir / gan_files.MODEL_FILE, gan_files.FORMAT, "GAN weights")["modules"]
    for k, p in enumerate(whole.result.pairs):
        # The stored generator (what 'qd gan sample' draws with) is the average, not the last weights.
        for name, v in p.ema.state_dict().items():
            assert torch.equal(stored[f"g{k}"][name], v)
        assert any(not torch.equal(stored[f"g{k}"][n], v) for n, v in p.g.state_dict().items() if v.ndim)
        for name, v in stored[f"g{k}"].items():  # an interrupted, resumed run ends with the same average
            torch.testing.assert_close(again[f"g{k}"][name], v, atol=1e-6, rtol=1e-5)


def test_nan_losses_fail_and_keep_the_last_good_epoch(home, monkeypatch):
    import torch

    import qdcore.train.gan as gan_mod
    from qdcore.runs.run import start as start_gan_run
    from qdcore.train import gan_files
    from qdcore.train.gan import Diverged

    built: list = []
    build = gan_mod.build_pairs
    monkeypatch.setattr(gan_mod, "build_pairs", lambda *a: built.extend(build(*a)) or built)
    sink = ListSink()

    def poison_after_epoch_1() -> bool:
        # should_stop runs after each step: once epoch 1 has ended, the generator's weights turn NaN.
        if len(sink.of(EpochEnd)) == 1:
            with torch.no_grad():
                for p in built[0].g.parameters():
                    p.fill_(float("nan"))
        return False

    with Store(home) as store, pytest.raises(Diverged, match="NaN"):
        start_gan_run(GanConfig(**{**TINY, "epochs": 3}, no_judge=True), store, sink, poison_after_epoch_1)
    with Store(home) as store:
        rec = store.list_runs()[0]
        assert rec.status == "failed" and "diverged" in rec.summary["error"] and "epoch 1" in rec.summary["error"]
        run_dir = store.run_dir(rec.id)
    assert gan_files.grid_epochs(run_dir) == [1]  # the last good samples stay
    gens, _, _, epoch = gan_files.load_gan(run_dir)  # and the last good weights, which are finite
    assert epoch == 1 and all(torch.isfinite(p).all() for p in gens[0].parameters())
    assert len(sink.of(EpochEnd)) == 1 and sink.of(RunFailed)


def test_diverging_learning_rate_is_a_one_line_failure(home):
    res = invoke("gan", "train", "--data", "demo", "--categories", CLASSES, "--per-class", "20", "--epochs", "1",
                 "--g-width", "4", "--d-width", "4", "--no-judge", "--lr-d", "1e36", "--lr-g", "1e36")
    lines = res.output.strip().splitlines()
    assert res.exit_code == 1 and lines[-1].startswith("qd: error: the GAN diverged"), res.output
    assert "Traceback" not in res.output and sum("error" in ln for ln in lines) == 1
    with Store(home) as store:
        assert store.list_runs()[0].status == "failed"


def test_frechet_distance_matches_scipy_on_known_gaussians():
    from scipy import linalg

    from qdcore.analysis.gan_quality import frechet_distance, gaussian_stats

    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    b = rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    covmean = linalg.sqrtm(s1 @ s2).real
    expected = float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)
    # Diagonal Gaussians in closed form: |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    assert frechet_distance(np.zeros(3), np.diag(v1), np.ones(3), np.diag(v2)) == pytest.approx(3 + 1 + 0 + 4)
    # Samples of one Gaussian: the distance between two large draws is near zero.
    x, y = rng.normal(size=(20000, 3)), rng.normal(size=(20000, 3))
    assert frechet_distance(*gaussian_stats(x), *gaussian_stats(y)) < 0.01


def test_a_judge_whose_features_never_vary_records_no_frechet_distance():
    import math

    import torch

    from qdcore.analysis.gan_quality import Judge, quality_metrics
    from qdcore.train.gan import load_gan_splits

    dead = torch.nn.Linear(784, 8)
    torch.nn.init.zeros_(dead.weight)
    torch.nn.init.zeros_(dead.bias)  # every drawing maps to the same (zero) feature vector
    model = torch.nn.Sequential(torch.nn.Flatten(), dead, torch.nn.ReLU(), torch.nn.Linear(8, 2))
    judge = Judge(model, ["circle", "star"], None, "cpu")
    splits = load_gan_splits(GanConfig(**TINY))
    ref = judge.reference(splits, ["circle", "star"])
    fake = np.random.default_rng(0).integers(0, 256, size=(16, 28, 28), dtype=np.uint8)
    m = quality_metrics(judge, ref, {0: fake, 1: fake}, ["circle", "star"])
    assert math.isnan(m["quality/fid"])  # not 0.0, which would read as a perfect generator
    assert math.isnan(m["quality/diversity"])


def test_memorisation_distance_is_zero_for_a_copied_training_drawing():
    from qdcore.analysis.gan_quality import nearest_distances

    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
    samples = np.stack([train[17], 255 - train[3]])
    d = nearest_distances(samples, train, chunk=8)
    assert d[0] == 0.0 and d[1] > 0.1


def test_cli_train_sample_gif_quality(judge_home, tmp_path):
    args = ["gan", "train", "--data", "demo", "--categories", CLASSES, "--per-class", "48", "--epochs", "2",
            "--batch-size", "16", "--g-width", "4", "--d-width", "4", "--latent-dim", "8", "--quality-n", "16",
            "--no-amp", "--model", "acgan", "--json"]
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    rid = out["run_id"]
    assert out["status"] == "done" and out["epochs"] == 2 and out["judge"] == 1
    npy = tmp_path / "stars.npy"
    res = invoke("gan", "sample", str(rid), "--category", "star", "--n", "5", "--epoch", "1", "--out", str(npy))
    assert res.exit_code == 0, res.output
    arr = np.load(npy)
    assert arr.shape == (5, 784) and arr.dtype == np.uint8
    gif = tmp_path / "progress.gif"
    res = invoke("gan", "gif", str(rid), "--out", str(gif))
    assert res.exit_code == 0, res.output
    from PIL import Image

    with Image.open(gif) as im:
        assert im.n_frames == 2  # one frame per epoch
    res = invoke("gan", "quality", str(rid), "--json")
    rows = json.loads(res.stdout)["epochs"]
    assert [r["epoch"] for r in rows] == [1, 2] and 0 <= rows[-1]["quality/recognised"] <= 1
    assert rows[-1]["quality/speckle_real"] >= 0  # the real drawings' own, which the table's footnote quotes
    assert {"fid/star", "diversity/star", "speckle/star", "recognised/star"} <= set(rows[-1])  # per class (AC-GAN)
    res = invoke("gan", "quality", str(rid))
    assert res.exit_code == 0 and "per class at epoch" in res.output and "— a drawing" not in res.output, res.output
    # Every other command reads the samples: the judge classifies them.
    res = invoke("predict", "1", str(npy), "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["n"] == 5


def _error(res) -> str:
    assert res.exit_code == 2, (res.output, res.exception)
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output
    return res.output


def test_bad_input_is_one_line(judge_home, tmp_path):
    base = ["gan", "train", "--data", "demo", "--per-class", "20", "--epochs", "1", "--g-width", "4",
            "--d-width", "4"]
    assert "was not trained on 'triangle'" in _error(invoke(*base, "--categories", "circle,triangle", "--judge", "1"))
    assert "--lr-d=0.0 must be a number > 0" in _error(invoke(*base, "--lr-d", "0"))
    assert "kernel=4" in _error(invoke(*base, "--kernel", "4"))
    assert "--model='bigan'" in _error(invoke(*base, "--model", "bigan"))
    with Store(judge_home) as store:
        assert [r.id for r in store.list_runs()] == [1]  # nothing half-made
    res = invoke(*base, "--categories", CLASSES, "--no-judge", "--json")
    gan_id = json.loads(res.stdout)["run_id"]
    # A GAN run where a classifier is needed, and the reverse.
    assert "is a gan run" in _error(invoke(*base, "--categories", CLASSES, "--judge", str(gan_id)))
    assert "is a classifier run" in _error(invoke("gan", "sample", "1", "--out", str(tmp_path / "x.npy")))
    assert "gan run" in _error(invoke("predict", str(gan_id), str(tmp_path / "x.npy")))
    assert "choose one with --category" not in _error(
        invoke("gan", "sample", str(gan_id), "--category", "star", "--out", str(tmp_path / "x.npy")))
    assert "must end in .npy" in _error(invoke("gan", "sample", str(gan_id), "--out", str(tmp_path / "x.png")))
    assert not (tmp_path / "x.npy").exists()


@pytest.fixture
def acgan_home(home):
    """A store whose run 1 is a tiny finished AC-GAN over circle and star (no judge)."""
    from qdcore.runs.run import start as start_gan_run

    with Store(home) as store:
        start_gan_run(GanConfig(**TINY, model="acgan", no_judge=True), store)
    return home


def test_synthetic_replaces_exactly_the_share_and_no_test_drawing(acgan_home):
    from qdcore.data.synthetic_mix import is_generated
    from qdcore.train.config import TrainConfig
    from qdcore.train.synthetic import training_splits

    base = TrainConfig(data="demo", categories=CLASSES, per_class=50, seed=3)
    real = training_splits(base)
    mixed = training_splits(base.replace(synthetic=1, synthetic_fraction=0.3))
    gen = is_generated(mixed.train)
    assert len(mixed.train) == len(real.train)
    for c in range(2):
        n_c = int((real.train.labels == c).sum())
        assert int(gen[mixed.train.labels == c].sum()) == round(0.3 * n_c)
    assert np.array_equal(mixed.train.labels, real.train.labels)
    assert np.array_equal(mixed.train.images[~gen], real.train.images[~gen])  # the rest untouched
    assert mixed.train.provenance(int(np.flatnonzero(gen)[0])).startswith("gan run 1 epoch 2#")
    for part in ("val", "test"):
        a, b = getattr(mixed, part), getattr(real, part)
        assert np.array_equal(a.images, b.images) and not is_generated(a).any()
    added = training_splits(base.replace(synthetic=1, synthetic_fraction=0.5, synthetic_mode="add"))
    extra = sum(round(0.5 * int((real.train.labels == c).sum())) for c in range(2))
    assert len(added.train) == len(real.train) + extra and int(is_generated(added.train).sum()) == extra
    assert np.array_equal(added.test.images, real.test.images)
    again = training_splits(base.replace(synthetic=1, synthetic_fraction=0.3))
    assert np.array_equal(again.train.images, mixed.train.images)  # deterministic: a run can be resumed


def test_synthetic_reads_the_gan_of_the_store_the_run_is_given(acgan_home, tmp_path, monkeypatch):
    """A classifier started on a store other than $QD_HOME's mixes in that store's GAN run (checked and read there)."""
    from qdcore.runs.run import start
    from qdcore.train.config import TrainConfig

    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("QD_HOME", str(elsewhere))  # the default store has no run 1
    cfg = TrainConfig(data="demo", categories=CLASSES, per_class=30, epochs=1, width=4, amp=False, synthetic=1,
                      synthetic_fraction=0.5)
    with Store(acgan_home) as store:
        run = start(cfg, store)
        assert run.status == "done" and store.get_run(run.run_id).config["synthetic"] == 1
        assert run.result.summary["num_train"] > 0
    assert not (elsewhere / "qd.sqlite").exists()


def test_synthetic_training_and_discriminator_evaluation(acgan_home):
    tiny = ["--data", "demo", "--categories", CLASSES, "--per-class", "40", "--epochs", "1", "--width", "4",
            "--no-amp", "--json"]
    res = invoke("train", *tiny, "--synthetic", "1", "--synthetic-fraction", "0.5")
    assert res.exit_code == 0, res.output
    clf = json.loads(res.stdout)["run_id"]
    with Store(acgan_home) as store:
        assert store.get_run(clf).config["synthetic"] == 1
    res = invoke("eval", "1", "--json")  # the AC-GAN's discriminator class head as a classifier
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["classes"] == ["circle", "star"] and out["n"] > 0 and 0 <= out["top1"] <= 1
    assert "discriminator" in out["data"] and len(out["per_class"]) == 2
    # Bad input: the fraction, a classifier given for --synthetic, a DCGAN where a class head is needed.
    assert "--synthetic-fraction=1.5 must be a number > 0 and <= 1" in _error(invoke("train", *tiny, "--synthetic", "1", "--synthetic-fraction", "1.5"))
    assert "--synthetic-fraction=0" in _error(invoke("train", *tiny, "--synthetic-fraction", "0"))
    assert f"run {clf} is a classifier run" in _error(invoke("train", *tiny, "--synthetic", str(clf)))
    assert "cannot draw 'square'" in _error(invoke("train", *tiny[:2], "--categories", "circle,square",
                                                   *tiny[4:], "--synthetic", "1"))
    res = invoke("gan", "train", "--data", "demo", "--categories", CLASSES, "--per-class", "20", "--epochs", "1",
                 "--g-width", "4", "--d-width", "4", "--no-judge", "--json")
    dcgan = json.loads(res.stdout)["run_id"]
    assert "no class head" in _error(invoke("eval", str(dcgan)))
    assert "cannot draw one on demand" in _error(invoke("train", *tiny, "--synthetic", str(dcgan)))
    with Store(acgan_home) as store:
        assert len(store.list_runs()) == 3  # no half-made runs from the bad input


def test_tampered_gan_files_are_one_line_errors_never_hangs(tmp_path):
    import json
    import os

    from qdcore.errors import StoreError
    from qdcore.train import gan_files

    os.mkfifo(tmp_path / gan_files.GAN_META)  # reading it would block forever
    with pytest.raises(StoreError, match="is a FIFO"):
        gan_files.read_meta(tmp_path)
    os.unlink(tmp_path / gan_files.GAN_META)
    (tmp_path / gan_files.GAN_META).write_text(json.dumps(["not", "a", "description"]))
    with pytest.raises(StoreError, match="not a qd GAN description"):
        gan_files.read_meta(tmp_path)
    (tmp_path / gan_files.HISTORY_FILE).write_text("[1, 2]")
    with pytest.raises(StoreError, match="not a GAN history"):
        gan_files.read_history(tmp_path)
