"""A classifier's training drawings mixed with a GAN run's samples (study 001's --synthetic): which GAN run can
draw the classes, and its generator sampled into qdcore.data.synthetic_mix.mix."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qdcore.data.categories import chosen_categories
from qdcore.data.drawingset import Splits
from qdcore.data.label_noise import with_label_noise
from qdcore.data.opener import open_source
from qdcore.data.selection import load_splits
from qdcore.data.synthetic_mix import mix
from qdcore.errors import ConfigError
from qdcore.runs.kinds import DRAW, require
from qdcore.store import Store
from qdcore.train import gan_files
from qdcore.train.gan_sample import sample_run

if TYPE_CHECKING:
    from qdcore.train.config import TrainConfig


def training_splits(cfg: TrainConfig, mapped: bool = False, store: Store | None = None) -> Splits:
    """A classifier's splits with a GAN's samples mixed into the training split (--synthetic RUN of `store`, by
    default $QD_HOME's), then a share of its labels moved to other classes (--label-noise P), where the config
    asks; validation and test stay real and keep their labels."""
    splits = load_splits(cfg, mapped=mapped)
    if cfg.synthetic is not None:
        splits = with_synthetic(splits, cfg.synthetic, cfg.synthetic_fraction, cfg.synthetic_mode, cfg.seed, store)
    if cfg.label_noise:
        splits = Splits(with_label_noise(splits.train, cfg.label_noise, cfg.seed), splits.val, splits.test)
    return splits


def check_gan_source(store, gan_run: int, classes: list[str]) -> tuple[Path, dict]:
    """(run folder, gan.json) of a GAN run that can draw every class; a one-line ConfigError otherwise."""
    rec = require(store, gan_run, DRAW, f"--synthetic {gan_run}")
    run_dir = store.run_dir(rec.id, create=False)
    meta = gan_files.read_meta(run_dir)
    drawable = set(meta["classes"]) if (meta["conditional"] or len(meta["pairs"]) > 1 or len(meta["classes"]) == 1) \
        else set()
    missing = [c for c in classes if c not in drawable]
    if missing:
        why = ("it learnt its classes together and cannot draw one on demand" if not drawable
               else f"it draws {', '.join(sorted(drawable))}")
        raise ConfigError(f"--synthetic {rec.id}: GAN run {rec.id} cannot draw {', '.join(repr(m) for m in missing)} "
                          f"({why}); use an AC-GAN or per-class GANs over the classifier's classes")
    if not (run_dir / gan_files.MODEL_FILE).exists():
        raise ConfigError(f"--synthetic {rec.id}: GAN run {rec.id} has no finished epoch yet")
    return run_dir, meta


def check_synthetic(cfg: TrainConfig, store: Store | None = None) -> None:
    """Before a run exists: the config's --synthetic GAN run (of `store`, by default $QD_HOME's) can draw every
    selected category."""
    if cfg.synthetic is None:
        return
    available = open_source(cfg.data).categories()
    classes = chosen_categories(cfg.categories, available)
    if store is not None:
        check_gan_source(store, cfg.synthetic, classes)
        return
    with Store() as own:
        check_gan_source(own, cfg.synthetic, classes)


def with_synthetic(splits: Splits, gan_run: int, fraction: float, mode: str, seed: int,
                   store: Store | None = None) -> Splits:
    """The splits with the training part mixed with GAN run `gan_run`'s samples (val and test untouched)."""
    store = store if store is not None else Store()
    run_dir, meta = check_gan_source(store, gan_run, list(splits.train.classes))
    which = gan_files.default_generator(run_dir)  # the best generator where the run kept one
    _, _, _, epoch = gan_files.load_gan(run_dir, which)

    def generate(name: str, n: int, s: int) -> np.ndarray:
        return sample_run(run_dir, name if len(meta["classes"]) > 1 else None, n, which, s, limit=None)[0]

    train = mix(splits.train, generate, fraction, mode, seed, f"gan run {int(gan_run)} epoch {epoch}")
    return Splits(train, splits.val, splits.test)
