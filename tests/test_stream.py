"""Streaming drawings from host memory in chunks computes exactly what resident data does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError
from qdcore.train import TrainConfig
from qdcore.train.engine import train
from qdcore.train.gpudata import Augment, DeviceData
from qdcore.train.stream import StreamData

FAST = dict(data="demo", per_class=60, epochs=2, batch_size=32, width=4, lr=3e-3, amp=False, device="cpu",
            log_every=4, rotate=10.0, hflip=True, dropout=0.1)


def test_streamed_batches_equal_resident_batches():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (203, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 5, 203)
    dev = torch.device("cpu")
    resident = DeviceData(imgs, labels, dev)
    streamed = StreamData(imgs, labels, dev, False, chunk=64)
    batches = DeviceData.batches(resident.order(3, 1), 20)
    aug = Augment(hflip=True, rotate=15.0)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    a = list(resident.iterate(batches, 2, aug, g1))
    b = list(streamed.iterate(batches, 2, aug, g2))
    assert len(a) == len(b) == len(batches) - 2
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_a_streamed_run_trains_exactly_as_a_resident_one(tmp_path):
    cfg = TrainConfig(**FAST)
    splits = load_splits(cfg)
    resident = train(cfg, splits=splits)
    # 0.0002 GB holds ~250 drawings: two chunks of 128 (4 batches each) in flight.
    streamed = train(cfg.replace(device_memory=0.0002), splits=splits)
    assert streamed.history["train/loss"] == resident.history["train/loss"]
    assert streamed.history["val/top1"] == resident.history["val/top1"]
    assert streamed.summary["test_top1"] == resident.summary["test_top1"]
    for a, b in zip(resident.model.state_dict().values(), streamed.model.state_dict().values()):
        assert torch.equal(a, b)


def test_a_budget_below_one_batch_is_a_one_line_error():
    cfg = TrainConfig(**{**FAST, "device_memory": 1e-6})
    with pytest.raises(ConfigError, match="device-memory .* cannot hold two batches of 32"):
        train(cfg)


def test_a_budget_below_one_batch_is_refused_before_the_run_row(tmp_path):
    from qdcore.runs.run import start
    from qdcore.store import Store

    with Store(tmp_path) as store:
        with pytest.raises(ConfigError, match="cannot hold two batches"):
            start(TrainConfig(**{**FAST, "device_memory": 1e-7}), store)
        assert store.list_runs() == []
