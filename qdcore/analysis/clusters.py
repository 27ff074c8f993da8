"""Clusters of misclassified drawings (study 004): features, PCA, K-Means and DBSCAN, per-cluster summaries."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qdcore.analysis.cache import cached
from qdcore.analysis.cam import input_tensor
from qdcore.errors import ConfigError, DataError

MIN_DRAWINGS = 10  # fewer misclassified drawings than this make clusters meaningless
# More are clustered as a fixed random sample of this size: the neighbour searches grow with the square of the
# count (100,000 wrong drawings of a weak 345-class model: 53 s, most of it DBSCAN's).
MAX_CLUSTERED = 20_000
FEATURES = ("pixels", "penultimate")


@dataclass
class Cluster:
    """One group of drawings: its size, the dominant truth -> prediction and typical members."""

    id: int  # -1 is DBSCAN's noise
    size: int
    truth: str  # dominant true class
    predicted: str  # dominant predicted class
    pair_count: int  # members with exactly that truth -> prediction
    representatives: list[int]  # drawing indices closest to the centroid, nearest first
    indices: np.ndarray = field(repr=False, compare=False)  # drawing indices (into the Predictions)
    top_predicted: list[tuple[str, int]] = field(default_factory=list)  # "misclassified as X": 3 commonest
    top_truth: list[tuple[str, int]] = field(default_factory=list)  # 3 commonest true classes

    def to_dict(self, with_indices: bool = False) -> dict[str, Any]:
        """JSON-ready row."""
        d = {"id": self.id, "size": self.size, "truth": self.truth, "predicted": self.predicted,
             "pair_count": self.pair_count, "pair_share": self.pair_count / self.size if self.size else 0.0,
             "top_predicted": [[c, n] for c, n in self.top_predicted], "top_truth": [[c, n] for c, n in self.top_truth],
             "representatives": list(self.representatives)}
        if with_indices:
            d["indices"] = self.indices.tolist()
        return d


@dataclass
class Clustering:
    """One method's result on the misclassified drawings."""

    method: str  # "kmeans" | "dbscan"
    labels: np.ndarray  # cluster id per misclassified drawing (aligned with ClusterResult.indices)
    clusters: list[Cluster]  # largest first; DBSCAN noise (id -1) last
    params: dict[str, Any]  # k and silhouette scores, or eps and min_samples


@dataclass
class ClusterResult:
    """Everything the clustering views need."""

    indices: np.ndarray  # drawing indices of the misclassified drawings
    features: str
    n_components: int
    explained: float  # variance fraction kept by the PCA
    coords2d: np.ndarray  # (M, 2) first two principal components, for a scatter
    kmeans: Clustering | None
    dbscan: Clustering | None
    misclassified: int = 0  # all misclassified drawings; more than indices where a sample was clustered
    reduced: np.ndarray | None = field(default=None, repr=False)  # (M, n_components) PCA coordinates clustered

    def scope(self) -> str:
        """What was clustered, in words (scope)."""
        return scope(int(self.indices.size), max(self.misclassified, int(self.indices.size)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-drawing arrays)."""
        out: dict[str, Any] = {"n": int(self.indices.size), "of": max(self.misclassified, int(self.indices.size)),
                               "features": self.features,
                               "n_components": self.n_components, "explained": self.explained}
        for c in (self.kmeans, self.dbscan):
            if c is not None:
                out[c.method] = {"params": c.params, "clusters": [k.to_dict() for k in c.clusters]}
        return out


def scope(n: int, of: int) -> str:
    """'1,234 misclassified drawings', or 'a random 20,000 of 99,700 misclassified drawings'."""
    return f"{n:,} misclassified drawings" if n >= of else f"a random {n:,} of {of:,} misclassified drawings"


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Flattened pixels scaled to [0, 1], float32 (N, 784)."""
    images = np.asarray(images)
    return images.reshape(images.shape[0], -1).astype(np.float32) / 255.0


def final_linear(model):
    """The model's last nn.Linear (its classifier head)."""
    import torch.nn as nn  # lazy: torch (~1.2 s) is loaded only when used

    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None:
        raise ConfigError(f"model {_model_name(model)} has no final Linear layer to take penultimate features from")
    return last


def penultimate_features(model, images: np.ndarray, batch_size: int = 1024, device: str | None = None) -> np.ndarray:
    """The input of the model's final Linear for every drawing, float32 (N, D), of uint8 bitmaps (N, 28, 28) or of
    the (N, C, S, S) channels a raster CNN reads."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    head = final_linear(model)
    dev = torch.device(device) if device else next(model.parameters()).device
    captured: list[torch.Tensor] = []
    hook = head.register_forward_hook(lambda _m, inp, _out: captured.append(inp[0].detach().float().cpu()))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, len(images), batch_size):
                model(input_tensor(images[s: s + batch_size], dev))
    finally:
        hook.remove()
        model.train(was_training)
    if not captured:
        return np.zeros((0, head.in_features), np.float32)
    return torch.cat(captured).reshape(len(images), -1).numpy()


def reduce(x: np.ndarray, n_components: int | float = 50, seed: int = 0):
    """PCA to n components (int) or to a fraction of the variance (float in (0, 1)); returns (Z, pca)."""
    import sklearn  # lazy: scikit-learn (~1 s) is loaded only when used
    from sklearn.decomposition import PCA  # lazy: scikit-learn (~1 s) is loaded only when used

    n, d = x.shape
    # the d x d covariance route (scikit-learn >= 1.5) is several times faster than an SVD of the data
    # when drawings outnumber features
    new_enough = tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit()) >= (1, 5)
    solver = "covariance_eigh" if n >= d and new_enough else "full"
    if isinstance(n_components, float) and not n_components.is_integer():
        if not 0 < n_components < 1:
            raise ConfigError(f"PCA variance fraction must be between 0 and 1, got {n_components}")
        pca = PCA(n_components=n_components, svd_solver=solver, random_state=seed)
    else:
        k = int(n_components)
        if k < 1:
            raise ConfigError(f"PCA needs at least 1 component, got {k}")
        pca = PCA(n_components=min(k, n, d), svd_solver=solver, random_state=seed)
    z = pca.fit_transform(x).astype(np.float32)
    return z, pca


def kmeans(z: np.ndarray, k: int | None = None, k_range: tuple[int, int] = (2, 10), seed: int = 0,
           silhouette_sample: int = 2000) -> tuple[np.ndarray, int, dict[int, float]]:
    """K-Means labels with k given, or the k in k_range (inclusive) with the best silhouette score."""
    from sklearn.exceptions import ConvergenceWarning  # lazy: scikit-learn (~1 s) is loaded only when used

    with warnings.catch_warnings():
        # duplicate drawings can leave fewer distinct points than k; the silhouette then ranks that k low anyway
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _kmeans(z, k, k_range, seed, silhouette_sample)


def _kmeans(z: np.ndarray, k: int | None, k_range: tuple[int, int], seed: int,
            silhouette_sample: int) -> tuple[np.ndarray, int, dict[int, float]]:
    from sklearn.cluster import KMeans  # lazy: scikit-learn (~1 s) is loaded only when used
    from sklearn.metrics import silhouette_score  # lazy: scikit-learn (~1 s) is loaded only when used

    n = z.shape[0]
    if k is not None:
        if k < 1 or k > n:
            raise ConfigError(f"k={k} must be between 1 and the number of drawings clustered ({n})")
        return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(z), k, {}
    lo, hi = k_range
    hi = min(hi, n - 1)
    if lo < 2 or hi < lo:
        raise ConfigError(f"k range {k_range} is invalid for {n} drawings; give --k or a range starting at 2")
    scores: dict[int, float] = {}
    best = None
    for kk in range(lo, hi + 1):
        # one k-means++ start per k keeps the sweep fast; the silhouette compares the candidates
        labels = KMeans(n_clusters=kk, n_init=1, random_state=seed).fit_predict(z)
        if len(np.unique(labels)) < 2:
            continue
        # a sample keeps the O(n^2) silhouette cheap on thousands of drawings
        try:
            s = float(silhouette_score(z, labels, sample_size=min(n, silhouette_sample), random_state=seed))
        except ValueError:  # the sample held a single cluster
            continue
        scores[kk] = s
        if best is None or s > scores[best[0]]:
            best = (kk, labels)
    if best is None:
        raise DataError("K-Means found no split of the misclassified drawings; they are all alike")
    return best[1], best[0], scores


def knee_eps(z: np.ndarray, min_samples: int = 5) -> float:
    """eps at the knee of the sorted k-distance curve (distance to the min_samples-th neighbour)."""
    from sklearn.neighbors import NearestNeighbors  # lazy: scikit-learn (~1 s) is loaded only when used

    n = z.shape[0]
    kk = min(min_samples, n - 1)
    dist, _ = NearestNeighbors(n_neighbors=kk + 1).fit(z).kneighbors(z)
    d = np.sort(dist[:, kk])
    if d[-1] <= d[0]:
        return float(d[-1]) if d[-1] > 0 else 1e-6
    # kneedle: the point farthest below the chord from the first to the last point
    x = np.linspace(0.0, 1.0, d.size)
    y = (d - d[0]) / (d[-1] - d[0])
    knee = int(np.argmax(x - y))
    eps = float(d[knee])
    return eps if eps > 0 else float(d[d > 0][0]) if (d > 0).any() else 1e-6


def dbscan(z: np.ndarray, eps: float | None = None, min_samples: int = 5) -> tuple[np.ndarray, float]:
    """DBSCAN labels (-1 = noise) and the eps used (from the k-distance knee when not given)."""
    from sklearn.cluster import DBSCAN  # lazy: scikit-learn (~1 s) is loaded only when used

    if min_samples < 1:
        raise ConfigError(f"DBSCAN min_samples must be at least 1, got {min_samples}")
    if eps is None:
        eps = knee_eps(z, min_samples)
    elif not eps > 0 or not np.isfinite(eps):
        raise ConfigError(f"DBSCAN eps must be a positive number, got {eps}")
    return DBSCAN(eps=float(eps), min_samples=min_samples).fit_predict(z), float(eps)


def summarize_clusters(pred, indices: np.ndarray, z: np.ndarray, labels: np.ndarray,
                       n_representatives: int = 8) -> list[Cluster]:
    """Per cluster: size, dominant truth -> prediction, representatives nearest the centroid; largest first."""
    truth = np.asarray(pred.labels)[indices]
    guess = np.asarray(pred.predicted)[indices]
    out = []
    for cid in np.unique(labels):
        members = np.flatnonzero(labels == cid)
        (t, p), count = Counter(zip(truth[members].tolist(), guess[members].tolist())).most_common(1)[0]
        centre = z[members].mean(axis=0)
        near = members[np.argsort(((z[members] - centre) ** 2).sum(axis=1), kind="stable")[:n_representatives]]
        top_p = Counter(guess[members].tolist()).most_common(3)
        top_t = Counter(truth[members].tolist()).most_common(3)
        out.append(Cluster(id=int(cid), size=int(members.size), truth=pred.classes[t], predicted=pred.classes[p],
                           pair_count=int(count), representatives=[int(i) for i in indices[near]],
                           indices=indices[members].astype(np.int64),
                           top_predicted=[(pred.classes[c], int(n)) for c, n in top_p],
                           top_truth=[(pred.classes[c], int(n)) for c, n in top_t]))
    out.sort(key=lambda c: (c.id == -1, -c.size, c.id))
    return out


def misclassified(pred) -> np.ndarray:
    """Indices of the drawings whose top-1 prediction is wrong."""
    return np.flatnonzero(np.asarray(pred.predicted) != np.asarray(pred.labels)).astype(np.int64)


def misclassified_as(pred) -> dict[str, np.ndarray]:
    """Wrong drawings grouped by the class they were taken for ("misclassified as airplane"), largest first."""
    wrong = misclassified(pred)
    guess = np.asarray(pred.predicted)[wrong]
    groups = {pred.classes[c]: wrong[guess == c] for c in np.unique(guess)}
    return dict(sorted(groups.items(), key=lambda kv: (-kv[1].size, kv[0])))


def cluster_misclassified(pred, features: str | np.ndarray = "pixels", model=None,
                          n_components: int | float = 50, k: int | None = None, k_range: tuple[int, int] = (2, 10),
                          eps: float | None = None, min_samples: int = 5, methods: tuple[str, ...] = ("kmeans", "dbscan"),
                          seed: int = 0, n_representatives: int = 8, min_drawings: int = MIN_DRAWINGS,
                          max_drawings: int | None = None, inputs: Any = None) -> ClusterResult:
    """PCA + K-Means and/or DBSCAN on the misclassified drawings' pixels, penultimate features or given features
    (at most max_drawings of them, default MAX_CLUSTERED: a fixed random sample of more). `inputs(idx)`: what the
    model reads of those drawings for penultimate features (default: their bitmaps)."""
    for m in methods:
        if m not in ("kmeans", "dbscan"):
            raise ConfigError(f"unknown clustering method {m!r}; use kmeans or dbscan")
    if k is not None and k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if eps is not None and not (eps > 0 and np.isfinite(eps)):
        raise ConfigError(f"eps must be a positive number, got {eps}")
    idx = misclassified(pred)
    need = max(min_drawings, (k or 0) + 1)
    if idx.size < need:
        raise DataError(f"only {idx.size} misclassified drawings; clustering needs at least {need}")
    wrong = int(idx.size)
    cap = MAX_CLUSTERED if max_drawings is None else max(int(max_drawings), need)
    if wrong > cap:
        idx = np.sort(np.random.default_rng(seed).choice(idx, size=cap, replace=False))
    if isinstance(features, str):
        if features == "pixels":
            x, name = pixel_features(np.asarray(pred.images)[idx]), "pixels"
        elif features == "penultimate":
            if model is None:
                raise ConfigError("penultimate features need the run's model; use --features pixels or keep the checkpoint")
            seen = np.asarray(pred.images)[idx] if inputs is None else inputs(idx)
            x, name = penultimate_features(model, seen), "penultimate"
        else:
            raise ConfigError(f"unknown features {features!r}; use one of {', '.join(FEATURES)}")
    else:
        x, name = np.asarray(features, dtype=np.float32)[idx], "custom"
    # the study drops all-zero pixel columns; constant columns carry nothing for PCA either
    x = x[:, x.std(axis=0) > 0] if x.shape[1] > 1 else x
    if x.shape[1] == 0:
        raise DataError("the misclassified drawings are all identical; nothing to cluster")
    z, pca = reduce(x, n_components, seed)
    coords = z[:, :2] if z.shape[1] >= 2 else np.c_[z[:, :1], np.zeros((z.shape[0], 1), np.float32)]
    km = db = None
    if "kmeans" in methods:
        labels, kk, scores = kmeans(z, k, k_range, seed)
        km = Clustering("kmeans", labels, summarize_clusters(pred, idx, z, labels, n_representatives),
                        {"k": kk, "silhouette": scores})
    if "dbscan" in methods:
        labels, e = dbscan(z, eps, min_samples)
        db = Clustering("dbscan", labels, summarize_clusters(pred, idx, z, labels, n_representatives),
                        {"eps": e, "min_samples": min_samples, "noise": int((labels == -1).sum()),
                         "auto_eps": eps is None})
    return ClusterResult(indices=idx, features=name, n_components=int(z.shape[1]),
                         explained=min(1.0, float(np.sum(pca.explained_variance_ratio_))), coords2d=coords, kmeans=km,
                         dbscan=db, misclassified=wrong, reduced=z)


def _model_name(model) -> str:
    arch = getattr(model, "arch", None)
    return str(arch.get("name")) if isinstance(arch, dict) and arch.get("name") else type(model).__name__


def pack(result: ClusterResult) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """A ClusterResult as arrays and a JSON-ready dict (qdcore.analysis.cache)."""
    arrays = {"indices": result.indices, "coords2d": result.coords2d}
    meta: dict[str, Any] = {"features": result.features, "n_components": result.n_components,
                            "explained": result.explained, "misclassified": result.misclassified}
    for c in (result.kmeans, result.dbscan):
        if c is None:
            continue
        arrays[f"{c.method}_labels"] = c.labels
        for i, cl in enumerate(c.clusters):
            arrays[f"{c.method}_{i}"] = cl.indices
        meta[c.method] = {"params": c.params, "clusters": [cl.to_dict() for cl in c.clusters]}
    return arrays, meta


def unpack(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> ClusterResult:
    """The ClusterResult `pack` wrote."""
    methods: dict[str, Clustering | None] = {"kmeans": None, "dbscan": None}
    for m in methods:
        if m not in meta:
            continue
        clusters = [Cluster(id=d["id"], size=d["size"], truth=d["truth"], predicted=d["predicted"],
                            pair_count=d["pair_count"], representatives=list(d["representatives"]),
                            indices=arrays[f"{m}_{i}"], top_predicted=[tuple(x) for x in d["top_predicted"]],
                            top_truth=[tuple(x) for x in d["top_truth"]])
                    for i, d in enumerate(meta[m]["clusters"])]
        params = dict(meta[m]["params"])
        if m == "kmeans" and isinstance(params.get("silhouette"), dict):  # JSON keys are text; k is a number
            params["silhouette"] = {int(k): v for k, v in params["silhouette"].items()}
        methods[m] = Clustering(m, arrays[f"{m}_labels"], clusters, params)
    return ClusterResult(indices=arrays["indices"], features=meta["features"], n_components=meta["n_components"],
                         explained=meta["explained"], coords2d=arrays["coords2d"], kmeans=methods["kmeans"],
                         dbscan=methods["dbscan"], misclassified=meta["misclassified"])


def cluster_run(run_dir: Any, pred, features: str = "pixels", model=None, inputs: Any = None,
                **params: Any) -> ClusterResult:
    """cluster_misclassified, kept in the run's folder per features and parameters (qdcore.analysis.cache)."""
    key = {"features": features, **params}
    return cached(run_dir, "clusters", key,
                  lambda: cluster_misclassified(pred, features, model=model, inputs=inputs, **params), pack, unpack)
