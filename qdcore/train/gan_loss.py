"""The GAN's adversarial losses (--gan-loss, --d-patch), shared by a lone pair and grouped pairs.

D's source logits `src` are (2B, 1 + P) for a pair or (2B, K, 1 + P) for K grouped pairs: the B real drawings
first, then B fakes; the last axis holds the whole-drawing logit, then P patch logits (--d-patch, the patches'
share of the loss; P is 0 without it). Each loss is a pair's mean over its batch (and its patches), summed over
pairs, so each pair's gradient is that of its own mean loss.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def whole(src: torch.Tensor) -> torch.Tensor:
    """The whole-drawing logits, (2B,) or (2B, K), of D's source logits."""
    return src[..., 0]


def _patched(src: torch.Tensor, patch_share: float, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """A loss on the whole-drawing logits, mixed with the same loss's mean over the patches at `patch_share`.

    A share, not an added weight: the adversarial loss keeps the scale it has beside an AC-GAN's class loss
    without a head, and Adam makes the scale itself irrelevant to an unconditional pair.
    """
    patches = src[..., 1:]
    if not (patches.shape[-1] and patch_share):
        return fn(src[..., 0])
    return (1.0 - patch_share) * fn(src[..., 0]) + patch_share * fn(patches) / patches.shape[-1]


def d_loss(kind: str, src: torch.Tensor, batch: int, smooth_real: float, patch_share: float = 0.0) -> torch.Tensor:
    """D's loss: bce (the DCGAN recipe, real target 1 - smoothing) or hinge (Lim & Ye 2017; SNGAN, BigGAN)."""

    def one(s: torch.Tensor) -> torch.Tensor:
        if kind == "hinge":
            # Smoothing has no hinge counterpart: the margin already stops D pushing real logits past 1.
            return (F.relu(1.0 - s[:batch]).mean(0) + F.relu(1.0 + s[batch:]).mean(0)).sum()
        target = torch.zeros_like(s)
        target[:batch] = smooth_real
        return F.binary_cross_entropy_with_logits(s, target, reduction="none").mean(0).sum()

    return _patched(src, patch_share, one)


def g_loss(kind: str, src: torch.Tensor, patch_share: float = 0.0) -> torch.Tensor:
    """G's loss on D's logits for its fakes: non-saturating bce, or hinge's -D(fake)."""

    def one(s: torch.Tensor) -> torch.Tensor:
        if kind == "hinge":
            return (-s).mean(0).sum()
        return F.binary_cross_entropy_with_logits(s, torch.ones_like(s), reduction="none").mean(0).sum()

    return _patched(src, patch_share, one)
