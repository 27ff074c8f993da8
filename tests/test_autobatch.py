"""`--batch-size auto`: the lr scaling rule, the candidate batches, and auto off CUDA (the probe is gpu_check's)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.errors import ConfigError
from qdcore.events import RunStarted
from qdcore.options import field_of, parse_text
from qdcore.store import Store
from qdcore.train import TrainConfig
from qdcore.train.autobatch import REFERENCE_BATCH, candidates, scaled_lr


def test_sgd_scales_the_lr_linearly_and_adaptive_optimizers_by_the_square_root():
    assert scaled_lr(0.1, 1024, "sgd") == pytest.approx(0.4)
    assert scaled_lr(0.1, 64, "sgd") == pytest.approx(0.025)
    for opt in ("adam", "AdamW", "rmsprop"):
        assert scaled_lr(1e-3, 1024, opt) == pytest.approx(2e-3)
        assert scaled_lr(1e-3, 4096, opt) == pytest.approx(4e-3)
    assert scaled_lr(3e-3, REFERENCE_BATCH, "adam") == 3e-3
    assert scaled_lr(0.2, 512, "sgd", reference=128) == pytest.approx(0.8)


def test_candidates_are_powers_of_two_up_to_an_eighth_of_each_ranks_drawings():
    assert candidates(10_000) == [32, 64, 128, 256, 512, 1024]
    assert candidates(10_000, world_size=2) == [32, 64, 128, 256, 512]
    assert candidates(50_000_000)[-1] == 8192
    assert candidates(50_000_000, cap=2048)[-1] == 2048
    assert candidates(100) == [8]  # a tiny selection still gets a batch


def test_auto_is_read_from_flags_forms_and_files_as_the_unset_value():
    f = field_of(TrainConfig, "batch_size")
    assert parse_text(f, "auto", "") is None and parse_text(f, " AUTO ", "") is None
    assert parse_text(f, "512", "") == 512
    assert TrainConfig.from_dict({"batch_size": "auto"}).batch_size is None
    with pytest.raises(ConfigError, match="--batch-size='big' must be a whole number"):
        parse_text(f, "big", "")
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig.from_dict({"epochs": "auto"})  # only options that have an automatic value take it


def test_auto_off_cuda_keeps_the_reference_batch_says_so_and_stores_it(tmp_path):
    from qdcore.runs.run import start

    cfg = TrainConfig(data="demo", per_class=30, epochs=1, width=4, amp=False, device="cpu", batch_size=None,
                      lr=2e-3)
    seen = []
    with Store(tmp_path) as store:
        out = start(cfg, store, seen.append)
        stored = store.get_run(out.run_id).config
    started = next(e for e in seen if isinstance(e, RunStarted))
    assert "batch auto: 256 on cpu (the memory probe needs CUDA); lr 0.002 as given" in started.notes
    assert stored["batch_size"] == 256 and stored["lr"] == 2e-3 and stored["warmup_epochs"] == 0.0


def test_qd_train_batch_size_auto_prints_the_choice(home):
    r = CliRunner().invoke(app, ["train", "--data", "demo", "-n", "30", "-e", "1", "-k", "4", "--no-amp",
                                 "--device", "cpu", "--batch-size", "auto", "--json"])
    assert r.exit_code == 0, r.output
    assert "note: batch auto: 256 on cpu" in r.stderr
    assert json.loads(r.stdout)["status"] == "done"


def test_the_probe_step_trains_a_copy_and_leaves_the_model_alone():
    import torch

    from qdcore.models import build_model
    from qdcore.train.autobatch import training_step
    from qdcore.train.device import resolve
    from qdcore.train.engine import fast_view, make_optimizer

    cfg = TrainConfig(device="cpu", amp=False)
    model = build_model("widthk", 5, width=4).to(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    made = []

    def make_opt(params):
        made.append(make_optimizer(cfg, params))
        return made[-1]

    training_step(fast_view(model), make_opt, resolve("cpu", False), 5, True)(16)
    assert made and made[0].state  # a real optimizer step ran (Adam keeps moments)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())


def test_the_search_keeps_the_largest_batch_within_budget_and_stops_at_out_of_memory():
    from qdcore.train.autobatch import largest_fitting

    sizes = [32, 64, 128, 256, 512]
    assert largest_fitting(lambda b: 1000 * b, sizes, 200_000) == (128, 128_000)
    assert largest_fitting(lambda b: 1000 * b, sizes, 1e9) == (512, 512_000)
    assert largest_fitting(lambda b: None if b >= 256 else b, sizes, 1e9) == (128, 128)
    assert largest_fitting(lambda b: 10**12, sizes, 1e9) == (32, 0)  # nothing fits: the smallest, unmeasured


def test_auto_streaming_on_a_small_budget_takes_the_batch_two_chunks_hold():
    from qdcore.train.engine import train

    seen = []
    cfg = TrainConfig(data="demo", per_class=30, epochs=1, width=4, amp=False, device="cpu", batch_size=None,
                      device_memory=0.0002)  # chunks of 135 drawings
    assert train(cfg, seen.append).status == "done"
    started = next(e for e in seen if isinstance(e, RunStarted))
    assert started.config["batch_size"] == 135 and any("batch auto: 135 on cpu" in n for n in started.notes)
    assert "they stream from host memory in chunks of 135" in started.notes[-1]
