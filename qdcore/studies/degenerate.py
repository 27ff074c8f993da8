"""Degenerate trials: a run that never left its class prior is "not trained", never a finding."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, TypeGuard

from qdcore.errors import QDError

SHARE_TOLERANCE = 0.005  # train accuracy this close to the majority share: the prior, not a model
LOSS_TOLERANCE = 0.05  # final test loss within 5% of the prior's entropy (ln k when balanced): untrained


def train_shares(cfg: dict[str, Any]) -> list[float] | None:
    """Each class's share of the training drawings, from a trial's options (categories, imbalance ratios)."""
    from qdcore.data.drawingset import parse_ratios  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    cats = cfg.get("categories")
    names = [c.strip() for c in cats.split(",") if c.strip()] if isinstance(cats, str) else []
    if not names:
        return None

    try:
        ratios = parse_ratios(cfg.get("imbalance"))
    except QDError:  # a stored value this qd cannot read: no shares, no flag from them
        return None
    weights = [float(ratios.get(c, 1.0)) for c in names]
    total = sum(weights)
    return [w / total for w in weights] if total > 0 else None


def predicted_classes(path: Path) -> int | None:
    """How many classes a run's saved test predictions use (None without a readable file)."""
    import numpy as np  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    from qdcore.predictions import read_members  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    if not path.exists():
        return None
    try:
        totals = read_members(path, "all_confusion")  # a sampled file's counts: no need to read its probabilities
        if "all_confusion" in totals:
            return int((totals["all_confusion"].sum(axis=0) > 0).sum())
        probs = read_members(path, "probs")["probs"]
    except QDError:
        return None
    return int(len(np.unique(probs.argmax(axis=1)))) if len(probs) else None


def untrained_reason(metrics: dict[str, Any], shares: list[float] | None, used: int | None,
                     classes: int | None = None, balanced_test: bool = False) -> str | None:
    """Why a finished classifier trial counts as not trained, or None: its test predictions use one class
    (`used` of `classes`), its test top-1 on a balanced test is at or below chance (1/k: no better
    than guessing), its train accuracy equals the majority share, or its final test (else
    validation) loss is within 5% of the prior's entropy (ln k on a balanced set): the loss of always answering
    the prior. A loss far above ln k alone is no flag: an overfit model (double descent's peak) has one."""
    if used == 1 and (classes or len(shares or [])) > 1:
        return "predicts one class"
    k = classes or len(shares or [])
    top1 = metrics.get("test_top1")
    even = balanced_test or not shares or max(shares) == min(shares)  # on an imbalanced test set accuracy under
    if k > 1 and even and _finite(top1) and top1 <= 1 / k:  # the majority's share can still hide a learned minority
        return f"test top-1 {top1:.3f} at or below chance {1 / k:.3f}"
    if not shares or len(shares) < 2:
        return None
    acc = metrics.get("train_top1")
    if _finite(acc) and abs(acc - max(shares)) <= SHARE_TOLERANCE:
        return f"train accuracy {acc:.3f} = the majority share"
    key = "test_loss" if _finite(metrics.get("test_loss")) else "val_loss"
    loss = metrics.get(key)
    prior = [1 / len(shares)] * len(shares) if balanced_test and key == "test_loss" else shares
    entropy = -sum(s * math.log(s) for s in prior if s > 0)
    if _finite(loss) and abs(loss - entropy) <= LOSS_TOLERANCE * entropy:
        balanced = max(prior) == min(prior)
        return f"{key.replace('_', ' ')} {loss:.3f} ≈ {'ln k' if balanced else 'the prior'} {entropy:.3f}"
    return None


def _finite(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
