"""The seed studies' experiments that use earlier runs (staged studies, qdcore.studies.stages): 001's GAN
augmentation and discriminator-as-classifier, 003's one- vs two-class GANs, 004's clusters of mistakes.

A category written "{0}" in a variant is the study's first chosen category (after any substitution).
"""

from __future__ import annotations

from typing import Any

from qdcore.data.categories import NAMED_SETS
from qdcore.studies.claims import Claim, differs

# Substitutes by meaning where the data lacks the protocol's categories (before its best-stocked ones).
MAMMALS_ALIKE = ("lion", "zebra", "bear", "cat", "dog", "monkey", "rabbit", "sheep", "tiger", "horse", "cow")
_FRUIT_ALIKE = ("pear", "strawberry", "grapes", "pineapple", "watermelon", "carrot")
_FLYING_ALIKE = ("helicopter", "butterfly", "duck", "owl", "bee")

_KERAS = ("init: Keras's (glorot-uniform kernels, zero biases) for every model, as the paper's Keras/TensorFlow "
          "ones",)
_QUICK_GAN = ("--quick: 1,000 drawings a class, 300 steps a trial (gan-augment's CNNs 150, for its 15-minute "
              "budget), GAN widths 16 (qd's default 64) so the GANs "
              "run in CPU minutes")

# Study 001's CNN recipe (sec. 3) around its best model (sec. 5), and its AC-GAN's (sec. 4, GAN).
_CNN001 = {"model": "cnn-001-best", "optimizer": "adam", "lr": 0.01, "eps": 1e-7, "batch_size": 256, "epochs": 30,
           "patience": 6, "plateau_patience": 2, "plateau_factor": 0.1, "min_lr": 0.0}
# --quick's warm-up to 001's Adam lr 0.01, in epochs: measured on the shared mammals, 15 of 45 one-at-a-time
# trials at lr 0.01 from the first step predicted one class at the end (filter 4/5, doubled convs, 001's best
# model at every seed); warmed up over 2 of 12 epochs each of those trained (filter 4 seed 0: 67.3%, 14.3% without).
QUICK_WARMUP_001 = 2.0
# --quick: the same recipe without early stopping, warmed up; epochs are raised to the study's minimum steps.
_CNN_QUICK = {**_CNN001, "patience": 0, "epochs": 1, "warmup_epochs": QUICK_WARMUP_001}
_QUICK_WARM = (f"--quick: the CNN's lr rises linearly to 001's Adam lr 0.01 over its first {QUICK_WARMUP_001:g} "
               "epochs (001 has no warm-up): at 0.01 from the first step 001's best model predicted one class at "
               "every seed of one-at-a-time --quick")
_ACGAN001 = {"kind": "gan", "model": "acgan", "epochs": 2000, "batch_size": 100, "lr_g": 0.004, "lr_d": 0.004,
             "beta1": 0.5, "no_judge": True}
# --quick: 13 epochs of the 2,400 training drawings at batch 100 (312 steps), whatever the study's minimum steps:
# gan-augment's CNNs take 150 steps (its cost is theirs: 0.58 CPU-min a CNN at 300 steps, 0.35 the GAN), the GAN
# keeps the 300 it had.
_GAN_QUICK = {"epochs": 13, "g_width": 16, "d_width": 16}


def _acgan(quick: bool, name: str) -> dict[str, Any]:
    return {"name": name, **_ACGAN001, **(_GAN_QUICK if quick else {})}


def _cnn(quick: bool) -> dict[str, Any]:
    return dict(_CNN_QUICK if quick else _CNN001)


def _data001(quick: bool) -> dict[str, Any]:
    # 001: 6,000 a class split 60/20/20; the GAN trains on the same training drawings (same seed and split).
    return {"per_class": 1000 if quick else 6000, "val": 0.2, "test": 0.2}


def _gan_augment(quick: bool) -> dict[str, Any]:
    return {"base": _data001(quick), "variants": [_acgan(quick, "AC-GAN")],
            "then": [{"refs": {"synthetic": "AC-GAN"},
                      "variants": [{"name": "real", **_cnn(quick), "synthetic": None},
                                   {"name": "gan 30%", **_cnn(quick), "synthetic_fraction": 0.3},
                                   {"name": "gan 50%", **_cnn(quick), "synthetic_fraction": 0.5}]}]}


def _d_classifier(quick: bool) -> dict[str, Any]:
    return {"base": _data001(quick), "variants": [_acgan(quick, "D class head"), {"name": "CNN", **_cnn(quick)}]}


def _gan_classes(quick: bool) -> dict[str, Any]:
    # The judge knows more categories than the GANs draw, so "recognised as apple" means something.
    judge = {"name": "judge", "model": "widthk", "width": 8 if quick else 12, "epochs": 10 if quick else 30,
             "batch_size": 32 if quick else 128, "patience": 0 if quick else 3}
    gan = {"kind": "gan", "model": "dcgan", "lr_g": 1e-3, "lr_d": 1e-3, "beta1": 0.5, "val": 0.0,
           "batch_size": 64 if quick else 256, "epochs": 1 if quick else 200, "quality_n": 128 if quick else 1000,
           **({"g_width": 16, "d_width": 16} if quick else {})}
    return {"base": {"per_class": 300 if quick else 10000, "val": 0.1, "test": 0.1}, "variants": [judge],
            "then": [{"refs": {"judge": "judge"},
                      "variants": [{"name": "one class", **gan, "categories": "{0}"},
                                   {"name": "two classes", **gan, "categories": "{0},{1}"}]}]}


def _clusters(quick: bool) -> dict[str, Any]:
    # 004: 6,250 test drawings of 5 classes (1,250 each: 20% of 6,250 a class); 525 were misclassified.
    cnn = {"name": "CNN", "model": "widthk", "width": 4 if quick else 12, "epochs": 4 if quick else 10,
           "batch_size": 32 if quick else 128}
    return {"base": {"per_class": 300 if quick else 6250, "val": 0.1, "test": 0.2}, "variants": [cnn],
            "then": [{"refs": {"run": "CNN"},
                      "variants": [{"name": m, "kind": "clusters", "model": m} for m in ("kmeans", "dbscan")]}]}


def _vs(metric: str, a: str, b: str, expect: str, text: str, **kw: Any) -> Claim:
    return differs(metric, {"variant": a}, {"variant": b}, expect, text, **kw)


GAN_AUGMENT = (
    _vs("test_top1", "gan 30%", "real", "~", "30% GAN drawings leave test accuracy unchanged (within 2 points)",
        margin=0.02, paper=0.0, paper_text="0.81 with and without"),
    _vs("train_top1", "gan 30%", "real", "-", "30% GAN drawings lower the training accuracy",
        paper_text="dropped dramatically to 0.67",
        # measured on the shared mammals: +0.109 [0.012, 0.205] over 3 seeds, 0 trials untrained
        quick_cannot="its AC-GAN (widths 16, 312 steps; 001's: 2,000 epochs) draws class-typical shapes that its "
                     "own class head was trained to recognise, easier to fit than real drawings, so training "
                     "accuracy rises; the full protocol's GAN can judge it"),
    _vs("test_top1", "gan 50%", "real", "~", "50% GAN drawings score within 5 points of real data", margin=0.05,
        paper_text="no figure; 'did not differ significantly'"),
)
D_CLASSIFIER = (
    _vs("test_top1", "CNN", "D class head", "+", "the CNN beats the AC-GAN discriminator's class head",
        paper=0.23, paper_text="recall 0.81 vs 0.58"),
)
GAN_CLASSES = (
    _vs("recognised", "one class", "two classes", "+", "a one-class GAN's drawings are recognised more often",
        paper_text="apples look real by epoch 50; apples + bananas not by 200"),
    _vs("fid", "one class", "two classes", "-", "a one-class GAN's drawings are closer to real ones (Frechet)",
        paper_text="one class is easier: faster, no confusion"),
)
CLUSTERS = (
    differs("purity", {"variant": "kmeans"}, None, "+", "K-Means clusters group drawings taken for the same class "
            "(purity above chance)", minus="chance_purity", paper_text="clusters 'misclassified as airplane'"),
    Claim("level", "silhouette", "the misclassified drawings form clusters (K-Means silhouette above 0)", "+",
          where={"variant": "kmeans"}, paper_text="K-Means clusters shown"),
)

ABOUT = {
    "gan-augment": ("001 sec. 5", "an AC-GAN's drawings replace 0%, 30% or 50% of the CNN's training data; same "
                    "real test set", _gan_augment, NAMED_SETS["mammals"], 4, GAN_AUGMENT,
                    {"show": ["train_top1", "val_top1", "test_top1", "test_loss"]},
                    ("001's best GAN (9-conv D, 7-conv G) is not qd's: qd's AC-GAN is its DCGAN with a label "
                     "embedding and a class head, at 001's batch 100, Adam lr 0.004, beta1 0.5 and 2,000 epochs",
                     "001 trained its GAN on 6,000 a class; qd trains it on the CNN's own training drawings (60% "
                     "of 6,000), so no test drawing is ever seen by either",
                     "001's 50% figure is not reported; qd adds it as the issue's 'within 5 points'",
                     _QUICK_GAN, _QUICK_WARM, *_KERAS), MAMMALS_ALIKE),
    "d-classifier": ("001 sec. 5", "the AC-GAN discriminator's class head vs 001's best CNN on the same drawings",
                     _d_classifier, NAMED_SETS["mammals"], 4, D_CLASSIFIER, {"show": ["test_top1", "test_loss"]},
                     ("001 gave its discriminator 4,800 training and 2,200 test drawings a class and the CNN "
                      "3,600 / 1,200; qd trains both on the same 3,600 and tests both on the same 1,200",
                      "001 compares precision and recall; qd's test_top1 on a balanced test set equals the "
                      "macro recall", _QUICK_GAN, _QUICK_WARM, *_KERAS), MAMMALS_ALIKE),
    "gan-classes": ("003 GANs", "a DCGAN on apples alone vs one on apples + bananas, judged by a classifier: "
                    "recognised share and Frechet distance", _gan_classes,
                    ["apple", "banana", "rainbow", "lighthouse", "giraffe", "eyeglasses", "tooth", "teapot", "sock",
                     "cow"], 6, GAN_CLASSES, {"show": ["test_top1", "recognised", "fid", "diversity"]},
                    ("003 judged by eye; qd's judge is a width-k CNN on apple, banana and 8 other categories, so a "
                     "drawing counts as recognised when its top class is one the GAN was asked for (apple; apple "
                     "or banana): the two-class GAN has the easier target",
                     "each GAN's Frechet distance is to the real drawings of its own classes",
                     "003 gives no data size or batch: qd uses 10,000 a class and the TensorFlow recipe's 256, "
                     "Adam lr 1e-3 (003's slide) for 200 epochs (003's last GIF frame)",
                     "not measured: which class the two-class GAN's drawings turn into (003: bananas into apples)",
                     "--quick: 300 drawings a class, 150 steps a trial, batch 64 and GAN widths 16", *_KERAS),
                    _FRUIT_ALIKE),
    "clusters": ("004", "clustering of a CNN's misclassified test drawings: silhouette and purity per method",
                 _clusters, ["airplane", "cat", "tree", "car", "bird"], 5, CLUSTERS,
                 {"show": ["test_top1", "silhouette", "purity", "chance_purity", "clusters", "noise"]},
                 ("004's classifier read 66x100 renders of the strokes; qd's drawings are 28x28, so its width-k CNN "
                  "(k = 12) stands in",
                  "004 names airplane, cat and tree among its 5 classes; qd adds car and bird",
                  "004 clusters the pixels after PCA as qd does; it gives no silhouette or purity, only the "
                  "clusters' pictures, so the claims are directions (purity above chance, silhouette above 0)",
                  *_KERAS), _FLYING_ALIKE),
}
