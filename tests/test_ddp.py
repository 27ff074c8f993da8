"""Real DistributedDataParallel on the CPU: 2 torchrun processes over Gloo against one process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import scaled_timeout
from safetensors.torch import load_file

from qdcore.data.selection import load_splits
from qdcore.errors import ConfigError
from qdcore.train import TrainConfig
from qdcore.train.engine import train

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="this PyTorch build has no torch.distributed with Gloo")

# No dropout, no augmentation, no batch norm: then 2 ranks x 32 is the same SGD as 1 x 64.
BASE = dict(data="demo", per_class=140, epochs=1, batch_size=32, width=4, lr=3e-3, amp=False, device="cpu",
            log_every=2, val=0.1, test=0.1)
WORKER = Path(__file__).with_name("ddp_worker.py")


def _torchrun(spec: dict, tmp: Path, nproc: int = 2) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QD_DIST_TIMEOUT": "60"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           str(WORKER), json.dumps(spec)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=scaled_timeout(240), cwd=tmp)
    # A Python error of the worker names its own files; torchrun's agent prints a traceback of its own either way.
    worker_error = "qdcore/" in p.stderr or 'ddp_worker.py", line' in p.stderr
    if p.returncode != 0 and "(SIGABRT)" in p.stderr and not worker_error \
            and not spec.get("die_at") and not spec.get("resume"):
        # Seen about once in 20 runs on a loaded 2-core box: a rank aborted inside Gloo's transport with no
        # Python error ("terminate called without an active exception"; DDP wrappers are now collected before
        # the group is destroyed, see dist.leave). One retry from a clean folder; the first output is kept.
        (tmp / "torchrun-aborted.log").write_text(p.stdout + p.stderr)
        for f in Path(spec["out"]).iterdir():
            f.unlink()
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=scaled_timeout(240), cwd=tmp)
    return p


def _spec(tmp: Path, name: str, **extra) -> dict:
    out = tmp / name
    out.mkdir(exist_ok=True)
    return {"config": {**BASE, **extra.pop("config", {})}, "out": str(out), "run_dir": str(out), **extra}


@pytest.mark.parametrize("placement", [{}, {"device_memory": 0.0002}], ids=["resident", "streamed"])
def test_two_ranks_equal_one_process_with_the_global_batch(tmp_path, placement):
    # Streamed: each rank gathers its shard's chunks of 128 drawings from host memory while the last one trains.
    spec = _spec(tmp_path, "ddp", config=placement)
    p = _torchrun(spec, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    ddp = load_file(str(tmp_path / "ddp" / "weights.safetensors"))
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "done"
    assert summary.get("streamed_chunk") == (128 if placement else None)

    cfg = TrainConfig(**{**BASE, "batch_size": 64})
    single = train(cfg, splits=load_splits(cfg))
    steps = summary["num_train"] // 64
    assert steps >= 20, steps  # the comparison covers at least 20 optimizer steps
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-4, atol=1e-5)
    # Metrics were reduced over ranks: the whole test split was evaluated and gathered.
    assert summary["test_top1"] == pytest.approx(single.summary["test_top1"], abs=1.5 / summary["num_test"])
    assert summary["num_test"] == single.summary["num_test"]


def test_interrupted_two_rank_run_resumes_to_the_same_weights(tmp_path):
    cfg = {"epochs": 2, "per_class": 80}
    full = _spec(tmp_path, "full", config=cfg)
    assert _torchrun(full, tmp_path).returncode == 0
    # rank 1 asks to stop at its 8th check: both ranks stop at the same step, rank 0 writes the checkpoint.
    part = _spec(tmp_path, "part", config=cfg, stop_at=8, stop_rank=1)
    p = _torchrun(part, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    assert json.loads((tmp_path / "part" / "summary.json").read_text())["status"] == "interrupted"
    assert (tmp_path / "part" / "resume.safetensors").is_file()
    resumed = {**part, "stop_at": None, "resume": True}
    p = _torchrun(resumed, tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    a = load_file(str(tmp_path / "full" / "weights.safetensors"))
    b = load_file(str(tmp_path / "part" / "weights.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    # Rank 0 alone wrote the run folder: no per-rank copies.
    assert sorted(f.name for f in (tmp_path / "part").iterdir() if f.name.startswith("model"))  \
        == ["model.json", "model.safetensors"]


def test_world_size_without_a_process_group_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ConfigError, match="WORLD_SIZE=2"):
        train(TrainConfig(**BASE), run_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_qd_train_nproc_runs_two_ranks_and_rank_zero_alone_writes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    home = tmp_path / "home"
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", "--per-class", "40",
                        "--epochs", "1", "--width", "4", "--device", "cpu", "--nproc", "2", "--json"],
                       env=env, capture_output=True, text=True, timeout=scaled_timeout(240))
    assert p.returncode == 0, p.stderr[-3000:]
    from qdcore.store import Store

    runs = Store(home).list_runs()
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].summary["world_size"] == 2
    assert sorted(d.name for d in (home / "runs").iterdir()) == [str(runs[0].id)]


def test_a_rank_that_dies_ends_the_run_never_left_running(tmp_path):
    from qdcore.runs.run import prepare
    from qdcore.store import Store

    # The run row exists before the ranks start, as `qd train --nproc N` started from the TUI or --detach makes it:
    # the test is about the row's end, not about which rank gets to create it.
    home = tmp_path / "home"
    with Store(home) as store:
        kind, cfg = prepare(TrainConfig(**{**BASE, "epochs": 3}), store)
        run_id = store.create_run(cfg.name, kind.name, cfg.to_dict())
    spec = _spec(tmp_path, "die", config={"epochs": 3}, die_at=3, home=str(home), run_id=run_id)
    p = _torchrun(spec, tmp_path)
    assert p.returncode != 0
    # The intended fault and no other: rank 1 left with exit code 3; any other rank only echoed it, aborting when
    # its Gloo peer vanished (SIGABRT) or ended by torchrun (SIGTERM). torchrun stamps failures in whole seconds,
    # so its "Root Cause" may name the same-second echo (qdcore.train.torchrun.failure_line ranks it after).
    ended = {int(r): int(c) for r, c in re.findall(r"rank\s*: (\d+) \(local_rank.*?\n\s*exitcode\s*: (-?\d+)",
                                                  p.stderr, re.S)}
    assert ended.get(1) == 3, p.stderr[-3000:]
    assert all(c in (-int(signal.SIGABRT), -int(signal.SIGTERM)) for r, c in ended.items() if r != 1), ended
    run = Store(home).get_run(run_id)  # opening the store reaps a run whose process is gone
    assert run.status in ("failed", "interrupted"), (run.status, p.stderr[-3000:])


def test_nproc_below_one_is_refused(tmp_path):
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(tmp_path), "train", "--nproc", "0"],
                       capture_output=True, text=True, timeout=scaled_timeout(120))
    assert p.returncode == 2 and "--nproc=0 must be a whole number >= 1" in p.stderr and not (tmp_path / "runs").exists()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_nodes(home: Path, args: list[str]) -> list[subprocess.CompletedProcess]:
    """`qd train ... --nnodes 2 --rdzv-endpoint` started twice, as on two machines meeting at one endpoint."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QD_DIST_TIMEOUT": "60"}
    cmd = [sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", *args, "--nproc", "1",
           "--nnodes", "2", "--rdzv-endpoint", f"127.0.0.1:{_free_port()}", "--json"]
    nodes = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    done = []
    for node in nodes:
        out, err = node.communicate(timeout=scaled_timeout(240))
        done.append(subprocess.CompletedProcess(cmd, node.returncode, out, err))
    return done


def test_two_nodes_through_the_rendezvous_train_one_run_equal_to_one_process(tmp_path):
    args = ["--data", "demo", "--per-class", "140", "--epochs", "1", "--batch-size", "32", "--width", "4",
            "--lr", "3e-3", "--no-amp", "--device", "cpu", "--log-every", "2", "--val", "0.1", "--test", "0.1"]
    home = tmp_path / "home"
    nodes = _two_nodes(home, args)
    if any(n.returncode != 0 and "(SIGABRT)" in n.stderr and "qdcore/" not in n.stderr for n in nodes):
        # The Gloo abort at exit that _torchrun retries once (see there): a fresh store, a fresh endpoint.
        (tmp_path / "nodes-aborted.log").write_text("".join(n.stdout + n.stderr for n in nodes))
        home = tmp_path / "home-retry"
        nodes = _two_nodes(home, args)
    assert [n.returncode for n in nodes] == [0, 0], "\n".join(n.stderr[-2000:] for n in nodes)
    from qdcore.store import Store

    runs = Store(home).list_runs()
    assert len(runs) == 1 and runs[0].status == "done" and runs[0].summary["world_size"] == 2
    assert sorted(d.name for d in (home / "runs").iterdir()) == [str(runs[0].id)]  # rank 0 alone wrote
    printed = [json.loads(n.stdout) for n in nodes if n.stdout.strip()]
    assert len(printed) == 1 and printed[0]["run_id"] == runs[0].id  # one result, from rank 0's node

    cfg = TrainConfig(**{**BASE, "batch_size": 64})
    single = train(cfg, splits=load_splits(cfg))
    weights = load_file(str(home / "runs" / str(runs[0].id) / "model.safetensors"))
    for k, v in single.model.state_dict().items():
        torch.testing.assert_close(weights[k], v, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("args, says", [
    (["--device", "cuda", "--nproc", "2"], "--nproc 2 but 0 CUDA GPUs are visible here"),
    (["--nproc", "1", "--nnodes", "2"], "--nnodes > 1 needs --rdzv-endpoint HOST:PORT"),
    (["--nproc", "2", "--nnodes", "0"], "--nnodes=0 must be a whole number >= 1"),
])
def test_a_world_that_cannot_start_here_is_one_line_and_writes_nothing(tmp_path, monkeypatch, args, says):
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on this CPU machine, wherever it runs
    r = CliRunner().invoke(app, ["--home", str(tmp_path / "home"), "train", "--per-class", "20", *args])
    assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output, r.output
    assert not (tmp_path / "home").exists()


def test_gpus_without_nccl_are_refused_before_any_rank_starts(monkeypatch):
    import torch.distributed as tdist

    from qdcore.train import torchrun

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(tdist, "is_nccl_available", lambda: False)
    with pytest.raises(ConfigError, match="no NCCL"):
        torchrun.check(2, 1, None, "auto")
    torchrun.check(2, 1, None, "cpu")  # Gloo ranks need no NCCL


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_sigterm_to_qd_train_nproc_stops_every_rank_quietly_then_resume_finishes(tmp_path, sig):
    # SIGTERM: torchrun passes it on and waits. SIGKILL: torchrun dies at once; its ranks get SIGTERM from the
    # kernel (stop_with_launcher) instead of training on as orphans.
    import signal
    import time

    from qdcore.store import Store

    home = tmp_path / "home"
    qd = [sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "QD_DIST_TIMEOUT": "60"}
    p = subprocess.Popen([*qd, "--data", "demo", "--per-class", "250", "--epochs", "3", "--width", "4",
                          "--batch-size", "8", "--log-every", "1", "--no-amp", "--device", "cpu", "--nproc", "2"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:  # until both ranks train
            runs = Store(home).list_runs() if (home / "qd.sqlite").exists() else []
            if runs and Store(home).metrics(runs[0].id, split="step", limit=1):
                break
            assert p.poll() is None, p.communicate()
            time.sleep(0.05)
        p.send_signal(getattr(signal, sig))  # to torchrun (qd became it), as `kill` or a dropped session sends it
        out, err = p.communicate(timeout=scaled_timeout(120))  # until the ranks, which share its stderr, have ended too
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == (130 if sig == "SIGTERM" else -9) and "Traceback" not in err, err[-3000:]
    assert err.count("stopping after this step") == 2 and "run 1 interrupted; continue it with" in err
    store = Store(home)
    run = store.get_run(1)
    assert run.status == "interrupted" and (home / "runs" / "1" / "resume.safetensors").is_file()

    done = subprocess.run([*qd, "--resume", "1", "--device", "cpu", "--nproc", "2", "--json"], env=env,
                          capture_output=True, text=True, timeout=scaled_timeout(240))
    assert done.returncode == 0, done.stderr[-3000:]
    run = store.get_run(1)
    assert run.status == "done" and run.summary["world_size"] == 2
    steps = [r.step for r in store.metrics(1, split="step") if r.name == "loss"]
    assert steps == sorted(set(steps))  # no step logged twice across the stop
    assert [r.epoch for r in store.metrics(1, split="val") if r.name == "top1"] == [1, 2, 3]
