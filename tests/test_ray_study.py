"""A study's trials as Ray tasks on a real local Ray runtime: the driver alone writes the store."""

from __future__ import annotations

import json

import pytest
from helpers import scaled_timeout

from qdcore.errors import ConfigError
from qdcore.kinds.study import StudyConfig
from qdcore.store import Store
from qdcore.studies import trials as T
from qdcore.studies.execute import execute
from qdcore.studies.ray_executor import RayPlan, connect
from qdcore.studies.runner import create_study

ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'qd[ray]'); not installed here")

SPEC = {"name": "ray tiny", "pool": ["circle", "square", "star"],
        "base": {"data": "demo", "categories": 3, "per_class": 30, "epochs": 2, "batch_size": 32, "val": 0.2,
                 "test": 0.2, "model": "widthk", "log_every": 2},
        "axes": {"width": [2, 3, 4]}}


@pytest.fixture(scope="module")
def local_ray():
    connect(RayPlan())  # a local runtime, started by the test, stopped after it
    yield
    ray.shutdown()


def test_three_trials_run_as_ray_tasks_and_the_driver_writes_the_store(local_ray, home, tmp_path):
    spec = tmp_path / "ray.json"
    spec.write_text(json.dumps(SPEC))
    seen = []
    with Store(home) as store:
        sid = create_study(store, StudyConfig().replace(spec=str(spec)))
        p = execute(store, sid, "ray", ray_plan=RayPlan(cpus_per_trial=1), on_progress=seen.append)
        assert p.counts == {"queued": 0, "running": 0, "done": 3, "failed": 0}
        assert store.get_run(sid).status == "done" and store.get_run(sid).summary["executor"] == "ray"
        children = store.list_runs(parent=sid)
        assert len(children) == 3 and all(c.status == "done" for c in children)
        assert sorted(c.config["width"] for c in children) == [2, 3, 4]
        for c in children:
            # events streamed back as rows (both epochs, step rows), files written into the run's folder
            epochs = {r.epoch for r in store.metrics(c.id) if r.split == "val"}
            assert epochs == {1, 2}
            assert any(r.split == "step" for r in store.metrics(c.id))
            folder = store.run_dir(c.id, create=False)
            assert {"model.safetensors", "model.json", "predictions.npz"} <= {f.name for f in folder.iterdir()}
            assert c.summary.get("test_top1") is not None
        assert [t.status for t in T.trials(store, sid)] == ["done"] * 3
    assert seen and seen[-1].counts["done"] == 3


def test_an_address_that_does_not_answer_is_one_line():
    import socket

    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConfigError, match=rf"could not connect to Ray at 127\.0\.0\.1:{port}"):
        connect(RayPlan(address=f"127.0.0.1:{port}"))
    with pytest.raises(ConfigError, match="must be HOST:PORT"):
        connect(RayPlan(address="nowhere"))


def test_bad_executor_options_store_nothing(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "QD_HOME": str(tmp_path / "home")}
    for args in (["--executor", "bogus"], ["--address", "nowhere"]):
        p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "run", "data-size", "--quick",
                            *args], capture_output=True, text=True, env=env, timeout=scaled_timeout(120))
        assert p.returncode == 2 and p.stderr.strip().splitlines()[-1].startswith("qd: error:"), p.stderr
    assert not (tmp_path / "home" / "qd.sqlite").exists() or Store(tmp_path / "home").list_runs() == []
