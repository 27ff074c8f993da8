"""Label noise on the training split (the double-descent literature's setting: Nakkiran et al. 2019).

A fraction p of the training drawings, chosen by the run's seed, get a uniformly random *incorrect* label (the
literature's "label noise p"); validation and test keep their true labels. The same seed flips the same
drawings to the same labels, so the trials of a study differ only in what they vary.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np

from qdcore.data.drawingset import DrawingSet

_STREAM = zlib.crc32(b"label-noise")  # its own random stream: the split and shuffling draws stay as they were


def with_label_noise(train: DrawingSet, fraction: float, seed: int) -> DrawingSet:
    """A copy of `train` with round(fraction * N) labels, chosen by `seed`, moved to another class at random."""
    n, k = len(train.labels), len(train.classes)
    flips = int(round(fraction * n))
    if flips == 0 or k < 2:
        return train
    rng = np.random.default_rng([int(seed), _STREAM])
    chosen = rng.choice(n, size=flips, replace=False)
    labels = np.array(train.labels, dtype=np.int64, copy=True)
    # An offset of 1..k-1 classes: uniform over the other classes, never the true one.
    labels[chosen] = (labels[chosen] + rng.integers(1, k, size=flips)) % k
    notes = [*train.notes, f"label noise: {flips} of {n} training labels moved to a random other class "
             f"({fraction:g}, seed {seed})"]
    return dataclasses.replace(train, labels=labels, notes=notes)
