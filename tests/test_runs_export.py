"""`qd runs export`: CSV, TensorBoard event files (read back with tensorboard's own reader) and JSON."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys

import pytest
from helpers import scaled_timeout
from typer.testing import CliRunner

from qdcore.store import Store

STEPS = [(s, 1 + (s - 1) // 4, "step", name, v) for s in range(1, 9)
         for name, v in (("loss", 2.0 / s), ("lr", 0.01 * 0.9 ** s))]
EPOCHS = [(4 * e, e, split, name, v) for e in (1, 2)
          for split, name, v in (("train", "loss", 1.0 / e), ("val", "loss", 1.2 / e), ("val", "top1", 0.3 * e))]


def _run(home, name: str = "exp") -> int:
    with Store(home) as store:
        rid = store.create_run(name, "classifier", {"model": "fc", "lr": 0.01})
        store.log_metrics(rid, STEPS + EPOCHS + [(8, 2, "val", "top5", math.nan)])
        store.finish_run(rid, "done", {"test_top1": 0.6})
    return rid


def _invoke(*args: str):
    from qdcore.cli.main import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_csv_and_json_hold_every_step_and_epoch(home, tmp_path):
    rid = _run(home)
    out = tmp_path / "exp"
    res = _invoke("runs", "export", str(rid), "--format", "csv", "--out", str(out))
    assert res.exit_code == 0, res.output
    steps = list(csv.DictReader((out / f"run-{rid}-csv" / "steps.csv").open()))
    assert [int(r["step"]) for r in steps] == list(range(1, 9))
    assert [float(r["loss"]) for r in steps] == [2.0 / s for s in range(1, 9)]  # exact: floats written by repr
    epochs = list(csv.DictReader((out / f"run-{rid}-csv" / "epochs.csv").open()))
    assert [(int(r["epoch"]), float(r["val/top1"])) for r in epochs] == [(1, 0.3), (2, 0.6)]
    assert epochs[1]["val/top5"] == ""  # NaN is left empty
    assert json.loads((out / f"run-{rid}-csv" / "run.json").read_text())["config"]["lr"] == 0.01

    doc = json.loads(_invoke("runs", "export", "last", "-f", "json", "-o", str(out), "--json").stdout)
    data = json.loads((out / f"run-{rid}.json").read_text())
    assert doc["files"] == [str(out / f"run-{rid}.json")]
    assert data["run"]["id"] == rid and len(data["steps"]) == 8 and data["epochs"][0]["train/loss"] == 1.0
    assert data["epochs"][1]["val/top5"] is None
    assert not list(out.glob(".*tmp"))


def test_tensorboard_event_files_read_back_with_tensorboard(home, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rids = [_run(home, "a"), _run(home, "b")]
    out = tmp_path / "tb"
    res = _invoke("runs", "export", *map(str, rids), "--format", "tensorboard", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert f"tensorboard --logdir {out}" in res.stdout
    for rid in rids:
        acc = EventAccumulator(str(out / f"run-{rid}"))
        acc.Reload()
        assert set(acc.Tags()["scalars"]) == {"step/loss", "step/lr", "train/loss", "val/loss", "val/top1"}
        loss = acc.Scalars("step/loss")
        assert [e.step for e in loss] == list(range(1, 9))
        assert [e.value for e in loss] == pytest.approx([2.0 / s for s in range(1, 9)], rel=1e-6)
        top1 = acc.Scalars("val/top1")
        assert [(e.step, e.value) for e in top1] == [(4, pytest.approx(0.3)), (8, pytest.approx(0.6))]
        assert "qd/config/text_summary" in acc.Tags()["tensors"]  # the run's config as text


def _qd(home, *args: str, pre: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "QD_HOME": str(home), "OMP_NUM_THREADS": "1"}
    code = f"import sys\n{pre}\nfrom qdcore.cli.main import run\nsys.argv = ['qd', *{list(args)!r}]\nrun()\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=scaled_timeout(120))


def test_bad_input_is_one_line_and_writes_nothing(home, tmp_path):
    rid = _run(home)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = [
        (("runs", "export", str(rid), "999", "-o", str(tmp_path / "o1")), "no run 999", ""),
        (("runs", "export", str(rid), "-o", str(blocker)), "is a file, not a folder", ""),
        (("runs", "export", str(rid), "-o", str(blocker / "sub")), "which is a file; give a folder to write", ""),
        (("runs", "export", str(rid), "-f", "parquet", "-o", str(tmp_path / "o2")), "--format must be one of", ""),
        (("runs", "export", str(rid), "-f", "tensorboard", "-o", str(tmp_path / "o3")), "pip install",
         "sys.modules['tensorboard'] = None  # as if tensorboard were not installed"),
    ]
    for args, msg, pre in cases:
        r = _qd(home, *args, pre=pre)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0] and "Traceback" not in r.stderr, (args, r.stderr)
    for name in ("o1", "o2", "o3"):
        assert not (tmp_path / name).exists() or not any((tmp_path / name).iterdir())
