"""The `clusters` kind: study 004's clustering of a finished classifier's misclassified test drawings, as a run.

`qd train --kind clusters --model kmeans --run 7` (or dbscan) evaluates run 7 on its test split, clusters the
drawings it got wrong (PCA, then K-Means or DBSCAN; qdcore.analysis.clusters) and records how well they
cluster: the silhouette, the purity (share of each cluster's drawings taken for its commonest wrong class:
004's "misclassified as airplane") and the same purity with the clusters' members shuffled (chance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qdcore.errors import ConfigError
from qdcore.events import RunFinished, RunStarted
from qdcore.fmt import DASH
from qdcore.options import RunConfig, option
from qdcore.runs.context import RunContext
from qdcore.runs.kinds import Column, RunKind, find_kind, register

METHODS = ("kmeans", "dbscan")
_P = "Clusters"


@dataclass
class ClustersConfig(RunConfig):
    """Which finished run's mistakes to cluster, and how."""

    model: str = option("kmeans", help="Clustering method: kmeans (k by silhouette unless --k) or dbscan (eps at "
                        "the k-distance knee).", panel=_P, short="-m", choices=METHODS, form="Model",
                        metavar="METHOD")
    run: int | None = option(None, help="The finished classifier run whose misclassified test drawings are "
                             "clustered.", panel=_P, min=1, max=2**62, form="Run", metavar="RUN")
    features: str = option("pixels", help="What is clustered: pixels (004: the drawings' pixels) or penultimate "
                           "(the model's features).", panel=_P, choices=("pixels", "penultimate"))
    components: int = option(50, help="PCA components kept before clustering.", panel=_P, min=1, max=784)
    k: int | None = option(None, help="K-Means clusters (default: the best silhouette for k in 2..10).", panel=_P,
                           min=2, max=1000)
    min_samples: int = option(5, help="DBSCAN: neighbours that make a core point.", panel=_P, min=1, max=1000)

    def validate(self, origin: str = "option") -> ClustersConfig:
        """A clustering needs the run it clusters."""
        super().validate(origin)
        self.run_id(origin)
        return self

    def run_id(self, origin: str = "option") -> int:
        """The run it clusters (ConfigError without one)."""
        if self.run is None:
            raise ConfigError(f"{origin}: a clusters run needs --run RUN, the finished classifier whose "
                              "misclassified drawings it clusters")
        return self.run


def prepare(cfg: ClustersConfig, ctx: RunContext | None = None) -> ClustersConfig:
    """The run must be a finished run of a kind that classifies (one-line error before the row exists)."""
    with (ctx or RunContext()).open_store() as store:
        rec = store.get_run(cfg.run_id())
        kind = find_kind(rec.kind)
        if kind is None or kind.evaluate is None or rec.status != "done":
            raise ConfigError(f"--run {rec.id}: run {rec.id} is a {rec.status} {rec.kind} run; clusters need a "
                              "finished classifier run")
    return cfg


def purity(groups: list[Any], guesses: Any) -> float:
    """Share of the clustered drawings that are their cluster's commonest wrong guess (noise left out)."""
    import numpy as np  # lazy: keeps numpy out of qd --help

    hits = total = 0
    for members in groups:
        if len(members):
            hits += int(np.bincount(guesses[members]).max())
            total += len(members)
    return hits / total if total else float("nan")


def score(result: Any, pred: Any, seed: int) -> dict[str, float]:
    """Silhouette, purity and chance purity of one method's clustering of the misclassified drawings."""
    import numpy as np  # lazy: keeps numpy out of qd --help
    from sklearn.metrics import silhouette_score  # lazy: scikit-learn (~1 s) is loaded only when used

    c = result.kmeans or result.dbscan
    labels = np.asarray(c.labels)
    kept = labels != -1  # DBSCAN's noise belongs to no cluster
    guesses = np.asarray(pred.predicted)[result.indices]
    groups = [np.flatnonzero(labels == cid) for cid in np.unique(labels[kept])]
    shuffled = np.random.default_rng(seed).permutation(guesses)
    n_clusters = len(groups)
    sil = float(silhouette_score(result.reduced[kept], labels[kept])) if 2 <= n_clusters < kept.sum() else float("nan")
    return {"silhouette": sil, "purity": purity(groups, guesses), "chance_purity": purity(groups, shuffled),
            "clusters": n_clusters, "noise": float(1 - kept.mean()), "misclassified": int(result.misclassified),
            "clustered": int(len(labels))}


def train(ctx: RunContext) -> dict[str, Any]:
    """Evaluate the run on its test split, cluster its mistakes, record the scores."""
    from qdcore.analysis.clusters import cluster_misclassified  # lazy: keeps numpy out of qd --help
    from qdcore.analysis.metrics import evaluation_metrics  # lazy: keeps numpy out of qd --help
    from qdcore.runs.run import evaluate  # lazy: keeps the store out of qd --help

    cfg = ctx.cfg
    with ctx.open_store() as store:  # the run's own store: the run it clusters lives there
        ev = evaluate(store, int(cfg.run))
        model = None
        if cfg.features == "penultimate":
            from qdcore.train.checkpoint import load_model  # lazy: loads torch (~1.2 s)

            model = load_model(store.run_dir(int(cfg.run), create=False))[0]
    pred = ev.predictions
    ctx.sink(RunStarted(ctx.run_id, cfg.name, cfg.to_dict(), "cpu", 1, 1, len(pred.labels)))
    result = cluster_misclassified(pred, cfg.features, model, n_components=cfg.components, k=cfg.k,
                                   min_samples=cfg.min_samples, methods=(cfg.model,), seed=cfg.seed)
    summary = {"model": cfg.model, "source_run": int(cfg.run), "source_top1": float(evaluation_metrics(ev)["top1"]),
               **score(result, pred, cfg.seed)}
    ctx.sink(RunFinished("done", summary))
    return summary


def _f(v: Any) -> str:
    return DASH if v is None or v != v else f"{v:.3f}"


def result_line(s: dict[str, Any]) -> str:
    """'4 clusters of 212 misclassified drawings · silhouette 0.081 · purity 0.64 (chance 0.41)'."""
    return (f"{s.get('clusters', 0)} clusters of {s.get('clustered', 0)} misclassified drawings · silhouette "
            f"{_f(s.get('silhouette'))} · purity {_f(s.get('purity'))} (chance {_f(s.get('chance_purity'))})")


KIND = register(RunKind(
    name="clusters",
    title="clusters of misclassified drawings",
    config=ClustersConfig,
    train=train,
    models=lambda: METHODS,
    prepare=prepare,
    default_name=lambda cfg: f"{cfg.model} of run {cfg.run}'s mistakes",
    resumable=False,
    rate_unit="drawings/s",
    result_line=result_line,
    study_metrics=("silhouette", "purity", "chance_purity", "clusters", "noise", "misclassified"),
    columns=(
        Column("model", "method", 7, lambda c, s: c.get("model"), str, right=False),
        Column("silhouette", "silh.", 6, lambda c, s: s.get("silhouette"), _f),
        Column("purity", "purity", 6, lambda c, s: s.get("purity"), _f),
    ),
))
