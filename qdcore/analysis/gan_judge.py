"""The judge a GAN run gets without asking: the best fitting classifier in the store, else one trained now.

A fresh store has no classifier, so a GAN would record no judged quality at all (no judged share, no
Frechet distance, nothing to pick the best epoch by). Then qd trains a small classifier on the data the
GAN was pointed at: the GAN's categories plus up to AUTO_NEGATIVES others from the same source, so the
judge must tell an apple from other doodles rather than call everything an apple. It is an ordinary
classifier run (named "judge for ... (auto)"), so the next GAN over those categories finds and reuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qdcore.analysis.gan_quality import best_judge, check_judge
from qdcore.data.opener import open_source
from qdcore.errors import QDError
from qdcore.events import Sink, null_sink
from qdcore.runs import run as runs
from qdcore.store import Store
from qdcore.train.config import TrainConfig

if TYPE_CHECKING:
    from qdcore.train.gan_config import GanConfig

AUTO_NEGATIVES = 9  # other categories the judge also learns, so "recognised as apple" means something
AUTO_PER_CLASS = 1000
AUTO_EPOCHS = 4
AUTO_WIDTH = 32


def judge_config(cfg: GanConfig, classes: list[str]):
    """The classifier config of the judge for a GAN over `classes` (its data source, its seed and device)."""
    source = open_source(cfg.data)
    per_class = min([AUTO_PER_CLASS] + [source.count(c) for c in classes])
    others = [c for c in source.categories() if c not in classes and source.count(c) >= per_class]
    # Evenly spaced over the listing, so the negatives do not all start with the same letter.
    step = max(1, len(others) / AUTO_NEGATIVES)
    negatives = [others[int(i * step)] for i in range(min(AUTO_NEGATIVES, len(others)))]
    what = ", ".join(classes) if len(classes) <= 3 else f"{len(classes)} categories"
    return TrainConfig.from_dict({
        "data": cfg.data, "categories": ",".join(classes + negatives), "per_class": per_class, "seed": cfg.seed,
        "epochs": AUTO_EPOCHS, "width": AUTO_WIDTH, "batch_norm": True, "device": cfg.device,
        "name": f"judge for {what} (auto)"}, origin="the automatic judge")


def ensure_judge(cfg: GanConfig, classes: list[str], store=None, sink: Sink = null_sink,
                 should_stop: Callable[[], bool] = lambda: False) -> tuple[int | None, str]:
    """(judge run id, a note saying where it came from); (None, "") with --no-judge.

    --judge N is checked and used; otherwise the best finished classifier covering `classes`; otherwise one is
    trained now as an ordinary run (its events go to `sink`) and used.
    """
    if cfg.no_judge:
        return None, ""
    store = store if store is not None else Store()
    if cfg.judge is not None:
        check_judge(store, cfg.judge, classes)
        return int(cfg.judge), ""
    found = best_judge(store, classes)
    if found is not None:
        return found, f"judge: classifier run {found} (the best finished one covering {', '.join(classes)})"
    jcfg = judge_config(cfg, classes)
    outcome = runs.start(jcfg, store, sink, should_stop)
    if outcome.status != "done":
        raise QDError(f"the automatic judge (run {outcome.run_id}) ended {outcome.status}; train a classifier on "
                      "the GAN's categories and pass it with --judge, or use --no-judge")
    top1 = outcome.summary.get("test_top1")
    shown = f", test top-1 {100 * top1:.1f}%" if isinstance(top1, (int, float)) else ""
    return outcome.run_id, (f"judge: no classifier covered {', '.join(classes)}, so qd trained one: run "
                            f"{outcome.run_id} on {jcfg.categories.count(',') + 1} categories of the same data"
                            f"{shown}; later GANs on these categories reuse it")
