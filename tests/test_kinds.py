"""The run-kind shape: a new kind registered here (no other change) trains, stores, plots and lists; options."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest
from typer.testing import CliRunner

from qdcore.errors import ConfigError
from qdcore.events import EpochEnd, RunFinished, RunStarted, Samples
from qdcore.runs.kinds import Column, Panel, RunKind, get_kind, register, unregister
from qdcore.runs.options import RunConfig, option
from qdcore.store import Store, StoreSink


# --- a tiny kind built from the real pieces: nearest class mean on the real data selection ---------------


@dataclass
class CentroidConfig(RunConfig):
    """Nearest-class-mean classifier: the means are refined over `rounds` passes with a shrinkage."""

    model: str = option("centroid", help="The centroid model.", panel="Centroid", choices=("centroid",),
                        form="Model")
    rounds: int = option(2, help="Passes over the training split.", panel="Centroid", min=1, max=50,
                         form="Rounds")
    shrink: float = option(0.0, help="Shrink the means toward the grand mean.", panel="Centroid", min=0, max=1,
                           form="Shrink")


def train_centroid(cfg, sink, should_stop, run_dir, resume):
    from qdcore.data.drawingset import select, split
    from qdcore.data.sources import open_source

    s = split(select(open_source(cfg.data), cfg.categories, cfg.per_class, cfg.seed, cfg.imbalance),
              cfg.val, cfg.test, cfg.seed)
    x = np.asarray(s.train.images, np.float32).reshape(len(s.train), -1) / 255
    y = np.asarray(s.train.labels)
    vx = np.asarray(s.val.images, np.float32).reshape(len(s.val), -1) / 255
    vy = np.asarray(s.val.labels)
    k = len(s.train.classes)
    sink(RunStarted(None, cfg.name, cfg.to_dict(), "cpu numpy", cfg.rounds, 1, len(x), "fp", {"classes": k}))
    means = np.zeros((k, x.shape[1]), np.float32)
    acc = 0.0
    for r in range(1, cfg.rounds + 1):
        for c in range(k):
            means[c] = x[y == c].mean(0) if (y == c).any() else 0
        means = (1 - cfg.shrink) * means + cfg.shrink * means.mean(0)
        acc = float((np.argmin(((vx[:, None] - means[None]) ** 2).sum(-1), 1) == vy).mean()) if len(vx) else 0.0
        sink(EpochEnd(r, r, 0.01, {"val/acc": acc, "train/classes": float(k)}))
        sink(Samples(r, r, (means.reshape(k, 28, 28) * 255).astype(np.uint8), list(s.train.classes), "means"))
    summary = {"val_acc": acc, "classes": k}
    sink(RunFinished("done", summary))
    return summary


CENTROID = RunKind(
    name="centroid", config=CentroidConfig, train=train_centroid, models=lambda: ("centroid",),
    panels=(Panel("acc", "val accuracy %", ("val/acc",), x="epoch", scale=100.0),),
    columns=(Column("acc", "acc", 6, lambda c, s: s.get("val_acc"), lambda v: "—" if v is None else f"{100 * v:.0f}%"),),
    result_line=lambda s: f"val acc {100 * s.get('val_acc', 0):.0f}%",
)


@pytest.fixture
def centroid():
    register(CENTROID)
    yield CENTROID
    unregister("centroid")


def test_store_sink_keeps_samples_as_files_readers_poll(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("s", "centroid", {})
    sink = StoreSink(store, rid)
    grid = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    sink(Samples(1, 10, grid, ["a", "b"], "means"))
    rows = store.artifacts_after(rid)
    assert [(r.epoch, r.step, r.name) for r in rows] == [(1, 10, "means")]
    assert np.array_equal(store.load_artifact(rows[0]), grid)
    sink(Samples(2, 20, grid + 1))
    assert [r.name for r in store.artifacts_after(rid, rows[0].id)] == ["samples"]
    assert (tmp_path / "runs" / str(rid) / rows[0].path).is_file()


def test_a_new_kind_trains_through_qd_train_and_is_stored(centroid, tmp_path, monkeypatch):
    from qdcore.cli.main import app

    monkeypatch.setenv("QD_HOME", str(tmp_path))
    runner = CliRunner()
    help_text = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "--shrink" in help_text and "--rounds" in help_text and "Centroid" in help_text
    r = runner.invoke(app, ["train", "--model", "centroid", "--per-class", "20", "--rounds", "3", "--json"])
    assert r.exit_code == 0, r.output
    store = Store(tmp_path)
    run = store.list_runs()[0]
    assert run.kind == "centroid" and run.status == "done" and run.config["rounds"] == 3
    assert run.summary["val_acc"] > 2 / run.summary["classes"]  # well above chance
    assert [row.epoch for row in store.artifacts_after(run.id)] == [1, 2, 3]
    assert [e for e, _ in store.history(run.id)["val/acc"]] == [1, 2, 3]
    # Its options are its own: a classifier option is refused, and so is a bad value of its own.
    r = runner.invoke(app, ["train", "--model", "centroid", "--width", "12"])
    assert r.exit_code == 2 and "--width is not an option of centroid runs" in r.output
    r = runner.invoke(app, ["train", "--model", "centroid", "--shrink", "2"])
    assert r.exit_code == 2 and "--shrink=2.0 must be a number >= 0 and <= 1" in r.output


BAD = [
    (["--warmup", "inf"], "--warmup=inf must be a finite number"),
    (["--seed", "1180591620717411303424"], "--seed=1180591620717411303424 must be a whole number >= 0"),
    (["--width", "100000"], "--width=100000 must be a whole number >= 1 and <= 1024"),
    (["--kernel", "100"], "--kernel=100 must be a whole number >= 1 and <= 13"),
    (["--epochs", "1e30"], "--epochs='1e30' must be a whole number"),
    (["--lr", "nan"], "--lr=nan must be a finite number"),
    (["--model", "cnn1-000", "--width", "900"], "parameters (a 300 MB checkpoint); the limit is 50,000,000"),
]
BAD_FILES = [
    ('{"categories": 5}', "categories=5 must be text"),
    ('{"data": 5}', "data=5 must be text"),
    ('{"hflip": "false"}', "hflip='false' must be true or false"),
    ('{"compile": "no"}', "compile='no' must be true or false"),
    ('{"epochs": 10.5}', "epochs=10.5 must be a whole number"),
    ('{"betas": [0.9, "x"]}', "betas=[0.9, 'x'] must be 2 finite numbers"),
    ("DEEP", "nested too deeply"),
    ('{"model_opts": {"a": {"b": {"c": {"d": {"e": 1}}}}}}', "nested too deeply"),
]


@pytest.mark.parametrize("args, words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_option_values_are_one_line_errors(tmp_path, monkeypatch, args, words):
    from qdcore.cli.main import run

    monkeypatch.setenv("QD_HOME", str(tmp_path))
    _expect_error(run, ["train", *args], words, capsys=None)


def _expect_error(run, argv, words, capsys=None):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", *argv], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qd: error:") and words in lines[0], p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.parametrize("text, words", BAD_FILES, ids=[w for _, w in BAD_FILES])
def test_bad_config_files_are_one_line_errors(tmp_path, monkeypatch, text, words):
    monkeypatch.setenv("QD_HOME", str(tmp_path))
    path = tmp_path / "cfg.json"
    path.write_text("[" * 100_000 + "]" * 100_000 if text == "DEEP" else text)
    _expect_error(None, ["train", "--config", str(path)], words)


def test_special_files_are_not_configs(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_HOME", str(tmp_path))
    _expect_error(None, ["train", "--config", "/dev/zero"], "is not a regular file")


def test_resolved_values_are_stored_and_default_names_are_short(tmp_path):
    from qdcore.runs.run import prepare
    from qdcore.train.config import TrainConfig

    kind, cfg = prepare(TrainConfig().replace(data="/a/very/long/path/to/some/folder", lr=3e-3, epochs=20))
    assert kind.name == "classifier" and cfg.width == 12 and cfg.kernel == 3 and cfg.pooling == "max"
    assert cfg.name == "widthk folder e=20 lr=0.003" and len(cfg.name) < 40
    assert json.loads(json.dumps(cfg.to_dict()))["width"] == 12


def test_model_names_route_to_their_kind(centroid):
    from qdcore.runs.kinds import build_config, choose_kind

    assert choose_kind(model="centroid") is centroid and choose_kind(model="widthk") is get_kind("classifier")
    cfg = build_config(None, None, {"model": "centroid", "rounds": 4})
    assert isinstance(cfg, CentroidConfig) and cfg.rounds == 4
    with pytest.raises(ConfigError, match="trained by the centroid kind"):
        choose_kind("classifier", "centroid")
