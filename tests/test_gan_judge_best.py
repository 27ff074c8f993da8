"""Issue 26: the judge a GAN gets without asking, the best generator kept, speckle and diversity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from qdcore.stats import wilson_interval
from qdcore.store import Store
from qdcore.train.gan_config import GanConfig

TINY = dict(data="demo", categories="circle,star", per_class=48, epochs=3, batch_size=16, g_width=4, d_width=4,
            latent_dim=8, quality_n=16, grid_cols=3, log_every=1, amp=False)


def invoke(*args: str):
    from qdcore.cli.main import app  # imported late: the commands are built from the kinds registered by then

    return CliRunner().invoke(app, list(args))


@pytest.fixture
def small_auto_judge(monkeypatch):
    """The automatic judge at test size (the recipe's numbers, not its logic, shrunk)."""
    from qdcore.analysis import gan_judge

    monkeypatch.setattr(gan_judge, "AUTO_PER_CLASS", 40)
    monkeypatch.setattr(gan_judge, "AUTO_EPOCHS", 1)
    monkeypatch.setattr(gan_judge, "AUTO_WIDTH", 4)
    monkeypatch.setattr(gan_judge, "AUTO_NEGATIVES", 2)


def test_the_auto_judge_is_trained_once_said_and_reused(home, small_auto_judge):
    from qdcore.events import ListSink, RunStarted
    from qdcore.runs.run import start

    sink = ListSink()
    with Store(home) as store:
        first = start(GanConfig(**{**TINY, "epochs": 1}), store, sink)
        judges = store.list_runs(kind="classifier")
        assert len(judges) == 1 and judges[0].status == "done" and "(auto)" in judges[0].name
        judge = judges[0].id
        assert first.summary["judge"] == judge and first.summary["recognised"] == first.summary["recognised"]
        cats = judges[0].config["categories"].split(",")
        assert cats[:2] == ["circle", "star"] and len(cats) == 4  # the GAN's categories plus negatives
        note = next(e for e in sink.events if isinstance(e, RunStarted)).notes
        assert any(f"run {judge}" in n and "trained one" in n for n in note), note
        second = start(GanConfig(**{**TINY, "epochs": 1, "categories": "star"}), store)
        assert len(store.list_runs(kind="classifier")) == 1  # reused, not trained again
        assert second.summary["judge"] == judge
        skipped = start(GanConfig(**{**TINY, "epochs": 1, "no_judge": True}), store)
        assert skipped.summary.get("judge") is None and "recognised" not in skipped.summary


def test_best_generator_keeping_follows_the_criterion():
    from qdcore.train.gan_best import BestGenerator

    fid = BestGenerator("fid")
    picked = [fid.offer(e, {"quality/fid": v}) for e, v in enumerate([9.0, 4.0, float("nan"), 4.0, 6.0], 1)]
    assert picked == [True, True, False, False, False] and (fid.epoch, fid.score) == (2, 4.0)
    judged = BestGenerator("judged")
    for e, v in enumerate([0.5, 0.9, 0.7], 1):
        judged.offer(e, {"quality/recognised": v})
    assert judged.epoch == 2
    assert BestGenerator.from_state("fid", fid.state()).epoch == 2
    assert BestGenerator.from_state("judged", fid.state()).epoch is None  # another criterion starts afresh
    assert not BestGenerator("fid").offer(1, {"train/g_loss": 1.0})  # no judged metric: nothing to keep


def test_best_epoch_is_the_planted_best_and_sample_says_so(home, tmp_path, monkeypatch):
    """Planted Frechet distances 5, 2, 7: epoch 2's generator is kept, and --epoch best differs from last."""
    import torch

    from qdcore.analysis import gan_quality
    from qdcore.runs.run import start
    from qdcore.train import gan_files
    from qdcore.train.checkpoint import load_states
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import start_run

    planted = iter([5.0, 2.0, 7.0])
    real = gan_quality.quality_metrics

    def with_planted_fid(*a, **k):
        out = real(*a, **k)
        out["quality/fid"] = next(planted)
        return out

    monkeypatch.setattr(gan_quality, "quality_metrics", with_planted_fid)
    with Store(home) as store:
        start_run(TrainConfig(data="demo", categories="circle,star,square", per_class=40, epochs=1, width=4,
                              batch_size=32, amp=False), store)
        run = start(GanConfig(**TINY, model="acgan", g_ema=0.0), store)
        run_dir = store.run_dir(run.run_id)
    assert run.summary["best_epoch"] == 2 and run.summary["best_by"] == "fid" and run.summary["best_score"] == 2.0
    best = load_states(run_dir / gan_files.GENERATORS_DIR / gan_files.BEST_FILE, gan_files.FORMAT)["modules"]
    epoch2 = load_states(run_dir / gan_files.GENERATORS_DIR / "epoch_0002.safetensors", gan_files.FORMAT)["modules"]
    for name, v in epoch2["g0"].items():
        assert torch.equal(best["g0"][name], v)
    outs = {}
    for which in ("best", "last", "2"):
        path = tmp_path / f"{which}.npy"
        res = invoke("gan", "sample", str(run.run_id), "--category", "star", "--epoch", which, "--n", "8",
                     "--out", str(path))
        assert res.exit_code == 0, res.output
        outs[which] = (np.load(path), res.output)
    assert "epoch 2, the best by Frechet distance" in outs["best"][1] and "epoch 3, the last" in outs["last"][1]
    assert np.array_equal(outs["best"][0], outs["2"][0]) and not np.array_equal(outs["best"][0], outs["last"][0])
    default = tmp_path / "default.npy"
    res = invoke("gan", "sample", str(run.run_id), "--category", "star", "--n", "8", "--out", str(default))
    assert "the best" in res.output and np.array_equal(np.load(default), outs["best"][0])
    res = invoke("gan", "quality", str(run.run_id), "--json")
    rows = json.loads(res.stdout)["epochs"]
    assert [r["best"] for r in rows] == [False, True, False]
    kept = rows[1]  # every class's samples judged, pooled, with their Wilson interval
    assert kept["quality/judged_n"] == len(TINY["categories"].split(",")) * TINY["quality_n"]
    n = int(kept["quality/judged_n"])
    assert (kept["quality/recognised_low"], kept["quality/recognised_high"]) == \
        pytest.approx(wilson_interval(round(kept["quality/recognised"] * n), n))
    assert all(r["quality/speckle"] >= 0 for r in rows) and "recognised/star" in rows[0]
    res = invoke("gan", "quality", str(run.run_id))
    assert res.exit_code == 0 and "2*" in res.output and "speckle" in res.output
    assert f"kept epoch 2: judged {100 * kept['quality/recognised']:.1f}% (95% interval" in res.output, res.output
    sheet = tmp_path / "sheet.png"
    res = invoke("gan", "sheet", str(run.run_id), "--category", "star", "--n", "10", "--out", str(sheet))
    assert res.exit_code == 0 and "judged as star by run 1" in res.output, res.output
    from PIL import Image

    with Image.open(sheet) as im:
        assert im.size[0] == 8 * (28 * 3 + 8) and im.mode == "RGB"  # 8 columns, two rows of 10 drawings
    res = invoke("gan", "sample", str(run.run_id), "--epoch", "worst", "--out", str(tmp_path / "w.npy"))
    assert res.exit_code == 2 and "must be last, best or an epoch number" in res.output


def test_no_judge_samples_from_the_last_epoch(home, tmp_path):
    from qdcore.runs.run import start

    with Store(home) as store:
        run = start(GanConfig(**{**TINY, "epochs": 1, "no_judge": True}), store)
    res = invoke("gan", "sample", str(run.run_id), "--n", "4", "--out", str(tmp_path / "x.npy"))
    assert res.exit_code == 0 and "epoch 1, the last" in res.output
    res = invoke("gan", "sample", str(run.run_id), "--epoch", "best", "--out", str(tmp_path / "y.npy"))
    assert res.exit_code == 2 and "no best generator" in res.output


def _ring() -> np.ndarray:
    """A clean drawing: a ring two pixels wide, like a doodled circle."""
    yy, xx = np.mgrid[:28, :28]
    r = np.hypot(yy - 13.5, xx - 13.5)
    return np.where((r > 7) & (r < 9.2), 255, 0).astype(np.uint8)


def test_speckle_counts_planted_dots_on_a_clean_drawing():
    from qdcore.analysis.gan_quality import speckle

    clean = _ring()
    assert speckle(clean[None]) == 0.0
    dotted = clean.copy()
    for y, x in [(1, 1), (26, 3), (14, 14)]:  # isolated dots, one inside the ring
        dotted[y, x] = 255
    dotted[3, 20] = dotted[3, 21] = 200  # a two-pixel fragment: each has one inked neighbour
    assert speckle(dotted[None]) == 5.0
    assert speckle(np.stack([clean, dotted])) == 2.5  # a mean per drawing
    faint = clean.copy()
    faint[1, 1] = 60  # below the ink level: not a dot
    assert speckle(faint[None]) == 0.0


def test_diversity_of_identical_samples_is_zero():
    from qdcore.analysis.gan_quality import mean_pairwise_distance

    same = np.tile(np.arange(16, dtype=np.float32), (10, 1))
    assert mean_pairwise_distance(same) == 0.0
    rng = np.random.default_rng(0)
    assert mean_pairwise_distance(rng.normal(size=(10, 16))) > 1.0


def test_per_class_quality_compares_each_class_with_its_own_real_drawings():
    import torch

    from qdcore.analysis.gan_quality import Judge, quality_metrics, speckle
    from qdcore.train.gan import load_gan_splits
    from qdcore.train.gan_config import GanConfig

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2))
    judge = Judge(model, ["circle", "star"], None, "cpu")
    splits = load_gan_splits(GanConfig(data="demo", categories="circle,star", per_class=48))
    ref = judge.reference(splits, ["circle", "star"])
    labels, images = np.asarray(splits.test.labels), np.asarray(splits.test.images).reshape(-1, 28, 28)
    circles = images[labels == 0]
    dotted = np.repeat(images[labels == 1][:1], 8, axis=0)  # one star, copied: no diversity at all
    dotted[:, 1, 1] = dotted[:, 26, 26] = 255  # two isolated dots on each
    m = quality_metrics(judge, ref, {0: circles, 1: dotted}, ["circle", "star"])
    assert m["fid/circle"] < 1e-6 and m["diversity/circle"] == pytest.approx(1.0)  # the real circles themselves
    every_circle = np.concatenate([circles, np.asarray(splits.train.images).reshape(-1, 28, 28)[
        np.asarray(splits.train.labels) == 0]])  # speckle's reference is every real drawing of the class
    assert m["speckle/circle"] == pytest.approx(speckle(circles) / speckle(every_circle))
    assert m["fid/star"] > 0.1 and m["diversity/star"] == 0.0
    assert m["speckle/star"] > 2.0  # a multiple of the real stars' own speckle, not of the circles'
