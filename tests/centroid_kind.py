"""A tiny run kind built from the real pieces (nearest class mean on the real data selection), for tests.

Defining it registers nothing: tests register it (and `centroid_plugin`, named in $QD_KINDS, does so in the
`qd train` children the launcher starts), so no other test sees it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qdcore.events import EpochEnd, RunFinished, RunStarted, Samples
from qdcore.runs.kinds import Column, Panel, RunKind
from qdcore.runs.options import RunConfig, option


@dataclass
class CentroidConfig(RunConfig):
    """Nearest-class-mean classifier: the means are refined over `rounds` passes with a shrinkage."""

    model: str = option("centroid", help="The centroid model.", panel="Centroid", choices=("centroid",),
                        form="Model")
    rounds: int = option(2, help="Passes over the training split.", panel="Centroid", min=1, max=50,
                         form="Rounds")
    shrink: float = option(0.0, help="Shrink the means toward the grand mean.", panel="Centroid", min=0, max=1,
                           form="Shrink")


def train_centroid(cfg, sink, should_stop, run_dir, resume):
    from qdcore.data.drawingset import select, split
    from qdcore.data.opener import open_source

    s = split(select(open_source(cfg.data), cfg.categories, cfg.per_class, cfg.seed, cfg.imbalance),
              cfg.val, cfg.test, cfg.seed)
    x = np.asarray(s.train.images, np.float32).reshape(len(s.train), -1) / 255
    y = np.asarray(s.train.labels)
    vx = np.asarray(s.val.images, np.float32).reshape(len(s.val), -1) / 255
    vy = np.asarray(s.val.labels)
    k = len(s.train.classes)
    sink(RunStarted(None, cfg.name, cfg.to_dict(), "cpu numpy", cfg.rounds, 1, len(x), "fp", {"classes": k}))
    means = np.zeros((k, x.shape[1]), np.float32)
    acc = 0.0
    for r in range(1, cfg.rounds + 1):
        for c in range(k):
            means[c] = x[y == c].mean(0) if (y == c).any() else 0
        means = (1 - cfg.shrink) * means + cfg.shrink * means.mean(0)
        acc = float((np.argmin(((vx[:, None] - means[None]) ** 2).sum(-1), 1) == vy).mean()) if len(vx) else 0.0
        sink(EpochEnd(r, r, 0.01, {"val/acc": acc, "train/classes": float(k)}))
        sink(Samples(r, r, (means.reshape(k, 28, 28) * 255).astype(np.uint8), list(s.train.classes), "means"))
    summary = {"val_acc": acc, "classes": k}
    sink(RunFinished("done", summary))
    return summary


CENTROID = RunKind(
    name="centroid", config=CentroidConfig, train=train_centroid, models=lambda: ("centroid",),
    panels=(Panel("acc", "val accuracy %", ("val/acc",), x="epoch", scale=100.0),
            Panel("means", "class means", (), artifact="means")),
    columns=(Column("acc", "acc", 6, lambda c, s: s.get("val_acc"), lambda v: "—" if v is None else f"{100 * v:.0f}%"),),
    result_line=lambda s: f"val acc {100 * s.get('val_acc', 0):.0f}%",
)


