"""How good generated doodles are, measured with a Quick, Draw! classifier as the judge.

Per epoch: the share of samples the judge labels as the intended class and its mean confidence, a
Frechet distance between the judge's penultimate features of generated and real test drawings (FID
with a doodle classifier instead of Inception), sample diversity against real diversity (a
mode-collapse alarm), speckle (ink pixels with at most one inked neighbour: isolated dots and broken
strokes) against the real drawings' own, and each sample's distance to its nearest training drawing
(memorisation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from qdcore.errors import ConfigError, StoreError
from qdcore.runs.kinds import JUDGE, able_kinds, require
from qdcore.stats import wilson_interval
from qdcore.train.gan_best import BestGenerator

if TYPE_CHECKING:
    from qdcore.store import Store


# -- pure functions ---------------------------------------------------------------------------------------


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), in float64."""
    f = np.asarray(features, np.float64)
    return f.mean(0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) between two Gaussians.

    tr((S1 S2)^1/2) is the sum of the square roots of the eigenvalues of S1 S2, which are real and
    non-negative for covariance matrices (S1 S2 is similar to S1^1/2 S2 S1^1/2); tiny negative
    round-off is clipped. This needs no matrix square root, so singular covariances are fine.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    eig = np.linalg.eigvals(s1 @ s2).real
    tr_sqrt = float(np.sqrt(np.clip(eig, 0, None)).sum())
    d = mu1 - mu2
    return float(max(0.0, d @ d + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt))


def mean_pairwise_distance(features: np.ndarray, max_n: int = 512) -> float:
    """Mean Euclidean distance between distinct pairs (the first max_n rows)."""
    f = np.asarray(features, np.float64)[:max_n]
    n = f.shape[0]
    if n < 2:
        return 0.0
    sq = (f * f).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * f @ f.T, 0, None)
    return float(np.sqrt(d2)[np.triu_indices(n, 1)].mean())


INK = 128  # grey level from which a pixel counts as ink (Google's strokes are 255 with anti-aliased edges)


def speckle_counts(images: np.ndarray) -> np.ndarray:
    """Per drawing, the count of ink pixels with at most one inked 8-neighbour (isolated dots, broken strokes)."""
    ink = np.asarray(images).reshape(-1, 28, 28) >= INK
    pad = np.pad(ink, ((0, 0), (1, 1), (1, 1))).astype(np.int8)
    neighbours = sum(pad[:, 1 + dy:29 + dy, 1 + dx:29 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                     if dy or dx)
    return (ink & (neighbours <= 1)).sum((1, 2))


def speckle(images: np.ndarray) -> float:
    """Mean count per drawing of ink pixels with at most one inked 8-neighbour (isolated dots, broken strokes)."""
    counts = speckle_counts(images)
    return float(counts.mean()) if len(counts) else float("nan")


def nearest_distances(samples: np.ndarray, train: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Per sample, the RMS pixel distance (0..1 scale) to its nearest training drawing: 0 means a copy."""
    # Whole grey levels in float64: every sum below is an exact integer, so a copy is exactly 0.
    s = np.asarray(samples, np.float64).reshape(len(samples), -1)
    t = np.asarray(train, np.float64).reshape(len(train), -1)
    if len(t) == 0 or len(s) == 0:
        return np.full(len(s), np.nan, np.float32)
    best = np.full(len(s), np.inf, np.float64)
    ss = (s * s).sum(1)
    for i in range(0, len(t), chunk):
        tc = t[i:i + chunk]
        best = np.minimum(best, (ss[:, None] + (tc * tc).sum(1)[None, :] - 2 * s @ tc.T).min(1))
    return (np.sqrt(np.clip(best, 0, None) / s.shape[1]) / 255.0).astype(np.float32)


def recognised(probs: np.ndarray, intended: list[int]) -> tuple[float, float]:
    """(share whose top class is among `intended`, mean probability of the best intended class)."""
    p = np.asarray(probs, np.float64)
    if len(p) == 0:
        return float("nan"), float("nan")
    top = p.argmax(1)
    hit = np.isin(top, intended)
    return float(hit.mean()), float(p[:, intended].max(1).mean())


def judged_interval(row: dict[str, Any]) -> tuple[float, float] | None:
    """95% Wilson interval of an epoch row's judged share over the samples judged (None: count not recorded)."""
    share, n = row.get("quality/recognised"), row.get("quality/judged_n")
    if share is None or n is None or share != share or n != n or n < 1:
        return None
    return wilson_interval(int(round(share * n)), int(n))


# -- the judge ----------------------------------------------------------------------------------------------


class Judge:
    """A finished classifier run's model: probabilities and penultimate features of uint8 drawings."""

    def __init__(self, model, classes: list[str], run_id: int | None, device) -> None:
        import torch  # lazy: torch (~1.2 s) is loaded only when used

        self.model, self.classes, self.run_id, self.device = model.eval(), list(classes), run_id, device
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not last:
            raise ConfigError(f"judge run {run_id}'s model has no dense output layer to take features from")
        self._head = last[-1]

    def __call__(self, images: np.ndarray, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """(probs float32 (N, C), features float32 (N, D)): the input of the last dense layer is the feature."""
        import torch  # lazy: torch (~1.2 s) is loaded only when used

        imgs = np.asarray(images, np.uint8).reshape(-1, 1, 28, 28)
        probs, feats = [], []
        grabbed: list = []
        hook = self._head.register_forward_pre_hook(lambda _m, args: grabbed.append(args[0].detach()))
        try:
            with torch.inference_mode():
                for i in range(0, len(imgs), batch):
                    x = torch.from_numpy(imgs[i:i + batch]).to(self.device).float().div_(255.0)
                    grabbed.clear()
                    logits = self.model(x).float()
                    probs.append(logits.softmax(1).cpu().numpy())
                    feats.append(grabbed[-1].float().flatten(1).cpu().numpy())
        finally:
            hook.remove()
        if not probs:
            return np.zeros((0, len(self.classes)), np.float32), np.zeros((0, 0), np.float32)
        return np.concatenate(probs).astype(np.float32), np.concatenate(feats).astype(np.float32)

    def indices(self, gan_classes: list[str]) -> list[int]:
        """The judge's index of each GAN class."""
        return [self.classes.index(c) for c in gan_classes]

    def score(self, ref: Reference, generated: dict[int, np.ndarray], classes: list[str],
              collapse_threshold: float = 0.5, conditional: bool = True) -> dict[str, float]:
        """quality_metrics of drawings generated per GAN class (training calls this: train sits below analysis)."""
        return quality_metrics(self, ref, generated, classes, collapse_threshold, conditional=conditional)

    def reference(self, splits, gan_classes: list[str]) -> Reference:
        """Features and statistics of the real drawings the samples are compared with."""
        test = splits.test if len(splits.test) else splits.train
        _, feats = self(test.images)
        per_class = {}
        for c in range(len(gan_classes)):
            f = feats[np.asarray(test.labels) == c]
            per_class[c] = mean_pairwise_distance(f)
        train_by_class = {c: np.asarray(splits.train.images)[np.asarray(splits.train.labels) == c]
                          for c in range(len(gan_classes))}
        labels = np.asarray(test.labels)
        # Speckle is a property of real drawings, not a fitted score: every real drawing of the run estimates it
        # (the 300 test apples alone gave 0.33 or 0.28 a drawing with the split's seed; all 3,000: 0.30).
        every = {c: np.concatenate([train_by_class[c], np.asarray(test.images)[labels == c]])
                 for c in range(len(gan_classes))}
        speckle_by_class = {c: speckle(every[c]) for c in every}
        mu, sigma = gaussian_stats(feats)
        return Reference(mu, sigma, feats, labels, per_class, mean_pairwise_distance(feats),
                         train_by_class, self.indices(gan_classes), speckle(np.concatenate(list(every.values()))),
                         speckle_by_class)


@dataclass
class Reference:
    """Real test drawings seen by the judge, and the training drawings (for the memorisation check)."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    labels: np.ndarray
    diversity_by_class: dict[int, float]
    diversity: float
    train_by_class: dict[int, np.ndarray]
    judge_index: list[int]  # GAN class c is judge class judge_index[c]
    speckle: float = float("nan")  # of every real drawing (train and test): what the samples' speckle is compared with
    speckle_by_class: dict[int, float] = field(default_factory=dict)


def quality_metrics(judge: Judge, ref: Reference, generated: dict[int, np.ndarray], classes: list[str],
                    collapse_threshold: float = 0.5, conditional: bool = True) -> dict[str, float]:
    """Metrics keyed 'quality/...' and 'recognised/<class>' for samples generated per GAN class.

    Conditional (AC-GAN, per-class): generated[c] are drawings meant to be class c. Unconditional:
    generated[0] are drawings meant to be any of the GAN's classes.
    """
    out: dict[str, float] = {}
    all_feats, hits, confs, ratios, nearest, speckles = [], [], [], [], [], []
    for c, imgs in generated.items():
        probs, feats = judge(imgs)
        intended = [ref.judge_index[c]] if conditional else list(ref.judge_index)
        share, conf = recognised(probs, intended)
        hits.append(share)
        confs.append(conf)
        if conditional:
            out[f"recognised/{classes[c]}"] = share
            real_div = ref.diversity_by_class.get(c, 0.0)
            train = ref.train_by_class[c]
            out.update(class_quality(ref, c, classes[c], feats, imgs, real_div))
        else:
            real_div = ref.diversity
            train = np.concatenate(list(ref.train_by_class.values()))
        if real_div > 0:
            ratios.append(mean_pairwise_distance(feats) / real_div)
        nearest.append(nearest_distances(imgs, train))
        speckles.append(speckle(imgs))
        all_feats.append(feats)
    feats = np.concatenate(all_feats)
    mu, sigma = gaussian_stats(feats)
    out["quality/recognised"] = float(np.mean(hits))  # every class judges the same number: the pooled share
    out["quality/judged_n"] = float(sum(len(imgs) for imgs in generated.values()))
    out["quality/confidence"] = float(np.mean(confs))
    # A judge whose features do not vary over real drawings (a dead or untrained layer) sees every sample as
    # the real mean: its distance would read 0, "perfect". It is undefined, and recorded as such.
    spread = float(np.trace(ref.sigma)) if np.ndim(ref.sigma) == 2 else 0.0
    out["quality/fid"] = frechet_distance(mu, sigma, ref.mu, ref.sigma) if spread > 1e-12 else float("nan")
    ratio = float(np.min(ratios)) if ratios else float("nan")
    out["quality/diversity"] = ratio
    out["quality/collapse"] = float(ratio < collapse_threshold) if ratios else float("nan")
    out["quality/speckle"] = float(np.mean(speckles))
    out["quality/speckle_real"] = float(ref.speckle)
    # As a multiple of the real drawings' own (which have almost none: NaN where they have none at all).
    out["quality/speckle_ratio"] = out["quality/speckle"] / ref.speckle if ref.speckle > 0 else float("nan")
    near = np.concatenate(nearest)
    out["quality/nearest"] = float(np.nanmean(near))
    out["quality/nearest_min"] = float(np.nanmin(near))
    return out


# Per-class metrics of conditional and per-class GANs: 'recognised/<class>' (judged share), 'fid/<class>',
# 'diversity/<class>' and 'speckle/<class>' (a multiple of that class's real drawings').
CLASS_PREFIXES = ("recognised/", "fid/", "diversity/", "speckle/")


def class_quality(ref: Reference, c: int, name: str, feats: np.ndarray, imgs: np.ndarray,
                  real_div: float) -> dict[str, float]:
    """One class's Frechet distance (against that class's real drawings), diversity and speckle ratio, keyed
    'fid/<class>', 'diversity/<class>', 'speckle/<class>' (NaN where the class has too few real drawings)."""
    real = ref.features[ref.labels == c]
    nan = float("nan")
    fid = nan
    if len(real) > 1 and len(feats) > 1:
        mu, sigma = gaussian_stats(real)
        if np.trace(sigma) > 1e-12:
            fid = frechet_distance(*gaussian_stats(feats), mu, sigma)
    real_speckle = ref.speckle_by_class.get(c, nan)
    return {f"fid/{name}": fid,
            f"diversity/{name}": mean_pairwise_distance(feats) / real_div if real_div > 0 else nan,
            f"speckle/{name}": speckle(imgs) / real_speckle if real_speckle > 0 else nan}


def check_judge(store: Store, run_id: int, gan_classes: list[str]) -> list[str]:
    """The judge run's classes, or a one-line ConfigError: not a finished classifier, or missing a GAN class."""
    from qdcore.train.checkpoint import read_meta  # lazy: loads torch (~1.2 s)

    rec = require(store, run_id, JUDGE, f"--judge {run_id}")
    if rec.status != "done":
        raise ConfigError(f"--judge {rec.id}: run {rec.id} is {rec.status}; a judge must be a finished classifier run")
    classes = list(read_meta(store.run_dir(rec.id, create=False))["classes"])
    missing = [c for c in gan_classes if c not in classes]
    if missing:
        raise ConfigError(f"--judge {rec.id}: run {rec.id} was not trained on {', '.join(repr(m) for m in missing)}; "
                          "the judge's classes must include every class of the GAN")
    return classes


@overload
def load_judge(store: Store, run_id: int, gan_classes: list[str], device: str = "auto") -> Judge: ...
@overload
def load_judge(store: Store, run_id: int | None, gan_classes: list[str], device: str = "auto") -> Judge | None: ...


def load_judge(store: Store, run_id: int | None, gan_classes: list[str], device: str = "auto") -> Judge | None:
    """The judge run's model (the best finished classifier covering the classes when run_id is None; None if none)."""
    from qdcore.train.checkpoint import load_model  # lazy: loads torch (~1.2 s)
    from qdcore.train.device import resolve  # lazy: loads torch (~1.2 s)

    rt = resolve(device, None)
    if run_id is None:
        run_id = best_judge(store, gan_classes)
        if run_id is None:
            return None
    check_judge(store, run_id, gan_classes)
    model, meta = load_model(store.run_dir(int(run_id), create=False), rt.device)
    return Judge(model, list(meta["classes"]), int(run_id), rt.device)


def best_judge(store: Store, gan_classes: list[str]) -> int | None:
    """The finished classifier run with the best test top-1 whose classes include all of `gan_classes`."""
    from qdcore.train.checkpoint import read_meta  # lazy: loads torch (~1.2 s)

    best: tuple[float, int] | None = None

    runs = [r for k in able_kinds(JUDGE) for r in store.list_runs(kind=k, status="done", limit=10_000)]
    for rec in runs:
        score = rec.summary.get("test_top1")
        if score is None:
            continue
        try:
            classes = read_meta(store.run_dir(rec.id, create=False))["classes"]
        except StoreError:
            continue
        if all(c in classes for c in gan_classes) and (best is None or float(score) > best[0]):
            best = (float(score), rec.id)
    return None if best is None else best[1]


def summarize_history(history: dict[str, list[float]], best_by: str | None = None) -> list[dict[str, Any]]:
    """Per-epoch rows of the quality table (epoch, recognised, confidence, fid, diversity, speckle, nearest, losses,
    per-class shares); with `best_by`, the row of the epoch its criterion keeps has "best": True."""
    keys: tuple[str, ...] = ("train/g_loss", "train/d_loss", "train/d_real", "train/d_fake", "quality/recognised",
            "quality/confidence", "quality/fid", "quality/diversity", "quality/speckle", "quality/speckle_ratio",
            "quality/speckle_real", "quality/nearest", "quality/collapse", "quality/judged_n", "train/cpu_seconds")
    keys += tuple(sorted(k for k in history if k.startswith(CLASS_PREFIXES)))
    rows: list[dict[str, Any]] = []
    for i, ep in enumerate(history.get("epoch", [])):
        row = {"epoch": int(ep), **{k: history[k][i] for k in keys if k in history and i < len(history[k])}}
        interval = judged_interval(row)
        if interval is not None:
            row["quality/recognised_low"], row["quality/recognised_high"] = interval
        rows.append(row)
    if best_by is not None:
        keeper = BestGenerator(best_by)  # the same choice the training loop made, replayed over the rows
        for r in rows:
            keeper.offer(r["epoch"], r)
        for r in rows:
            r["best"] = r["epoch"] == keeper.epoch
    return rows
