"""The GAN's adversarial losses (--gan-loss), shared by a lone pair and grouped pairs.

D's logits `src` are (2B,) or (2B, K): the B real drawings first, then B fakes; pair k is column k. Each loss is
a pair's mean over its batch, summed over pairs, so each pair's gradient is that of its own mean loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(kind: str, src: torch.Tensor, batch: int, smooth_real: float) -> torch.Tensor:
    """D's loss: bce (the DCGAN recipe, real target 1 - smoothing) or hinge (Lim & Ye 2017; SNGAN, BigGAN)."""
    if kind == "hinge":
        # Smoothing has no hinge counterpart: the margin already stops D pushing real logits past 1.
        return (F.relu(1.0 - src[:batch]).mean(0) + F.relu(1.0 + src[batch:]).mean(0)).sum()
    target = torch.zeros_like(src)
    target[:batch] = smooth_real
    return F.binary_cross_entropy_with_logits(src, target, reduction="none").mean(0).sum()


def g_loss(kind: str, src: torch.Tensor) -> torch.Tensor:
    """G's loss on D's logits for its fakes: non-saturating bce, or hinge's -D(fake)."""
    if kind == "hinge":
        return (-src).mean(0).sum()
    return F.binary_cross_entropy_with_logits(src, torch.ones_like(src), reduction="none").mean(0).sum()
