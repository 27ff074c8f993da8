"""Drawings that do not fit on the device: uint8 in host memory, moved over in shuffled chunks.

Each epoch walks the same permutation and batches as resident data (`DeviceData`), so a streamed
run computes exactly what a resident one does; only where the bytes live differs. On CUDA a chunk
is gathered into pinned memory and copied on a side stream while the previous chunk trains.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from qdcore.data.mapped import MappedImages, in_memory
from qdcore.errors import ConfigError
from qdcore.train.gpudata import Augment, DeviceData, epoch_order

BYTES_PER_DRAWING = 28 * 28 + 8  # pixels plus the int64 label


def fits(n: int, budget_bytes: float) -> bool:
    """Whether n drawings fit resident within the budget."""
    return n * BYTES_PER_DRAWING <= budget_bytes


def default_budget(device: torch.device) -> float:
    """Bytes the data may take on the device: half the free memory on CUDA; unlimited elsewhere (host = device)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return free * 0.5
    return float("inf")


class StreamData:
    """Images (N, 28, 28) uint8 and labels on the host; the same interface as DeviceData for the engine."""

    def __init__(self, images: np.ndarray | MappedImages, labels: np.ndarray, device: torch.device,
                 channels_last: bool, chunk: int) -> None:
        # Drawings still in their files stay there; an array in memory is read through the same gather.
        self.images = images if isinstance(images, MappedImages) else in_memory(images)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.device = device
        self.channels_last = channels_last
        self.chunk = int(chunk)
        self.cuda = device.type == "cuda"
        self._stream = torch.cuda.Stream(device) if self.cuda else None

    @staticmethod
    def check_budget(budget_bytes: float, batch_size: int) -> int:
        """Drawings per chunk when two chunks in flight fit the budget; ConfigError when not even one batch does."""
        chunk = int(budget_bytes // (2 * BYTES_PER_DRAWING))
        if chunk < batch_size:
            need = 2 * batch_size * BYTES_PER_DRAWING / 2**20
            raise ConfigError(f"--device-memory {budget_bytes / 2**30:.4g} GB cannot hold two batches of "
                              f"{batch_size} drawings ({need:.2f} MB): raise it or lower --batch-size")
        return chunk - chunk % batch_size

    @classmethod
    def within(cls, images: np.ndarray, labels: np.ndarray, device: torch.device, channels_last: bool,
               budget_bytes: float, batch_size: int) -> StreamData:
        """A stream whose two chunks in flight fit the budget; ConfigError when not even one batch does."""
        return cls(images, labels, device, channels_last, cls.check_budget(budget_bytes, batch_size))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def order(self, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
        """The same permutation DeviceData deals out, kept on the host."""
        return epoch_order(len(self), seed, epoch, rank, world_size)

    batches = staticmethod(DeviceData.batches)

    def _gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows idx on the host (sorted reads of the memory maps, shuffled order restored), pinned on CUDA."""
        rows = idx.numpy()
        imgs, labels = torch.from_numpy(self.images.gather(rows)), torch.from_numpy(self.labels[rows])
        return (imgs.pin_memory(), labels.pin_memory()) if self.cuda else (imgs, labels)

    def _send(self, host: tuple[torch.Tensor, torch.Tensor]) -> DeviceData:
        """A gathered chunk copied to the device on the side stream."""
        imgs, labels = host
        if self.cuda:
            with torch.cuda.stream(self._stream):
                imgs = imgs.to(self.device, non_blocking=True)
                labels = labels.to(self.device, non_blocking=True)
        return DeviceData(imgs, labels, self.device, self.channels_last)

    def iterate(self, batches: list[torch.Tensor], start: int, augment: Augment | None,
                generator: torch.Generator | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x, y) for batches[start:]: the next chunk is gathered on a worker thread (numpy copies without the
        GIL) while this one trains, then copied over on the side stream while the device is still busy."""
        per = max(1, self.chunk // max(1, int(batches[0].numel()) if batches else 1))
        groups = [torch.cat(batches[i:i + per]) for i in range(start, len(batches), per)]
        sizes = [[int(b.numel()) for b in batches[i:i + per]] for i in range(start, len(batches), per)]
        if not groups:
            return
        with ThreadPoolExecutor(1, thread_name_prefix="qd-stream") as pool:
            ahead = self._send(self._gather(groups[0]))
            for gi, group in enumerate(sizes):
                current = ahead
                pending = pool.submit(self._gather, groups[gi + 1]) if gi + 1 < len(groups) else None
                if self._stream is not None:  # on CUDA
                    compute = torch.cuda.current_stream(self.device)
                    compute.wait_stream(self._stream)
                    # The chunk was allocated on the side stream: keep it until the compute stream is done with it.
                    current.images.record_stream(compute)
                    current.labels.record_stream(compute)
                offset = 0
                for n in group:
                    local = torch.arange(offset, offset + n, device=self.device)
                    offset += n
                    yield current.get(local, augment, generator)
                if pending is not None:  # else this was the last group
                    ahead = self._send(pending.result())

    def shard(self, rank: int, world_size: int) -> StreamData:
        """Rows rank, rank + world, ... (lazy views: nothing read)."""
        if world_size <= 1:
            return self
        return StreamData(self.images[rank::world_size], self.labels[rank::world_size], self.device,
                          self.channels_last, self.chunk)

    def take(self, rows: np.ndarray) -> StreamData:
        """The drawings at rows (lazy: nothing read)."""
        return StreamData(self.images.take(rows), self.labels[rows], self.device, self.channels_last, self.chunk)

    def scaled(self, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
        """An unaugmented slice copied to the device (evaluation in order)."""
        part = DeviceData(np.ascontiguousarray(self.images[start:stop]), self.labels[start:stop], self.device,
                          self.channels_last)
        return part.scaled(0, stop - start)
