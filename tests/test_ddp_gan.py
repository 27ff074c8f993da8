"""GAN runs under real DistributedDataParallel on the CPU: 2 torchrun processes over Gloo against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import scaled_timeout
from safetensors.torch import load_file
from test_ddp import _spec, _torchrun

from qdcore.train.gan import load_gan_splits, train_gan
from qdcore.train.gan_config import GanConfig

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="this PyTorch build has no torch.distributed with Gloo")

# No batch norm in G (per-rank statistics) and no D dropout (per-rank masks): then 2 ranks x 16 take the same
# steps as 1 process x 32, because every rank draws the global batch's noise and keeps its slice.
# PyTorch's init: under the Keras init the AC-GAN's latent (noise x an embedding within 0.05) is so small that
# G's gradients are sums of nearly cancelling terms, and Adam turns the ranks' other summation order into
# differences of ~1e-4 in G (D still agrees to 3e-8); the init is not what these tests compare.
BASE = dict(data="demo", categories="circle", per_class=700, epochs=1, batch_size=16, g_width=4, d_width=4,
            latent_dim=8, batch_norm=False, d_dropout=0.0, no_judge=True, amp=False, device="cpu", log_every=2,
            keep_generators=False, grid_cols=2, init="torch")


def _gan_spec(tmp, name: str, **extra) -> dict:
    spec = _spec(tmp, name, **extra)
    spec["config"] = {**BASE, **extra.get("config", {})}
    return {**spec, "trainer": "gan"}


def _weights(r) -> dict[str, torch.Tensor]:
    return {f"{m}{k}.{name}": v for k, p in enumerate(r.pairs) for m, net in (("g", p.g), ("d", p.d))
            for name, v in net.state_dict().items()}


@pytest.mark.parametrize("model", ["dcgan", "acgan", "per-class"])
def test_two_gan_ranks_equal_one_process_with_the_global_batch(tmp_path, model):
    two = {"categories": "circle,star", "per_class": 350}
    cats = {"acgan": {**two, "model": "acgan"}, "per-class": {**two, "per_class_gans": True, "d_steps": 2},
            "dcgan": {}}[model]  # per-class: one grouped G and D for both pairs, two D steps per G step
    spec = _gan_spec(tmp_path, model, config=cats)
    p = _torchrun(spec, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    ddp = load_file(str(tmp_path / model / "weights.safetensors"))
    summary = json.loads((tmp_path / model / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "done"

    cfg = GanConfig(**{**BASE, **cats, "batch_size": 32})
    single = train_gan(cfg, splits=load_gan_splits(cfg))
    assert single.summary["num_train"] // 32 >= 19  # the comparison covers about 20 optimizer steps
    assert single.summary["images_per_second"] > 0 and summary["num_train"] == single.summary["num_train"]
    for k, v in _weights(single).items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-4, atol=1e-5, msg=k)


def test_interrupted_two_rank_gan_resumes_to_the_same_weights(tmp_path):
    cfg = {"epochs": 2, "per_class": 400, "batch_norm": True}  # G's batch norm: each rank's own statistics
    full = _gan_spec(tmp_path, "full", config=cfg)
    assert _torchrun(full, tmp_path).returncode == 0
    part = _gan_spec(tmp_path, "part", config=cfg, stop_at=5, stop_rank=1)
    p = _torchrun(part, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((tmp_path / "part" / "summary.json").read_text())["status"] == "interrupted"
    p = _torchrun({**part, "stop_at": None, "resume": True}, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    a = load_file(str(tmp_path / "full" / "weights.safetensors"))
    b = load_file(str(tmp_path / "part" / "weights.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6, msg=k)


def test_qd_gan_train_nproc_two_writes_one_run(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    home = tmp_path / "home"
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "gan", "train",
                        "--categories", "circle", "--per-class", "120", "--epochs", "2", "--g-width", "4",
                        "--d-width", "4", "--batch-size", "128", "--no-judge", "--device", "cpu", "--nproc", "2",
                        "--json"],
                       env=env, capture_output=True, text=True, timeout=scaled_timeout(240))
    assert p.returncode == 0, p.stderr[-3000:]
    from qdcore.store import Store

    runs = Store(home).list_runs()
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].summary["world_size"] == 2
    assert runs[0].summary["epochs"] == 2
    assert sorted(d.name for d in (home / "runs").iterdir()) == [str(runs[0].id)]
    grids = sorted(f.name for f in (home / "runs" / str(runs[0].id) / "samples").glob("*.npy"))
    assert grids == ["epoch_0001_s1.npy", "epoch_0002_s2.npy"], grids  # one grid an epoch, by rank 0 alone
