"""A labelled set resident on the device as uint8: batches by index, scaling and augmentation on the device."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """Random flips, rotation (degrees) and shift (pixels), drawn per image."""

    hflip: bool = False
    vflip: bool = False
    rotate: float = 0.0
    shift: float = 0.0

    @property
    def active(self) -> bool:
        return self.hflip or self.vflip or self.rotate > 0 or self.shift > 0


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """This rank's shuffled indices of n rows for an epoch (on the host): one permutation per (seed, epoch), dealt
    out by rank."""
    g = torch.Generator().manual_seed(_mix(seed, epoch, 0x5EED))
    perm = torch.randperm(n, generator=g)
    per_rank = n // world_size  # equal step counts on every rank (DDP needs them)
    return perm[rank: per_rank * world_size: world_size]


class DeviceData:
    """Images (N, 28, 28) uint8 and labels int64 on `device`: 792 bytes a drawing, ~1.26 million per GB."""

    def __init__(self, images: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                 device: torch.device, channels_last: bool = False) -> None:
        if isinstance(images, np.ndarray):
            # Memory maps are read-only: copy once into memory that torch may own.
            images = np.ascontiguousarray(images) if images.flags.writeable else np.array(images, order="C")
        imgs = torch.as_tensor(images)
        if imgs.dtype != torch.uint8:
            raise TypeError(f"images must be uint8, got {imgs.dtype}")
        self.images = imgs.reshape(-1, 28, 28).to(device)
        lab = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels, dtype=np.int64))
        self.labels = lab.to(device)
        self.device = device
        self.channels_last = channels_last

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def order(self, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        """This rank's shuffled indices for an epoch, on the data's device (see epoch_order)."""
        return epoch_order(len(self), seed, epoch, rank, world_size).to(self.device)

    @staticmethod
    def batches(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
        """Index tensors of at most batch_size; a last batch of one is dropped (batch norm needs two)."""
        chunks = list(torch.split(order, batch_size))
        if len(chunks) > 1 and chunks[-1].numel() == 1:
            chunks.pop()
        return chunks

    def iterate(self, batches: list[torch.Tensor], start: int, augment: Augment | None,
                generator: torch.Generator | None):
        """(x, y) for batches[start:] (StreamData yields the same from host memory)."""
        for idx in batches[start:]:
            yield self.get(idx, augment, generator)

    def get(self, idx: torch.Tensor, augment: Augment | None = None,
            generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(float32 (B, 1, 28, 28) in [0, 1], labels) for the given indices, augmented on the device."""
        x = self.images.index_select(0, idx).unsqueeze(1).to(torch.float32).div_(255.0)
        if augment is not None and augment.active:
            x = augment_batch(x, augment, generator)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.labels.index_select(0, idx)

    def shard(self, rank: int, world_size: int) -> DeviceData:
        """Rows rank, rank + world, ... (a view): this rank's part of an evaluation."""
        if world_size <= 1:
            return self
        part = DeviceData.__new__(DeviceData)
        part.images, part.labels = self.images[rank::world_size], self.labels[rank::world_size]
        part.device, part.channels_last = self.device, self.channels_last
        return part

    def take(self, rows: np.ndarray) -> DeviceData:
        """The drawings at rows (copied on the device): the sample a predictions file keeps."""
        idx = torch.as_tensor(np.asarray(rows, np.int64), device=self.device)
        part = DeviceData.__new__(DeviceData)
        part.images, part.labels = self.images.index_select(0, idx), self.labels.index_select(0, idx)
        part.device, part.channels_last = self.device, self.channels_last
        return part

    def scaled(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """An unaugmented slice (evaluation in order)."""
        x = self.images[start:stop].unsqueeze(1).to(torch.float32).div_(255.0)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.labels[start:stop]


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random flips, rotations and shifts for a whole batch in one grid_sample (flips alone: a cheap flip)."""
    b = x.shape[0]
    dev = x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        r = torch.rand(b, generator=generator, device=generator.device if generator is not None else dev)
        return (lo + (hi - lo) * r).to(dev)

    def coin() -> torch.Tensor:
        return uniform(0.0, 1.0) < 0.5

    if aug.rotate <= 0 and aug.shift <= 0:
        if aug.hflip:
            x = torch.where(coin().view(b, 1, 1, 1), x.flip(-1), x)
        if aug.vflip:
            x = torch.where(coin().view(b, 1, 1, 1), x.flip(-2), x)
        return x
    sx = torch.where(coin(), -1.0, 1.0) if aug.hflip else torch.ones(b, device=dev)
    sy = torch.where(coin(), -1.0, 1.0) if aug.vflip else torch.ones(b, device=dev)
    theta_deg = uniform(-aug.rotate, aug.rotate) if aug.rotate > 0 else torch.zeros(b, device=dev)
    theta = theta_deg * (math.pi / 180.0)
    # grid coordinates run -1..1 across 28 px, so one pixel is 2/28.
    tx = uniform(-aug.shift, aug.shift) * (2.0 / 28) if aug.shift > 0 else torch.zeros(b, device=dev)
    ty = uniform(-aug.shift, aug.shift) * (2.0 / 28) if aug.shift > 0 else torch.zeros(b, device=dev)
    cos, sin = torch.cos(theta), torch.sin(theta)
    mat = torch.stack([torch.stack([cos * sx, -sin * sy, tx], 1), torch.stack([sin * sx, cos * sy, ty], 1)], 1)
    grid = F.affine_grid(mat.to(x.dtype), list(x.shape), align_corners=False)
    # Zeros outside: the background is black, so shifted-in borders stay empty.
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _mix(*parts: int) -> int:
    """A 63-bit seed from several ints (stable across processes)."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def seed_for(seed: int, epoch: int, what: int, rank: int = 0) -> int:
    """The seed of one stream (augmentation, dropout) in one epoch; each DDP rank draws its own."""
    return _mix(seed, epoch, what) if rank == 0 else _mix(seed, epoch, what, rank)
