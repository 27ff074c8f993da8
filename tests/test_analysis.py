"""qdcore.analysis checked against independent computations and constructed cases."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from qdcore.analysis import cam, clusters, export, hidden, labelnoise, metrics, pairs, worst
from qdcore.errors import ConfigError, DataError
from qdcore.predictions import Predictions


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _pred(probs: np.ndarray, labels, images=None, classes=None) -> Predictions:
    n, c = probs.shape
    images = np.zeros((n, 28, 28), np.uint8) if images is None else images
    return Predictions(probs.astype(np.float32), np.asarray(labels, np.int64),
                       classes or [f"c{i}" for i in range(c)], images, [f"f.npy#{i}" for i in range(n)])


def _random_pred(n=500, c=6, seed=0) -> Predictions:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c))
    logits[np.arange(n), labels] += 1.5
    return _pred(_softmax(logits), labels)


# -- metrics --------------------------------------------------------------------------------------

def test_metrics_match_scikit_learn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score

    p = _random_pred()
    c = len(p.classes)
    got = metrics.confusion_matrix(p.labels, p.predicted, c)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, confusion_matrix(p.labels, p.predicted, labels=range(c)))
    rows = metrics.per_class_metrics(p.labels, p.predicted, p.classes)
    prec, rec, f1, sup = precision_recall_fscore_support(p.labels, p.predicted, labels=range(c), zero_division=0)
    np.testing.assert_allclose([r["precision"] for r in rows], prec)
    np.testing.assert_allclose([r["recall"] for r in rows], rec)
    np.testing.assert_allclose([r["f1"] for r in rows], f1)
    assert [r["support"] for r in rows] == sup.tolist()
    mp, mr, mf, _ = precision_recall_fscore_support(p.labels, p.predicted, average="macro", zero_division=0)
    macro = metrics.macro_average(rows)
    assert macro["precision"] == pytest.approx(mp) and macro["recall"] == pytest.approx(mr)
    assert macro["f1"] == pytest.approx(np.mean(f1)) and macro["support"] == len(p)
    for k in (1, 3, 5):
        assert metrics.topk_accuracy(p.probs, p.labels, k) == pytest.approx(
            top_k_accuracy_score(p.labels, p.probs, k=k, labels=range(c)))
    s = metrics.summarize(p)
    assert s["top1"] == pytest.approx((p.predicted == p.labels).mean())
    assert np.asarray(s["confusion"]).sum() == len(p) and len(s["per_class"]) == c


def test_metrics_handle_a_class_never_predicted():
    labels = np.array([0, 0, 1, 2])
    pred = np.array([0, 0, 0, 0])
    rows = metrics.per_class_metrics(labels, pred, ["a", "b", "c"])
    ci = rows[1].pop("recall_ci")
    assert rows[1] == {"class": "b", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert ci[0] == 0.0 and 0.5 < ci[1] < 1.0  # none right out of one: the interval still reaches far up
    assert rows[0]["precision"] == pytest.approx(0.5) and rows[0]["recall"] == 1.0
    assert metrics.topk_accuracy(np.eye(3)[[0, 0, 0, 0]], labels, 10) == 1.0  # k clipped to C


# -- confused pairs -------------------------------------------------------------------------------

def test_known_confused_pair_comes_out_on_top():
    classes = ["cake", "birthday cake", "cat", "dog"]
    # 10 drawings each; cake->birthday cake 4 times and back 2; cat->dog once
    truth = np.repeat(np.arange(4), 10)
    guess = truth.copy()
    guess[[0, 1, 2, 3]] = 1
    guess[[10, 11]] = 0
    guess[20] = 3
    probs = np.full((40, 4), 0.05, np.float32)
    probs[np.arange(40), guess] = 0.85
    p = _pred(probs, truth, classes=classes)
    top = pairs.confused_pairs(p)
    assert len(top) == 2  # pairs never confused are left out
    first = top[0]
    assert (first.a, first.b, first.a_as_b, first.b_as_a, first.n_a, first.n_b) == ("cake", "birthday cake", 4, 2, 10, 10)
    assert first.share == pytest.approx(6 / 20)
    assert first.idx_a_as_b.tolist() == [0, 1, 2, 3] and first.idx_b_as_a.tolist() == [10, 11]
    assert (top[1].a, top[1].b, top[1].share) == ("cat", "dog", pytest.approx(1 / 20))
    assert top[1].idx_a_as_b.tolist() == [20] and top[1].idx_b_as_a.size == 0
    assert pairs.confused_pairs(p, top=1) == top[:1]
    assert len(pairs.confused_pairs(p, include_zero=True)) == 6


def test_pairs_agree_with_the_confusion_matrix():
    p = _random_pred(800, 7, seed=3)
    cm = metrics.confusion_matrix(p.labels, p.predicted, 7)
    got = pairs.confused_pairs(p)
    shares = [q.share for q in got]
    assert shares == sorted(shares, reverse=True)
    for q in got:
        assert cm[q.ia, q.ib] == q.a_as_b == q.idx_a_as_b.size and cm[q.ib, q.ia] == q.b_as_a
        assert (p.labels[q.idx_a_as_b] == q.ia).all() and (p.predicted[q.idx_a_as_b] == q.ib).all()


# -- worst drawings -------------------------------------------------------------------------------

def test_worst_ranking_order_and_percentiles():
    p_true = np.array([0.9, 0.1, 0.5, 0.01, 0.7, 0.3])
    probs = np.stack([p_true, 1 - p_true], axis=1)
    p = _pred(probs, np.zeros(6))
    r = worst.rank_drawings(p, "prob")
    assert r.order.tolist() == [3, 1, 5, 2, 4, 0]
    assert worst.rank_drawings(p, "loss").order.tolist() == [3, 1, 5, 2, 4, 0]
    np.testing.assert_allclose(worst.rank_drawings(p, "loss").score, -np.log(p_true), rtol=1e-6)
    assert worst.rank_drawings(p, "margin").order.tolist() == [3, 1, 5, 2, 4, 0]
    assert r.rank_of()[3] == 0 and r.rank_of()[0] == 5
    assert worst.around_percentile(r, 0, 2).tolist() == [3, 1]
    assert worst.around_percentile(r, 100, 2).tolist() == [4, 0]
    assert worst.around_percentile(r, 50, 3).tolist() == [1, 5, 2]
    assert worst.percentile_of(r, 0) == 100.0
    rows = worst.ranking_rows(p, r)
    assert [row["index"] for row in rows] == r.order.tolist() and rows[0]["p_true"] == pytest.approx(0.01)
    with pytest.raises(ConfigError):
        worst.around_percentile(r, 101, 2)
    with pytest.raises(ConfigError, match="unknown ranking"):
        worst.rank_drawings(p, "entropy")


# -- clusters -------------------------------------------------------------------------------------

def _blob_pred(n_per=60, seed=0) -> tuple[Predictions, np.ndarray]:
    """Misclassified drawings in three separable looks (a square in one of three places), plus correct ones."""
    rng = np.random.default_rng(seed)
    spots = [(2, 2), (2, 16), (16, 9)]
    imgs, labels, guess, look = [], [], [], []
    for g, (y, x) in enumerate(spots):
        for _ in range(n_per):
            im = rng.integers(0, 40, (28, 28)).astype(np.uint8)
            im[y: y + 10, x: x + 10] = rng.integers(200, 256, (10, 10))
            imgs.append(im)
            labels.append(g)
            guess.append((g + 1) % 3)  # look g is always truth g read as g+1
            look.append(g)
    for _ in range(30):  # correctly classified drawings are not clustered
        imgs.append(rng.integers(0, 255, (28, 28)).astype(np.uint8))
        labels.append(0)
        guess.append(0)
        look.append(-1)
    probs = np.full((len(labels), 3), 0.1, np.float32)
    probs[np.arange(len(labels)), guess] = 0.8
    return _pred(probs, labels, np.stack(imgs), ["cat", "airplane", "tree"]), np.array(look)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    from sklearn.metrics import adjusted_rand_score

    return adjusted_rand_score(a, b) == pytest.approx(1.0)


def test_kmeans_and_dbscan_recover_separable_clusters():
    p, look = _blob_pred()
    res = clusters.cluster_misclassified(p, "pixels", n_components=10)
    assert res.indices.tolist() == list(range(180))
    assert res.kmeans.params["k"] == 3  # chosen by silhouette
    assert _same_partition(res.kmeans.labels, look[:180])
    for c in res.kmeans.clusters:
        assert c.size == 60 and c.pair_count == 60
        assert (c.truth, c.predicted) in {("cat", "airplane"), ("airplane", "tree"), ("tree", "cat")}
        assert len(c.representatives) == 8 and set(c.representatives) <= set(c.indices.tolist())
    db = res.dbscan
    assert db.params["auto_eps"] and db.params["eps"] > 0
    real = db.labels >= 0
    assert real.mean() > 0.9
    assert _same_partition(db.labels[real], look[:180][real])
    assert res.coords2d.shape == (180, 2) and 0 < res.explained <= 1
    fixed = clusters.cluster_misclassified(p, "pixels", n_components=0.5, k=2, methods=("kmeans",))
    assert fixed.kmeans.params["k"] == 2 and fixed.dbscan is None and fixed.n_components >= 1
    as_x = clusters.misclassified_as(p)
    assert {k: v.size for k, v in as_x.items()} == {"airplane": 60, "cat": 60, "tree": 60}


def test_more_misclassified_drawings_than_the_cap_are_clustered_as_a_fixed_sample():
    p, look = _blob_pred()
    res = clusters.cluster_misclassified(p, "pixels", n_components=10, max_drawings=90)
    assert res.indices.size == 90 and res.misclassified == 180 and set(res.indices.tolist()) <= set(range(180))
    assert np.all(np.diff(res.indices) > 0)  # in the drawings' order
    again = clusters.cluster_misclassified(p, "pixels", n_components=10, max_drawings=90)
    assert np.array_equal(again.indices, res.indices)  # the same sample every time
    assert res.kmeans.params["k"] == 3 and _same_partition(res.kmeans.labels, look[res.indices])
    assert res.to_dict()["n"] == 90 and res.to_dict()["of"] == 180
    assert res.scope() == "a random 90 of 180 misclassified drawings"
    whole = clusters.cluster_misclassified(p, "pixels", n_components=10, methods=("kmeans",))
    assert whole.scope() == "180 misclassified drawings" and whole.to_dict()["of"] == 180


def test_knee_eps_sits_between_within_and_between_cluster_distances():
    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [10, 0], [0, 10]], float)
    z = np.concatenate([c + rng.normal(scale=0.3, size=(100, 2)) for c in centres])
    eps = clusters.knee_eps(z, 5)
    assert 0.1 < eps < 5
    labels, used = clusters.dbscan(z, None, 5)
    assert used == eps and len(set(labels) - {-1}) == 3


def test_clustering_bad_input():
    p, _ = _blob_pred(n_per=3)
    with pytest.raises(DataError, match="only 9 misclassified drawings"):
        clusters.cluster_misclassified(p)
    p, _ = _blob_pred()
    with pytest.raises(ConfigError, match="k must be"):
        clusters.cluster_misclassified(p, k=0)
    with pytest.raises(ConfigError, match="eps must be a positive"):
        clusters.cluster_misclassified(p, eps=-1.0)
    with pytest.raises(ConfigError, match="variance fraction"):
        clusters.cluster_misclassified(p, n_components=1.5)
    with pytest.raises(ConfigError, match="unknown features"):
        clusters.cluster_misclassified(p, features="strokes")
    with pytest.raises(ConfigError, match="need the run's model"):
        clusters.cluster_misclassified(p, features="penultimate")
    with pytest.raises(DataError, match="at least 201"):
        clusters.cluster_misclassified(p, k=200)


# -- models for CAM / hidden layers / penultimate features ----------------------------------------

def _tiny_cnn(num_classes=3):
    import torch.nn as nn

    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                      nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(8 * 7 * 7, 16), nn.ReLU(), nn.Linear(16, num_classes))
    m.arch = {"name": "tiny", "num_classes": num_classes}
    return m


def _fc():
    import torch.nn as nn

    m = nn.Sequential(nn.Flatten(), nn.Linear(784, 25), nn.ReLU(), nn.Linear(25, 3))
    m.arch = {"name": "fc", "num_classes": 3}
    return m


def test_penultimate_features_are_the_input_of_the_last_linear():
    import torch

    torch.manual_seed(0)
    m = _tiny_cnn()
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    f = clusters.penultimate_features(m, imgs, batch_size=2)
    assert f.shape == (5, 16) and f.dtype == np.float32
    with torch.no_grad():
        want = m[:-1](torch.from_numpy(imgs).float().div(255).reshape(-1, 1, 28, 28)).numpy()
    np.testing.assert_allclose(f, want, rtol=1e-5, atol=1e-6)


def _bar_model():
    """A hand-built CNN: channel 0 fires on vertical bars (class 0), channel 1 on horizontal bars (class 1)."""
    import torch
    import torch.nn as nn

    conv = nn.Conv2d(1, 2, 3, padding=1)
    v = torch.tensor([[-1.0, 2.0, -1.0]] * 3)
    with torch.no_grad():
        conv.weight[0, 0] = v
        conv.weight[1, 0] = v.T
        conv.bias.fill_(-2.0)
    head = nn.Linear(2, 2)
    with torch.no_grad():
        head.weight.copy_(torch.eye(2) * 10)
        head.bias.zero_()
    m = nn.Sequential(conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    m.arch = {"name": "bars", "num_classes": 2}
    return m


def test_grad_cam_highlights_the_region_that_decides_the_class():
    img = np.zeros((28, 28), np.uint8)
    img[3:11, 5] = 255  # vertical bar, top-left: evidence for class 0
    img[20, 15:25] = 255  # horizontal bar, bottom-right: evidence for class 1
    m = _bar_model()
    top_left = (slice(0, 14), slice(0, 14))
    bottom_right = (slice(14, 28), slice(14, 28))
    c0, t0 = cam.grad_cam(m, img, target=0)
    c1, t1 = cam.grad_cam(m, img, target=1)
    assert (t0, t1) == (0, 1) and c0.shape == (28, 28) and c0.max() == pytest.approx(1.0)
    assert c0[top_left].sum() > 10 * c0[bottom_right].sum()
    assert c1[bottom_right].sum() > 10 * c1[top_left].sum()
    peak = np.unravel_index(c0.argmax(), c0.shape)
    assert 3 <= peak[0] <= 10 and 4 <= peak[1] <= 6
    # default target is the prediction; the batch version agrees with single calls
    cams, chosen = cam.grad_cam_batch(m, np.stack([img, img]), np.array([0, 1]))
    np.testing.assert_allclose(cams[0], c0, atol=1e-6)
    np.testing.assert_allclose(cams[1], c1, atol=1e-6)
    only_v = np.zeros_like(img)
    only_v[3:11, 5] = 255
    assert cam.grad_cam(m, only_v)[1] == 0
    rgb = cam.overlay(img, c0)
    assert rgb.shape == (28, 28, 3) and rgb.dtype == np.uint8


def test_grad_cam_works_on_a_cnn_with_in_place_relu_and_leaves_it_unchanged():
    import torch

    torch.manual_seed(0)
    m = _tiny_cnn().train()
    imgs = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    cams, chosen = cam.grad_cam_batch(m, imgs)
    assert cams.shape == (3, 28, 28) and np.isfinite(cams).all() and (cams >= 0).all() and (cams <= 1).all()
    assert m.training and all(p.grad is None for p in m.parameters())
    with torch.no_grad():
        want = m.eval()(torch.from_numpy(imgs).float().div(255).reshape(-1, 1, 28, 28)).argmax(1).numpy()
    assert chosen.tolist() == want.tolist()
    with pytest.raises(ConfigError, match="out of range"):
        cam.grad_cam(m, imgs[0], target=7)


def test_cam_and_hidden_layers_refuse_a_non_cnn():
    with pytest.raises(ConfigError, match="model fc has no convolutional layers; CAM needs a CNN"):
        cam.grad_cam(_fc(), np.zeros((28, 28), np.uint8))
    with pytest.raises(ConfigError, match="model fc has no convolutional layers"):
        hidden.feature_maps(_fc(), np.zeros((28, 28), np.uint8))


def test_hidden_layer_shapes():
    m = _tiny_cnn()
    maps = hidden.feature_maps(m, np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8))
    assert [(name, a.shape) for name, a in maps] == [
        ("0 (Conv2d)", (4, 28, 28)), ("2 (MaxPool2d)", (4, 14, 14)),
        ("3 (Conv2d)", (8, 14, 14)), ("5 (MaxPool2d)", (8, 7, 7))]
    # the conv output is captured before the in-place ReLU rewrites it
    assert (maps[0][1] < 0).any()
    grid = hidden.tile(maps[1][1])
    assert grid.shape == (2 * 15 - 1, 2 * 15 - 1) and grid.max() <= 1
    assert len(hidden.feature_maps(m, np.zeros((28, 28), np.uint8), kinds=("all",))) == 6


# -- data quality ---------------------------------------------------------------------------------

def test_near_duplicates_and_likely_label_errors():
    rng = np.random.default_rng(0)
    imgs = np.zeros((40, 28, 28), np.uint8)
    for i in range(40):
        y, x = rng.integers(0, 20, 2)
        imgs[i, y: y + 8, x: x + 8] = 255
        imgs[i, rng.integers(0, 28, 30), rng.integers(0, 28, 30)] = 255
    imgs[7] = imgs[3]
    imgs[7, 0, 0] ^= 255  # one pixel differs: a near duplicate of 3
    imgs[9] = imgs[4]  # exact copy: reported only with include_exact
    labels = np.zeros(40, np.int64)
    labels[7] = 1
    near = labelnoise.near_duplicates(imgs, labels, max_distance=2.0)
    assert [(r.i, r.j, r.same_label) for r in near] == [(3, 7, False)]
    assert near[0].distance == pytest.approx(255 / 784)
    exact = labelnoise.near_duplicates(imgs, labels, max_distance=2.0, include_exact=True)
    assert (4, 9) in [(r.i, r.j) for r in exact]

    probs = np.full((5, 3), 0.02, np.float32)
    probs[:, 0] = 0.96
    probs[1] = [0.3, 0.35, 0.35]
    probs[2] = [0.01, 0.01, 0.98]
    p = _pred(probs, [0, 1, 1, 2, 0], imgs[:5])
    sus = labelnoise.likely_label_errors(p, 0.9)
    assert [(s.index, s.truth, s.predicted) for s in sus] == [(2, "c1", "c2"), (3, "c2", "c0")]
    q = labelnoise.quality(p)
    assert set(q) == {"blank", "near_blank", "exact_duplicates", "near_duplicates", "label_errors"}
    assert [r["index"] for r in q["label_errors"]] == [2, 3] and q["near_duplicates"] == []
    assert labelnoise.quality(p, near_limit=4)["near_duplicates"] is None
    with pytest.raises(ConfigError):
        labelnoise.likely_label_errors(p, 0)


# -- export ---------------------------------------------------------------------------------------

def test_export_writes_readable_csv_and_png(tmp_path):
    from PIL import Image

    p, _ = _blob_pred(n_per=4)
    rows = metrics.per_class_metrics(p.labels, p.predicted, p.classes)
    path = export.write_csv(tmp_path / "per_class.csv", rows)
    back = list(csv.DictReader(path.open()))
    assert [r["class"] for r in back] == p.classes and float(back[0]["recall"]) == pytest.approx(rows[0]["recall"])
    idx = np.arange(10)
    g = export.gallery_png(p.images[idx], export.captions_for(p, idx), tmp_path / "g.png", cols=5, title="t")
    with Image.open(g) as im:
        assert im.mode == "RGB" and im.width >= 5 * 84 and im.height >= 2 * 84
    cams = np.random.default_rng(0).random((4, 28, 28)).astype(np.float32)
    assert export.cam_grid_png(p.images[:4], cams, None, tmp_path / "cam.png").stat().st_size > 0
    assert not list(tmp_path.glob(".*.tmp"))


def test_report_charts_have_axes_ticks_titles_and_legends(tmp_path):
    """Charts are matplotlib figures with labelled axes, not bare pixels; they are written as real PNGs."""
    pytest.importorskip("matplotlib")
    from PIL import Image

    from qdcore.analysis import figures
    from qdcore.analysis.calibration import calibration

    p, _ = _blob_pred(n_per=4)
    cm = metrics.confusion_matrix(p.labels, p.predicted, 3)
    fig = figures.confusion_figure(cm, p.classes)
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert [t.get_text() for t in ax.get_xticklabels()] == p.classes and "Confusion matrix" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "share of the true class"  # the colour bar
    big = figures.confusion_figure(np.eye(300, dtype=int), [str(i) for i in range(300)]).axes[0]
    assert len(big.get_xticks()) <= figures.MAX_TICK_LABELS
    sc = figures.scatter_figure(np.random.default_rng(0).random((20, 2)), np.r_[np.zeros(10), -np.ones(10)]).axes[0]
    assert sc.get_xlabel() == "PC 1" and [t.get_text() for t in sc.get_legend().get_texts()] == [
        "noise (10)", "cluster 0 (10)"]
    cal = calibration(p.probs, p.labels, bins=10)
    rel = figures.reliability_figure(cal)
    top, bottom = rel.axes
    assert f"ECE {100 * cal.ece:.1f}%" in top.get_title() and bottom.get_xlabel() == "top-1 confidence"
    assert "perfect calibration" in [t.get_text() for t in top.get_legend().get_texts()]
    for name, f in (("cm", fig), ("rel", rel)):
        with Image.open(figures.save_png(f, tmp_path / f"{name}.png")) as im:
            assert im.format == "PNG" and im.width > 300 and im.height > 300
    assert not list(tmp_path.glob(".*.tmp"))


# -- a model trained on the demo set --------------------------------------------------------------

def test_demo_sets_built_in_confusable_pairs_come_out_on_top(tmp_path):
    """A small CNN trained for a few epochs on the synthetic demo set mixes up exactly the shapes built to be alike."""
    import torch
    import torch.nn as nn

    from qdcore.data.demo import CONFUSABLE_PAIRS, DEMO_CLASSES, generate

    torch.manual_seed(0)
    x, y = generate(per_class=200, seed=0)
    perm = np.random.default_rng(0).permutation(len(y))
    x, y = x[perm], y[perm]
    ntr = int(0.7 * len(y))
    xt = torch.from_numpy(x).float().div(255).unsqueeze(1)
    yt = torch.from_numpy(y)
    m = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 49, len(DEMO_CLASSES)))
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    for _ in range(4):
        order = torch.randperm(ntr)
        for s in range(0, ntr, 64):
            idx = order[s: s + 64]
            loss = nn.functional.cross_entropy(m(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        probs = m(xt[ntr:]).softmax(1).numpy()
    Predictions(probs, y[ntr:], DEMO_CLASSES, x[ntr:], [f"demo#{i}" for i in range(len(y) - ntr)]).save(
        tmp_path / "predictions.npz")
    p = Predictions.load(tmp_path / "predictions.npz")
    assert (p.predicted == p.labels).mean() > 0.6
    built_in = {frozenset(pair) for pair in CONFUSABLE_PAIRS}
    table = pairs.confused_pairs(p, include_zero=True)
    ranked = [frozenset((q.a, q.b)) for q in table]
    assert ranked[0] in built_in
    assert all(ranked.index(b) < len(ranked) // 4 for b in built_in)
    inside = np.mean([q.share for q, r in zip(table, ranked) if r in built_in])
    outside = np.mean([q.share for q, r in zip(table, ranked) if r not in built_in])
    assert inside > 5 * outside


def test_cam_hidden_and_penultimate_on_every_zoo_classifier():
    import torch

    from qdcore.models import build_model, list_models

    torch.manual_seed(0)
    img = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    names = [m.name for m in list_models() if m.kind == "classifier"]
    assert "fc" in names and "widthk" in names
    for name in names:
        m = build_model(name, 5)
        assert clusters.penultimate_features(m, img[None]).shape[0] == 1
        if name == "fc":
            with pytest.raises(ConfigError, match="model fc has no convolutional layers; CAM needs a CNN"):
                cam.grad_cam(m, img)
            continue
        c, target = cam.grad_cam(m, img)
        assert c.shape == (28, 28) and 0 <= target < 5 and np.isfinite(c).all(), name
        maps = hidden.feature_maps(m, img)
        assert maps and all(a.ndim == 3 for _, a in maps), name
        convs = [a for n, a in maps if "Conv2d" in n]
        assert len(convs) == len(cam.conv_layers(m)), name
