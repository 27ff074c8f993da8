"""Streaming from memory-mapped .npy files: the same drawings and weights as resident data, never copied whole."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from helpers import npy_folder

from qdcore.data import mapped
from qdcore.data.mapped import MappedImages
from qdcore.data.selection import load_splits
from qdcore.train import TrainConfig
from qdcore.train.engine import train

CATS = ("apple", "cat", "fish", "house")


def _folder(tmp_path, per_file: int):
    return npy_folder(tmp_path, CATS, per_file)


def _cfg(data: str, **kw) -> TrainConfig:
    base = dict(data=data, epochs=1, batch_size=64, width=2, lr=3e-3, amp=False, device="cpu", log_every=20,
                hflip=True, rotate=8.0)
    return TrainConfig(**{**base, **kw})


def test_a_mapped_selection_holds_memory_maps_and_the_same_drawings(tmp_path):
    cfg = _cfg(_folder(tmp_path, 300), per_class=200)
    lazy, copied = load_splits(cfg, mapped=True), load_splits(cfg)
    images = lazy.train.images
    assert isinstance(images, MappedImages) and all(isinstance(m, np.memmap) for m in images.maps)
    assert lazy.fingerprint() == copied.fingerprint()
    idx = np.array([5, 0, 17, 3, 5])
    assert np.array_equal(images[idx], copied.train.images[idx])  # gathered in sorted order, given back as asked
    assert np.array_equal(np.asarray(lazy.test.images), copied.test.images)


def test_streamed_from_the_files_trains_exactly_as_resident(tmp_path):
    cfg = _cfg(_folder(tmp_path, 150), epochs=2, batch_size=32, dropout=0.1)
    resident = train(cfg)
    # 0.0002 GB: chunks of 128 drawings read from the maps while the one before trains.
    streamed = train(cfg.replace(device_memory=0.0002))
    assert streamed.summary["fingerprint"] == resident.summary["fingerprint"]
    assert streamed.summary["streamed_chunk"] == 128 and resident.summary["streamed_chunk"] is None
    assert streamed.history["train/loss"] == resident.history["train/loss"]
    assert streamed.summary["test_top1"] == resident.summary["test_top1"]
    for a, b in zip(resident.model.state_dict().values(), streamed.model.state_dict().values()):
        assert torch.equal(a, b)


def _peak_bytes(cfg: TrainConfig) -> int:
    """The most bytes numpy/Python held at once while training (tracemalloc: deterministic, not timing)."""
    tracemalloc.start()
    try:
        train(cfg)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_streamed_path_never_holds_the_whole_selection(tmp_path, monkeypatch):
    per_file = 6000
    cfg = _cfg(_folder(tmp_path, per_file), val=0.02, test=0.02, batch_size=128)
    selection = len(CATS) * per_file * 784  # 18.8 MB of pixels
    monkeypatch.setattr(mapped, "CHUNK", 1024)  # the fingerprint's reads, scaled down with the data
    monkeypatch.setattr(mapped, "READERS", 1)  # and not read ahead (tests/test_predictions_sample.py does)
    # 0.0004 GB: two chunks of 256 drawings (0.2 MB) in flight.
    small = cfg.replace(device_memory=0.0004)
    train(small.replace(per_class=100))  # imports and first-call caches, which tracemalloc would count too
    streamed = _peak_bytes(small)
    resident = _peak_bytes(cfg)
    assert resident > selection  # the measure sees a whole copy when there is one
    # Chunks, index arrays (20 bytes a drawing) and the test split kept for predictions: 2.7 MB here, and a
    # copied selection (as before) peaks at twice the selection.
    assert streamed < selection / 4, (streamed, selection)


def test_chunks_read_ahead_by_threads_come_in_order_and_stop_early(tmp_path):
    lazy = load_splits(_cfg(_folder(tmp_path, 300), per_class=250), mapped=True).train.images
    whole = np.asarray(lazy)
    for readers in (1, 3):
        parts = list(mapped.chunks(lazy, 64, readers=readers))
        assert [len(p) for p in parts[:-1]] == [64] * (len(parts) - 1)
        assert np.array_equal(np.concatenate(parts), whole)
    first = next(iter(mapped.chunks(lazy, 64, readers=3)))  # a consumer that stops after one chunk
    assert np.array_equal(first, whole[:64])


if __name__ == "__main__":
    pytest.main([__file__])
