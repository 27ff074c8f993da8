"""Analysis speed: clustering 10,000 misclassified drawings (target < 10 s) and ranking 100,000 drawings vs the
forward pass that produced their probabilities (ranking should be a small fraction of it).

Uses real drawings from ../shared/quickdraw when present, else the synthetic demo set.
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_analysis.py [--cluster-n 10000] [--rank-n 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qdcore.predictions import Predictions

CLUSTER_TARGET_S = 10.0


def drawings(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """n drawings with labels: real Quick, Draw! bitmaps if available, else the demo set."""
    from qdcore.paths import shared_quickdraw

    root = shared_quickdraw()
    rng = np.random.default_rng(seed)
    if root is not None:
        files = sorted((root / "numpy_bitmap").glob("*.npy"))
        classes = [f.stem for f in files]
        per = -(-n // len(files))
        imgs, labels = [], []
        for c, f in enumerate(files):
            a = np.load(f, mmap_mode="r")
            take = rng.choice(a.shape[0], min(per, a.shape[0]), replace=False)
            imgs.append(np.asarray(a[np.sort(take)]).reshape(-1, 28, 28))
            labels.append(np.full(len(take), c))
        x, y = np.concatenate(imgs), np.concatenate(labels)
        src = f"real Quick, Draw! ({len(files)} categories in {root})"
    else:
        from qdcore.data.demo import DEMO_CLASSES, generate

        x, y = generate(per_class=-(-n // len(DEMO_CLASSES)), seed=seed)
        classes, src = list(DEMO_CLASSES), "synthetic demo set"
    # repeat to reach n when the source is smaller (timing, not statistics)
    reps = -(-n // len(y))
    idx = rng.permutation(np.tile(np.arange(len(y)), reps))[:n]
    return x[idx], y[idx].astype(np.int64), classes, src


def wrong_predictions(x: np.ndarray, y: np.ndarray, classes: list[str], seed: int = 0) -> Predictions:
    """Predictions where every drawing is misclassified, with structured confusions (truth -> truth+1 or +2)."""
    rng = np.random.default_rng(seed)
    c = len(classes)
    guess = (y + rng.integers(1, 3, len(y))) % c
    probs = rng.dirichlet(np.ones(c), len(y)).astype(np.float32) * 0.3
    probs[np.arange(len(y)), guess] += 0.7
    return Predictions(probs, y, classes, x, [""] * len(y))


def bench_clustering(n: int) -> float:
    from qdcore.analysis.clusters import cluster_misclassified

    x, y, classes, src = drawings(n)
    pred = wrong_predictions(x, y, classes)
    t = time.perf_counter()
    res = cluster_misclassified(pred, "pixels")
    dt = time.perf_counter() - t
    km, db = res.kmeans, res.dbscan
    print(f"clustering {n:,} misclassified drawings from the {src}: PCA to {res.n_components} components "
          f"({res.explained:.0%} of variance) + K-Means (k={km.params['k']} by silhouette over 2..10) "
          f"+ DBSCAN (auto eps={db.params['eps']:.3g}, {len(db.clusters)} groups incl. noise): {dt:.2f} s")
    print(f"  target {CLUSTER_TARGET_S:.0f} s -> ratio target/measured = {CLUSTER_TARGET_S / dt:.2f}x "
          f"({'met' if dt < CLUSTER_TARGET_S else 'NOT met'})")
    return dt


def bench_ranking(n: int, batch: int = 1024) -> float:
    import torch

    from qdcore.analysis import worst

    x, y, classes, src = drawings(min(n, 50_000))
    reps = -(-n // len(y))
    x, y = np.tile(x, (reps, 1, 1))[:n], np.tile(y, reps)[:n]
    try:
        from qdcore.models import build_model

        model = build_model("widthk", len(classes), width=12)
        name = "widthk k=12"
    except Exception:  # noqa: BLE001 - the zoo is optional for this benchmark
        import torch.nn as nn

        model = nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(12 * 14 * 14, len(classes)))
        name = "small CNN"
    model.eval()
    xt = torch.from_numpy(x)
    t = time.perf_counter()
    out = []
    with torch.no_grad():
        for s in range(0, n, batch):
            out.append(model(xt[s: s + batch].float().div_(255).unsqueeze(1)).softmax(1))
    probs = torch.cat(out).numpy()
    fwd = time.perf_counter() - t
    pred = Predictions(probs, y, classes, x, [""] * n)
    t = time.perf_counter()
    r = worst.rank_drawings(pred, "prob")
    worst.around_percentile(r, 5, 48)
    worst.summary(pred, r)
    worst.rank_drawings(pred, "loss")
    rank = time.perf_counter() - t
    print(f"ranking {n:,} drawings ({src}) by p(truth) and by loss, plus the 5% window: {rank * 1000:.0f} ms; "
          f"the {name} forward pass that made the probabilities: {fwd:.2f} s (torch threads {torch.get_num_threads()})")
    print(f"  ranking / forward = {rank / fwd:.4f} (forward pass dominates: {'yes' if rank < 0.1 * fwd else 'NO'})")
    return rank / fwd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cluster-n", type=int, default=10_000)
    ap.add_argument("--rank-n", type=int, default=100_000)
    a = ap.parse_args()
    bench_clustering(a.cluster_n)
    bench_ranking(a.rank_n)


if __name__ == "__main__":
    main()
