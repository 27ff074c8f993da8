"""The run-kind shape: a new kind registered here (no other change) trains, stores, plots and lists; options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from centroid_kind import CENTROID, CentroidConfig
from helpers import scaled_timeout
from typer.testing import CliRunner

from qdcore.cli.main import app as qd_app
from qdcore.errors import ConfigError
from qdcore.events import Samples
from qdcore.runs.kinds import get_kind, register, unregister
from qdcore.store import Store, StoreSink


@pytest.fixture
def centroid():
    import importlib

    import qdcore.cli.main

    register(CENTROID)
    # `qd` generates its options from the kinds registered when the CLI is built; another test in this process
    # may have built it before this kind existed (a real process registers its kinds first), so build it again.
    importlib.reload(qdcore.cli.main)
    yield CENTROID
    unregister("centroid")
    importlib.reload(qdcore.cli.main)


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
    app = qd_app  # imported before the kind was registered: its options still appear

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

    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", *argv], capture_output=True, text=True, timeout=scaled_timeout(120))
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
    from helpers import npy_folder

    from qdcore.runs.run import prepare
    from qdcore.train.config import TrainConfig

    folder = tmp_path / "a" / "very" / "long" / "path" / "to" / "some" / "folder"
    folder.mkdir(parents=True)
    kind, cfg = prepare(TrainConfig().replace(data=npy_folder(folder, ("cat", "dog"), 4), lr=3e-3, epochs=20))
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


# --- the same kind in the app: form, launcher, live view, runs table, palette -----------------------------


@pytest.fixture
def kind_env(centroid, home, monkeypatch):
    """The launcher's `qd train` children find this test module's kind through $QD_KINDS."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("QD_KINDS", "centroid_plugin")
    monkeypatch.setenv("PYTHONPATH", f"{root}{__import__('os').pathsep}{root / 'tests'}")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return home


async def _settle_table(pilot, screen):
    from tui_helpers import wait_for

    await wait_for(pilot, lambda: screen.loaded >= 1, what="the runs")
    await pilot.pause()


def test_a_new_kind_in_the_form_live_view_and_runs_table(kind_env):
    import asyncio
    import subprocess

    from textual.widgets import DataTable, Input, Select
    from tui_helpers import wait_for

    from qdcore.runs.launcher import LOG_FILE
    from qdtui.app import QdApp
    from qdtui.screens.live import LiveScreen
    from qdtui.screens.runs import RunsScreen
    from qdtui.screens.train import TrainScreen
    from qdtui.state import AppState

    home = kind_env

    async def drive() -> None:
        app = QdApp(AppState(home=home))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            form = TrainScreen()
            await app.push_screen(form)
            form.query_one("#f-model", Select).value = "centroid"
            await wait_for(pilot, lambda: form.query("#f-shrink"), what="the kind's rows")
            assert form.query("#f-rounds") and not form.query("#f-width")  # its options, not a classifier's
            form.query_one("#f-shrink", Input).value = "2"
            await pilot.press("ctrl+s")
            await pilot.pause()
            note = str(form.query_one("#train-note").content)
            cli = subprocess.run([__import__("sys").executable, "-m", "qdcore.cli.main", "train", "--model",
                                  "centroid", "--shrink", "2"], capture_output=True, text=True, timeout=scaled_timeout(120))
            assert cli.stderr.strip() == f"qd: error: {note}" and "--shrink=2.0" in note
            form.query_one("#f-shrink", Input).value = "0.1"
            form.query_one("#f-per-class", Input).value = "20"
            form.query_one("#f-rounds", Input).value = "3"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), what="the live view")
            live = app.screen
            await wait_for(pilot, lambda: live.live.status == "done", timeout=120, what="the run to end")
            await wait_for(pilot, lambda: set(live.plots) == {"acc"} and len(live.plots["acc"].series["val"].xs) == 3,
                           30, "the kind's plot")
            assert set(live.grids) == {"means"}  # the kind's panels
            classes = Store(home).get_run(live.live.run_id).summary["classes"]
            await wait_for(pilot, lambda: len(live.grids["means"].items) == classes, what="the means grid")
            assert live.grids["means"].items[0].provenance == "epoch 3"  # the newest array
            assert "val acc" in str(live.query_one("#live-status").content)
            rid = live.live.run_id
            log = home / "runs" / str(rid) / LOG_FILE
            assert log.is_file() and live.job.wait(timeout=scaled_timeout(30)) == 0
            await pilot.press("escape", "escape")
            await pilot.pause()
            app.action_open("runs")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="runs")
            runs = app.screen
            await _settle_table(pilot, runs)
            table = runs.query_one("#tracker", DataTable)
            heads = [str(c.label).strip(" ▲▼") for c in table.columns.values()]
            assert "acc" in heads
            cells = [str(c).strip() for c in table.get_row(str(rid))]
            assert cells[heads.index("acc")].endswith("%") and cells[heads.index("status")] == "done"

    asyncio.run(drive())


def test_the_command_palette_offers_qds_actions_and_runs(home):
    import asyncio

    from tui_helpers import wait_for

    from qdcore.store import Store
    from qdtui.app import QdApp
    from qdtui.commands import QdCommands
    from qdtui.screens.runs import RunsScreen
    from qdtui.state import AppState

    with Store(home) as store:
        rid = store.create_run("palette run", "classifier", {"model": "fc"})
        store.finish_run(rid, "interrupted", {})

    async def drive() -> None:
        app = QdApp(AppState(home=home))
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            provider = QdCommands(app.screen)
            await provider.startup()
            titles = [t for t, _, _ in provider._commands()]
            assert titles[:4] == ["Train a model", "Runs", "Quiz", "Data"]
            assert f"Open run {rid} palette run" in titles
            assert QdCommands in app.COMMANDS
            hits = [h async for h in provider.search("runs")]
            assert hits and str(hits[0].text) == "Runs" and hits[0].command.args == ("runs",)
            assert [h async for h in provider.search(f"open run {rid + 50}")]  # any number, looked up on use
            app.action_open("runs")
            await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), what="the runs screen")
            await wait_for(pilot, lambda: app.screen.loaded >= 1, what="the runs")

    asyncio.run(drive())


def test_compare_sees_identical_runs_as_identical(tmp_path, monkeypatch):
    """Configs store the values used (width 12, not null): a default and an explicit width compare equal."""
    from qdcore.cli.main import app
    from qdcore.runs.run import prepare
    from qdcore.train.config import TrainConfig

    monkeypatch.setenv("QD_HOME", str(tmp_path))
    store = Store(tmp_path)
    ids = []
    for cfg in (TrainConfig(name="a"), TrainConfig(name="a").replace(width=12, kernel=3)):
        kind, cfg = prepare(cfg)
        ids.append(store.create_run(cfg.name, kind.name, cfg.to_dict()))
    r = CliRunner().invoke(app, ["runs", "compare", *map(str, ids), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["differs"] == []


def test_run_id_only_trains_a_run_just_created(tmp_path, monkeypatch):
    from qdcore.cli.main import app

    monkeypatch.setenv("QD_HOME", str(tmp_path))
    store = Store(tmp_path)
    rid = store.create_run("old", "classifier", {"model": "fc", "per_class": 20, "epochs": 1})
    store.finish_run(rid, "done", {})
    r = CliRunner().invoke(app, ["train", "--run-id", str(rid)])
    assert r.exit_code == 2 and "has already started (done)" in r.output


def test_launch_creates_the_row_first_and_logs_into_the_run_folder(tmp_path, monkeypatch):
    from qdcore.runs.launcher import LOG_FILE, Resume, launch
    from qdcore.train.config import TrainConfig

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    cfg = TrainConfig().replace(model="fc", per_class=20, epochs=1, device="cpu", name="launched")
    job = launch(cfg, tmp_path)
    store = Store(tmp_path)
    assert store.get_run(job.run_id).name == "launched"  # the row exists before the child has done anything
    assert job.wait(timeout=scaled_timeout(180)) == 0, job.log_path.read_text()
    run = store.get_run(job.run_id)
    assert run.status == "done" and run.pid == job.pid and run.config["width"] is None  # fc has no width
    assert job.log_path == tmp_path / "runs" / str(job.run_id) / LOG_FILE and "epoch   1/1" in job.log_path.read_text()
    with pytest.raises(ConfigError, match="already finished"):
        launch(Resume(job.run_id), tmp_path)
    store.delete_run(job.run_id)
    assert not job.log_path.exists()  # the log is part of the run


@pytest.mark.parametrize("argv, words", [
    (["data", "show", "circle", "--cols", "-2"], "--cols=-2 must be a whole number >= 1 and <= 100"),
    (["data", "show", "circle", "--n", "100000"], "--n=100000 must be a whole number >= 1 and <= 10000"),
    (["analyze", "last", "--k", "100000"], "--k=100000 must be a whole number >= 2 and <= 1000"),
    (["analyze", "last", "--min-confidence", "2"], "--min-confidence=2.0 must be a number >= 0 and <= 1"),
    (["predict", "last", "x.npy", "--top", "0"], "--top=0 must be a whole number >= 1 and <= 1000"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_other_commands_bound_their_options(tmp_path, monkeypatch, argv, words):
    monkeypatch.setenv("QD_HOME", str(tmp_path))
    _expect_error(None, argv, words)


def test_a_new_kind_on_the_loop_driver_resumes_exactly_and_runs_on_two_gloo_ranks(centroid, tmp_path):
    """The test kind is one module: the loop driver gives it exact resume and DDP (2 Gloo ranks = 1 process)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import torch

    from qdcore.runs.run import resume, start

    cfg = CentroidConfig(data="demo", per_class=20, rounds=3, batch=8)  # 192 training drawings: 24 steps a round
    with Store(tmp_path / "one") as store:
        full = start(cfg, store)
        full_rows = store.history(full.run_id)["val/acc"]
        full_grid = store.load_artifact(store.artifacts_after(full.run_id)[-1])
    calls = {"n": 0}

    def stop_mid_round_2() -> bool:
        calls["n"] += 1
        return calls["n"] == 24 + 1 + 10  # 24 steps and the epoch-end poll of round 1, then 10 steps

    with Store(tmp_path / "parts") as store:
        first = start(cfg, store, should_stop=stop_mid_round_2)
        assert first.status == "interrupted" and first.summary["resume_from"] == {"epoch": 2, "batch": 10}
        second = resume(first.run_id, store)
        assert second.status == "done" and torch.equal(second.result.means, full.result.means)
        assert store.history(first.run_id)["val/acc"] == full_rows  # each round's row once, the same values
        steps = [r.step for r in store.metrics(first.run_id) if (r.split, r.name) == ("step", "loss")]
        assert steps == sorted(set(steps)) and steps[-1] == 72

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "QD_KINDS": "centroid_plugin", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"}
    home = tmp_path / "two"
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", "--model", "centroid",
                        "--per-class", "20", "--rounds", "3", "--batch", "4", "--nproc", "2", "--json"],
                       env=env, capture_output=True, text=True, timeout=scaled_timeout(240))
    assert p.returncode == 0, p.stderr[-3000:]
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.status == "done" and run.summary["world_size"] == 2
        assert store.history(run.id)["val/acc"] == full_rows
        assert np.array_equal(store.load_artifact(store.artifacts_after(run.id)[-1]), full_grid)


def test_the_test_kind_is_named_by_no_file_of_qd():
    """'A new kind is one module plus its test': qd's own code never names it, so it reached the loop driver, the
    CLI, the store, the launcher and the app through the registry alone."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    naming = re.compile(r"""["']centroid["']|Centroid(Config|Step|Kind)|centroid_(kind|plugin)""")
    named = [str(p.relative_to(root)) for d in ("qdcore", "qdtui") for p in sorted((root / d).rglob("*.py"))
             if naming.search(p.read_text(encoding="utf-8"))]
    assert named == []
