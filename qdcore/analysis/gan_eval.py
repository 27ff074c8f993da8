"""Study 001's "discriminator as classifier": an AC-GAN's class head evaluated like any classifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qdcore.artifacts import PREDICTIONS_FILE
from qdcore.data.selection import select_splits
from qdcore.errors import ConfigError, DataError
from qdcore.predictions import Predictions
from qdcore.train import gan_files
from qdcore.train.device import resolve
from qdcore.train.evaluate import RunEvaluation, labels_for, select_for_model
from qdcore.train.gan_config import GanConfig
from qdcore.train.gan_pair import discriminator_probs

if TYPE_CHECKING:
    from qdcore.store import Store


def evaluate_gan_run(store: Store, run_id: int, data: str | None = None, *, categories: str | None = None,
                     per_class: int | None = None, seed: int = 0, imbalance: str | None = None,
                     device: str | None = "auto", batch_size: int = 1024, strict: bool = False):
    """An AC-GAN run's discriminator class head on the run's test split (or other data) as a RunEvaluation."""
    rec = store.get_run(int(run_id))
    run_dir = store.run_dir(rec.id, create=False)
    meta = gan_files.read_meta(run_dir)
    if not meta["conditional"]:
        raise ConfigError(f"run {rec.id} is a DCGAN: its discriminator has no class head; 'qd eval' of a GAN "
                          "needs an AC-GAN run (qd gan train --model acgan)")
    rt = resolve(device or "auto", None)
    _, discs, _, epoch = gan_files.load_gan(run_dir, None, str(rt.device))
    d = discs[0]
    classes = list(meta["classes"])
    if data is None:
        cfg = GanConfig.from_dict(rec.config, origin=f"run {rec.id} config")
        ds = select_splits(cfg).test
        if list(ds.classes) != classes:
            raise DataError(f"run {rec.id}'s data now yields other classes than its GAN's; use --data")
        if len(ds) == 0:
            raise ConfigError(f"run {rec.id} has no test split (test=0); evaluate it with 'qd eval RUN --data ...'")
        where = f"test split of GAN run {rec.id} ({cfg.data}), discriminator of epoch {epoch}"
        labels = np.asarray(ds.labels, np.int64)
    else:
        ds = select_for_model(data, categories, per_class, seed, imbalance, classes, strict)
        labels = labels_for(ds, classes, where=str(data))
        where = f"{ds.origin or data} ({len(ds.classes)} of the discriminator's {len(classes)} classes)"
    probs = discriminator_probs(d, ds.images, rt.device, batch_size)
    preds = Predictions(probs, labels, classes, np.asarray(ds.images, np.uint8).reshape(-1, 28, 28),
                        [ds.provenance(i) for i in range(len(ds))])
    path = None
    if data is None:
        path = run_dir / PREDICTIONS_FILE
        preds.save(path)
    return RunEvaluation(rec.id, preds, where, bool(ds.synthetic), list(ds.classes), path, list(ds.notes))
