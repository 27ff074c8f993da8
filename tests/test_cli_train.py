"""`qd train`, `qd eval`, `qd predict` through Typer's runner and as real processes (SIGTERM included)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import scaled_timeout
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.store import Store

TINY = ["--data", "demo", "--per-class", "60", "--epochs", "2", "--width", "4", "--batch-size", "32", "--no-amp"]
ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _json(result) -> dict:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_train_eval_predict(home, tmp_path):
    out = _json(invoke("train", *TINY, "--name", "tiny", "--json"))
    assert out["status"] == "done" and out["epochs"] == 2
    for key in ("run_id", "test_top1", "test_top5", "train_seconds", "images_per_second"):
        assert out[key] is not None, key
    run = Store(home).get_run(out["run_id"])
    assert run.status == "done" and run.name == "tiny" and run.config["width"] == 4
    assert Store(home).history(out["run_id"])["val/top1"][-1][0] == 2

    ev = _json(invoke("eval", str(out["run_id"]), "--json"))
    assert ev["top1"] == pytest.approx(out["test_top1"]) and ev["n"] == run.summary["num_test"]
    assert len(ev["per_class"]) == len(ev["classes"]) == 12 and len(ev["confusion"]) == 12
    assert set(ev["macro"]) >= {"precision", "recall", "f1"}
    from qdcore.stats import wilson_interval

    assert ev["top1_ci"] == pytest.approx(wilson_interval(round(ev["top1"] * ev["n"]), ev["n"]))
    assert all(r["recall_ci"][0] <= r["recall"] <= r["recall_ci"][1] for r in ev["per_class"])
    sub = _json(invoke("eval", "last", "--data", "demo", "-c", "circle,moon", "-n", "20", "--json"))
    assert sub["n"] == 40 and [r["class"] for r in sub["per_class"]] == ["circle", "moon"]
    table = invoke("eval", str(out["run_id"]))
    assert table.exit_code == 0 and "macro avg" in table.stdout and "confusion" in table.stdout
    lo, hi = ev["top1_ci"]
    assert f"(95% CI {100 * lo:.1f}–{100 * hi:.1f}%)" in " ".join(table.stdout.split())

    from qdcore.data.demo import generate

    images, _ = generate(per_class=3, seed=5, classes=["moon"])
    np.save(tmp_path / "moon.npy", images.reshape(-1, 784))
    pred = _json(invoke("predict", str(out["run_id"]), str(tmp_path / "moon.npy"), "--top", "3", "--json"))
    assert pred["n"] == 3 and pred["file_category"] == "moon"
    assert all(len(p["top"]) == 3 and p["top"][0]["prob"] >= p["top"][1]["prob"] for p in pred["predictions"])
    shown = invoke("predict", str(out["run_id"]), str(tmp_path / "moon.npy"))
    assert shown.exit_code == 0 and "moon.npy#0" in shown.stdout

    # Data whose classes the model does not know: one-line errors.
    other = tmp_path / "other"
    other.mkdir()
    np.save(other / "cat.npy", images.reshape(-1, 784))
    assert "not trained on ('cat')" in _error(invoke("eval", str(out["run_id"]), "--data", str(other), "-c", "cat"))
    assert "none of the model's" in _error(invoke("eval", str(out["run_id"]), "--data", str(other)))


def test_preset_config_file_and_flags(home, tmp_path):
    cfg = tmp_path / "train.toml"
    cfg.write_text('[train]\nepochs = 1\nlr = 0.01\nper_class = 40\nwidth = 4\nval = 0.2\n')
    out = _json(invoke("train", "--preset", "plain", "--config", str(cfg), "--lr", "0.002", "--no-amp", "--json"))
    c = Store(home).get_run(out["run_id"]).config
    assert (c["epochs"], c["lr"], c["batch_size"], c["width"], c["val"], c["per_class"]) == (1, 0.002, 256, 4, 0.2, 40)


def _error(result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    return result.output


def test_bad_options(home):
    assert "lr=-1" in _error(invoke("train", "--lr=-1"))
    assert "--lr" in _error(invoke("train", "--resume", "1", "--lr", "0.1"))
    assert "no run 41" in _error(invoke("eval", "41"))
    assert "KEY=VALUE" in _error(invoke("train", *TINY, "--opt", "depth"))
    assert "unknown preset" in _error(invoke("train", "--preset", "strnog"))
    assert Store(home).list_runs() == []  # no half-made runs from bad options


def _qd(*args: str, env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qdcore.cli.main", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _env(home: Path) -> dict:
    return {**os.environ, "QD_HOME": str(home), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}


def test_real_process_json_and_user_error(home):
    p = _qd("train", *TINY, "--epochs", "1", "--json", env=_env(home))
    out, err = p.communicate(timeout=scaled_timeout(300))
    assert p.returncode == 0, err
    doc = json.loads(out)
    assert doc["status"] == "done" and doc["epochs"] == 1 and 0 <= doc["test_top1"] <= 1
    p = _qd("train", "--batch-size", "0", env=_env(home))
    out, err = p.communicate(timeout=scaled_timeout(120))
    assert p.returncode == 2 and err.startswith("qd: error:") and "--batch-size=0" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_sigterm_interrupts_then_resume_completes(home):
    args = ["train", "--data", "demo", "--per-class", "250", "--epochs", "3", "--width", "4", "--batch-size", "8",
            "--log-every", "1", "--no-amp", "--json"]
    p = _qd(*args, env=_env(home))
    store = Store(home)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:  # wait until training is under way
            runs = store.list_runs()
            if runs and store.metrics(runs[0].id, split="step", limit=1):
                break
            assert p.poll() is None, p.communicate()
            time.sleep(0.05)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=scaled_timeout(120))
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, err
    doc = json.loads(out)
    run_id = doc["run_id"]
    assert doc["status"] == "interrupted"
    assert store.get_run(run_id).status == "interrupted"
    assert (home / "runs" / str(run_id) / "resume.safetensors").is_file()

    done = _json(invoke("train", "--resume", str(run_id), "--json"))
    assert done["status"] == "done" and done["epochs"] == 3 and done["run_id"] == run_id
    rec = store.get_run(run_id)
    assert rec.status == "done" and rec.summary["resumed"] == 1
    steps = [r.step for r in store.metrics(run_id, split="step") if r.name == "loss"]
    assert steps == sorted(set(steps)) and steps[-1] == 3 * done_steps(rec)
    epochs = [r.epoch for r in store.metrics(run_id, split="val") if r.name == "top1"]
    assert epochs == [1, 2, 3]


def done_steps(rec) -> int:
    """Steps per epoch of a run from its stored summary (train drawings / batch size, rounded up)."""
    n, b = rec.summary["num_train"], rec.config["batch_size"]
    return -(-n // b) - (1 if n % b == 1 else 0)
