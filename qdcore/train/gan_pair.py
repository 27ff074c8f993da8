"""One generator/discriminator pair: its modules, optimizers, scalers and moving average, and how it draws."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch

from qdcore.data.mapped import Images
from qdcore.errors import QDError
from qdcore.models import build_gan
from qdcore.train import distributed as dist
from qdcore.train.device import Runtime
from qdcore.train.gan_config import GanConfig

M = TypeVar("M", bound=torch.nn.Module)


class Pair:
    """One generator/discriminator pair, its optimizers and the labels (within the run's classes) it learns."""

    def __init__(self, cfg: GanConfig, labels: list[int], num_classes: int, rt: Runtime, train: bool = True) -> None:
        self.labels = labels
        self.conditional = cfg.model == "acgan"
        n = num_classes if self.conditional else 1
        self.g, self.d = build_gan(cfg.model, n, cfg.latent_dim, **cfg.model_options())
        self.g.to(rt.device)
        self.d.to(rt.device)
        # Per-class pairs are trained by a PairGroup, which owns their optimizers; these modules hold copies.
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr_g, betas=cfg.betas) if train else None
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr_d, betas=cfg.betas) if train else None
        self.scaler_g = torch.amp.GradScaler(rt.device.type) if rt.scaler and train else None
        self.scaler_d = torch.amp.GradScaler(rt.device.type) if rt.scaler and train else None
        self.index: torch.Tensor | None = None  # rows of the resident training set this pair learns from
        # The training steps go through these (DDP under torchrun, the modules themselves otherwise).
        self.g_step: torch.nn.Module | None
        self.d_step: torch.nn.Module | None
        self.g_step, self.d_step = (dist.wrap(self.g, rt.device), dist.wrap(self.d, rt.device)) if train else (None, None)
        # --g-ema: samples, quality and the stored generators come from a moving average of G's weights.
        self.ema = ema_copy(self.g) if cfg.g_ema > 0 else None

    @property
    def rows(self) -> torch.Tensor:
        """The rows this pair learns from, which build_pairs gives it."""
        assert self.index is not None, "a pair trains on the rows build_pairs gives it"
        return self.index

    @property
    def sampler(self) -> torch.nn.Module:
        """The generator samples come from: the moving average with --g-ema, else G itself."""
        return self.g if self.ema is None else self.ema

    def generate(self, z: torch.Tensor, y: torch.Tensor | None, g: torch.nn.Module | None = None) -> torch.Tensor:
        """Images in [-1, 1] (B, 1, 28, 28), through `g` (default: the generator itself)."""
        g = self.g if g is None else g
        return g(z, y) if self.conditional else g(z)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, label: int) -> np.ndarray:
        """uint8 drawings (B, 28, 28) of class `label` (ignored by an unconditional pair), the sampler in eval mode."""
        y = torch.full((z.shape[0],), max(label, 0), dtype=torch.long, device=z.device) if self.conditional else None
        g = self.sampler
        was = g.training
        g.eval()
        try:
            return to_uint8(self.generate(z, y, g))
        finally:
            g.train(was)


def build_pairs(cfg: GanConfig, classes: list[str], labels: torch.Tensor, rt: Runtime) -> list[Pair]:
    """One pair over all classes, or (per-class GANs) one pair per class, each with the rows it learns from."""
    if cfg.per_class_gans:
        pairs = [Pair(cfg, [k], len(classes), rt, train=False) for k in range(len(classes))]
    else:
        pairs = [Pair(cfg, list(range(len(classes))), len(classes), rt)]
    for p in pairs:
        mask = torch.zeros_like(labels, dtype=torch.bool)
        for c in p.labels:
            mask |= labels == c
        p.index = mask.nonzero().flatten()
        if p.index.numel() == 0:
            raise QDError(f"category {classes[p.labels[0]]!r} has no training drawings; choose more --per-class")
    return pairs


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 (B, 28, 28), white ink on black like Google's bitmaps."""
    return ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).reshape(-1, 28, 28).cpu().numpy()


def ema_copy(g: M) -> M:
    """A frozen copy of a generator to hold the moving average of its weights."""
    return copy.deepcopy(g).requires_grad_(False)


@torch.no_grad()
def ema_update(ema: torch.nn.Module, g: torch.nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * g for the weights (one fused op); buffers (BN statistics) copied."""
    torch._foreach_lerp_(list(ema.parameters()), list(g.parameters()), 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), g.buffers()):
        b_ema.copy_(b)


@contextmanager
def frozen(net: torch.nn.Module) -> Iterator[None]:
    """`net`'s weights take no gradients inside (D during G's update: only G's gradients are needed)."""
    for q in net.parameters():
        q.requires_grad_(False)
    try:
        yield
    finally:
        for q in net.parameters():
            q.requires_grad_(True)


def discriminator_probs(d, images: Images, device, batch: int = 1024) -> np.ndarray:
    """Softmax of the class head, float32 (N, C), for uint8 drawings (scaled to [-1, 1] as in training)."""
    imgs = np.asarray(images, np.uint8).reshape(-1, 1, 28, 28)
    out = []
    with torch.inference_mode():
        for i in range(0, len(imgs), batch):
            x = torch.from_numpy(imgs[i:i + batch]).to(device).float().div_(127.5).sub_(1.0)
            _, cls = d(x)
            out.append(cls.float().softmax(1).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, d.num_classes), np.float32)


def class_head_scores(d, test, device) -> dict[str, float]:
    """test_top1 and test_loss (cross-entropy) of an AC-GAN discriminator's class head on a test split."""
    probs = discriminator_probs(d, test.images, device)
    labels = np.asarray(test.labels, np.int64)
    picked = probs[np.arange(len(labels)), labels].astype(np.float64)
    return {"test_top1": float((probs.argmax(1) == labels).mean()),
            "test_loss": float(-np.log(np.clip(picked, 1e-12, None)).mean())}
