"""A stroke-sequence run under real DDP (2 torchrun ranks over Gloo on the CPU) against one process.

No dropout, batch norm or prefix cuts, each rank's batch packed to its own drawings' lengths, the gradient
clipped after DDP's all-reduce: 2 ranks x 16 drawings are the same Adam steps as 1 x 32, up to float summation
order (the tolerance below, the classifier test's)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from helpers import scaled_timeout
from safetensors.torch import load_file

from qdcore.store import Store

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="this PyTorch build has no torch.distributed with Gloo")

BASE = {"data": "demo", "categories": "circle,square,triangle,zigzag", "per_class": 80, "epochs": 2, "hidden": 16,
        "conv": 16, "layers": 1, "device": "cpu", "seed": 3, "log_every": 4}


def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path):
    from qdcore.runs.run import start
    from qdcore.train.strokes_config import StrokeConfig

    home = tmp_path / "ddp"
    args = [a for k, v in BASE.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", "--model",
                        "stroke-gru", *args, "--batch-size", "16", "--nproc", "2", "--json"],
                       env={**os.environ, "OMP_NUM_THREADS": "1", "QD_DIST_TIMEOUT": "60"}, capture_output=True,
                       text=True, timeout=scaled_timeout(240), check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    run = Store(home).list_runs()[0]
    assert run.status == "done" and run.summary["world_size"] == 2 and run.summary["num_train"] % 32 == 0
    ddp = load_file(str(home / "runs" / str(run.id) / "stroke_model.safetensors"))

    torch.set_num_threads(1)
    with Store(tmp_path / "one") as store:
        single = start(StrokeConfig(model="stroke-gru", batch_size=32, **BASE), store)
    assert 2 * run.summary["num_train"] // 32 >= 16  # the comparison covers at least 16 optimizer steps
    for k, v in single.result.model.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-4, atol=1e-5)
    assert run.summary["test_top1"] == single.summary["test_top1"]
