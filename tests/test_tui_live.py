"""Pilot tests of the training form and the live view: start `qd train` here, cancel and resume, follow others."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import scaled_timeout
from textual.widgets import Input, Select
from tui_helpers import open_train_form, pressing, settle, sync, wait_for

from qdcore.runs import launcher as launcher_module
from qdcore.store import Store
from qdcore.train.checkpoint import RESUME_FILE
from qdcore.train.config import TrainConfig
from qdtui.app import QdApp
from qdtui.live_state import LiveState
from qdtui.screens.dialogs import ConfirmDialog, ErrorDialog
from qdtui.screens.home import HomeScreen
from qdtui.screens.live import LiveScreen
from qdtui.screens.train import TrainScreen
from qdtui.state import AppState

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def home(home, monkeypatch) -> Path:
    """The shared empty run store, with training kept to one thread."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return home


@pytest.fixture(autouse=True)
def trainers(monkeypatch) -> list[subprocess.Popen]:
    """The `qd train` processes a test starts (they are detached): killed at its end if still running."""
    started: list[subprocess.Popen] = []

    class Recorded(subprocess.Popen):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(launcher_module.subprocess, "Popen", Recorded)
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def tiny(**changes) -> TrainConfig:
    """A small, fast fc run on the demo drawings."""
    base = dict(model="fc", data="demo", per_class=50, epochs=2, batch_size=16, device="cpu", log_every=2)
    base.update(changes)
    return TrainConfig().replace(**base)


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return env


def counts(screen: LiveScreen) -> dict[str, dict[str, int]]:
    return {p: {n: len(s.xs) for n, s in c.series.items()} for p, c in screen.plots.items()}


# --- training from the form ---------------------------------------------------------------------------


@sync
async def test_form_trains_a_tiny_run_and_the_curves_fill(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        form = await open_train_form(app, pilot)
        form.query_one("#f-model", Select).value = "fc"
        form.query_one("#f-epochs", Input).value = "2"
        form.query_one("#f-per-class", Input).value = "50"
        form.query_one("#f-batch-size", Input).value = "16"
        form.query_one("#f-device", Select).value = "cpu"
        form.query_one("#f-name", Input).value = "from the form"
        await pilot.press("ctrl+s")
        await pilot.pause()
        live = app.screen
        assert isinstance(live, LiveScreen)
        await wait_for(pilot, lambda: live.job is not None, timeout=60, what="the launch")  # a `qd train` child
        await wait_for(pilot, lambda: live.live.status in ("done", "failed"), timeout=120, what="the run to end")
        assert live.live.status == "done", live.live.error
        await wait_for(pilot, lambda: counts(live)["loss"]["val"] == 2 and counts(live)["top1"]["val"] == 2, 30,
                       "the last epoch's points")
        got = counts(live)
        assert got["loss"]["train"] == 2 and got["loss"]["val"] == 2 and got["top1"]["val"] == 2
        assert got["lr"]["lr"] >= 2
        assert live.plots["loss"].builds >= 1
        text = str(live.query_one("#live-status").content)
        assert "done" in text and "from the form" in text and "test top-1" in text
        assert "epoch 2/2" in str(live.query_one("#live-progress").content)
        run = Store(home).get_run(live.live.run_id)
        assert run.status == "done" and run.name == "from the form" and run.config["model"] == "fc"
        assert run.config["per_class"] == 50 and run.config["batch_size"] == 16
        assert run.pid == live.job.pid and live.job.wait(timeout=scaled_timeout(30)) == 0
        log = Store(home).run_dir(run.id) / "train.log"  # the child's output is part of the run
        assert live.job.log_path == log and "epoch   2/2" in log.read_text()


@sync
async def test_form_rejects_bad_values_in_place(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(TrainScreen())
        await pilot.pause()
        form = app.screen
        # The form and `qd train` refuse the same values with the same line.
        for field, flag, bad in (("#f-epochs", "--epochs", "0"), ("#f-lr", "--lr", "inf"),
                                 ("#f-width", "--width", "100000"), ("#f-seed", "--seed", "-1"),
                                 ("#f-epochs", "--epochs", "1e30")):
            for other in ("#f-epochs", "#f-lr", "#f-width", "#f-seed"):
                form.query_one(other, Input).value = ""
            form.query_one(field, Input).value = bad
            await pilot.press("ctrl+s")
            await pilot.pause()
            note = str(form.query_one("#train-note").content)
            cli = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", flag, bad],
                                 capture_output=True, text=True, timeout=scaled_timeout(120))
            assert app.screen is form and cli.returncode == 2
            assert cli.stderr.strip() == f"qd: error: {note}", (note, cli.stderr)
        form.query_one("#f-seed", Input).value = ""
        form.query_one("#f-epochs", Input).value = "1"
        form.query_one("#f-preset", Select).value = "strong"
        await pilot.pause()
        assert form.query_one("#f-epochs", Input).placeholder == "12"  # the preset's epochs
        assert "preset strong" in str(form.query_one("#about-preset").content)


@sync
async def test_unknown_category_is_an_error_dialog_not_a_crash(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.push_screen(LiveScreen(config=tiny(categories="zzzebra")))
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorDialog), timeout=120, what="the error dialog")
        assert "zzzebra" in app.screen.message
        await pilot.press("escape")  # one press: back where Start was pressed, the live view is gone
        await pilot.pause()
        assert not isinstance(app.screen, (LiveScreen, ErrorDialog))
        assert Store(home).list_runs() == []  # nothing half-created


async def cancel(pilot, app, live) -> None:
    """c, then y in the confirmation; wait until the run is interrupted."""
    assert live.check_action("cancel", ()) and not live.check_action("resume", ())
    await pilot.press("c")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmDialog)
    await pilot.press("y")
    await wait_for(pilot, lambda: live.live.status == "interrupted", 60, "the interruption")


@sync
async def test_cancel_keeps_a_checkpoint_and_resume_continues(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        # Far more epochs than the test waits for: it is cancelled long before the end.
        app.push_screen(LiveScreen(config=tiny(epochs=500, batch_size=8, log_every=1)))
        await pilot.pause()
        live = app.screen
        await wait_for(pilot, lambda: live.live.step >= 3, timeout=120, what="the first steps")
        await cancel(pilot, app, live)
        rid = live.live.run_id
        run = Store(home).get_run(rid)
        assert run.status == "interrupted" and run.summary["resume_from"]["epoch"] < 500
        assert (Store(home).run_dir(rid) / RESUME_FILE).exists()
        await wait_for(pilot, lambda: "r resumes" in str(live.query_one("#live-status").content), 30, "the resume hint")
        assert live.check_action("resume", ())
        steps_before = live.live.step
        await pilot.press("r")
        await wait_for(pilot, lambda: live.live.status == "running" and live.live.epochs_done >= 2
                       and live.live.step > steps_before + 60, 60, "the resumed run to go on")
        run = Store(home).get_run(rid)
        assert run.status == "running" and run.summary["resumed"] == 1
        await cancel(pilot, app, live)
        hist = Store(home).history(rid)["val/top1"]
        assert [e for e, _ in hist] == list(range(1, len(hist) + 1))  # every epoch once, none twice
        assert Store(home).get_run(rid).status == "interrupted"
        assert live.job.wait(timeout=scaled_timeout(60)) == 130


def test_quitting_the_app_leaves_its_training_running(home):
    """A run started here is a detached `qd train`: leaving the view or quitting keeps it training."""
    async def watch_then_quit() -> LiveScreen:
        app = QdApp(AppState(home=home))
        async with app.run_test(size=(80, 24)) as pilot:
            form = await open_train_form(app, pilot)
            form.build = lambda: tiny(epochs=500, batch_size=8, log_every=1)  # the form's values, kept tiny
            form.action_start()
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), what="the live view")
            live = app.screen
            await wait_for(pilot, lambda: live.live.step >= 3, timeout=120, what="the first steps")
            await pilot.press("escape")  # leaving the view keeps it training
            await pilot.pause()
            assert Store(home).get_run(live.live.run_id).status == "running"
            # Back past the form: the next key is the home screen's, not typed into a field of the form.
            assert isinstance(app.screen, HomeScreen), app.screen
            return live

    live = asyncio.run(watch_then_quit())
    rid, child = live.live.run_id, live.job.process
    run = Store(home).get_run(rid)
    assert run.status == "running" and run.pid == child.pid and child.poll() is None
    assert os.getsid(child.pid) != os.getsid(0)  # its own session: a closed terminal does not stop it
    os.kill(child.pid, signal.SIGTERM)  # what `c` in a later attach sends: a checkpoint, then 'interrupted'
    assert child.wait(timeout=scaled_timeout(60)) == 130
    run = Store(home).get_run(rid)
    assert run.status == "interrupted" and (Store(home).run_dir(rid) / RESUME_FILE).exists()


@sync
async def test_bursts_of_rows_cost_one_redraw(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        with Store(home) as store:
            rid = store.create_run("burst", "classifier", {"epochs": 2, "batch_size": 10}, device="cpu fp32")
        live = LiveScreen(run_id=rid)
        await app.push_screen(live)
        await wait_for(pilot, lambda: live.polls >= 1, timeout=120, what="the first poll")
        builds = live.plots["loss"].builds
        # A fast trainer's backlog, read by one poll.
        rows = [(s, 1, "step", n, v) for s in range(1, 1001) for n, v in (("loss", 2.0 - s / 1000),
                                                                            ("throughput", 5000.0))]
        rows += [(1000, 1, "train", "loss", 1.2), (1000, 1, "val", "loss", 1.3), (1000, 1, "val", "top1", 0.55),
                 (1000, 1, "train", "seconds", 2.0)]
        with Store(home) as store:
            store.log_metrics(rid, rows)
        await wait_for(pilot, lambda: counts(live)["loss"]["val"] == 1, 30, "the curves' next redraw")
        await pilot.pause()
        assert live.live.step == 1000 and live.live.epochs_done == 1
        assert live.plots["loss"].builds - builds <= 3  # the burst cost one redraw or so, not a thousand


def test_live_state_from_store_rows_is_deterministic():
    from qdcore.store.records import MetricRow

    st = LiveState(run_id=3)
    rows = [MetricRow(i + 1, s, 1, "step", n, v, 0.0) for i, (s, n, v) in
            enumerate([(5, "loss", 2.0), (5, "lr", 0.01), (5, "throughput", 400.0)])]
    rows += [MetricRow(10 + i, 10, 1, sp, n, v, 0.0) for i, (sp, n, v) in
             enumerate([("train", "loss", 1.5), ("val", "loss", 1.6), ("val", "top1", 0.4), ("train", "seconds", 2.5)])]
    st.status, st.total_epochs, st.images_per_step = "running", 4, 20.0
    st.on_rows(rows)
    assert (st.step, st.epochs_done, st.steps_per_epoch, st.total_steps) == (10, 1, 10, 40)
    assert st.eta_seconds == pytest.approx(30 * 20 / 400.0)
    assert "epoch 1/4 · step 10/10 · ETA 2s · 400 img/s" == st.progress_text()
    st.throughput = 12_345.0
    assert st.progress_text().endswith("ETA 1s · 12.3k img/s")
    points = st.take_points()
    assert ("loss", "step", 5, 2.0) in points and ("top1", "val", 10, 40.0) in points
    st.on_rows(rows)  # the same rows again (a resumed run replays): nothing new
    assert st.take_points() == [] and st.train_seconds == 2.5


# --- following runs written by other processes ---------------------------------------------------------

WRITER = r"""
import sys, time
from pathlib import Path
from qdcore.store import Store

store = Store(sys.argv[1])
go = Path(sys.argv[2])
rid = store.create_run("writer", "classifier", {"model": "fc", "data": "demo", "epochs": 2, "batch_size": 10},
                       device="cpu fp32")
print(rid, flush=True)

def epoch(e):
    for k in range(1, 6):
        s = (e - 1) * 5 + k
        store.log_metrics(rid, [(s, e, "step", "loss", 2.0 / s), (s, e, "step", "lr", 1e-3),
                                (s, e, "step", "throughput", 100.0)])
    s = e * 5
    store.log_metrics(rid, [(s, e, "train", "loss", 1.5 / e), (s, e, "train", "top1", 0.3 * e),
                            (s, e, "val", "loss", 1.6 / e), (s, e, "val", "top1", 0.25 * e),
                            (s, e, "val", "top5", 0.6), (s, e, "train", "lr", 1e-3), (s, e, "train", "seconds", 1.5)])

epoch(1)
while not go.exists():
    time.sleep(0.05)
epoch(2)
store.finish_run(rid, "done", {"test_top1": 0.5, "test_top5": 0.9, "best_epoch": 2, "train_seconds": 3.0})
"""


@sync
async def test_attach_follows_a_run_another_process_writes(home, tmp_path):
    go = tmp_path / "go"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home), str(go)], stdout=subprocess.PIPE, text=True,
                            env=env_for(home))
    try:
        rid = int(proc.stdout.readline())
        app = QdApp(AppState(home=home, attach_run=rid))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), 30, "the live view")
            live = app.screen
            assert live.mode == "attach"
            await wait_for(pilot, lambda: counts(live)["loss"] == {"step": 5, "train": 1, "val": 1}, 30, "epoch 1")
            assert live.live.status == "running" and live.check_action("cancel", ())
            assert "epoch 1/2 · step 5/5" in str(live.query_one("#live-progress").content)
            go.touch()
            await wait_for(pilot, lambda: live.live.status == "done", 30, "the run to finish")
            await wait_for(pilot, lambda: live.live.epochs_done == 2 and counts(live)["top1"] == {"train": 2, "val": 2},
                           30, "the last epoch")
            assert "test top-1 50.0%" in str(live.query_one("#live-status").content)
            assert not live.check_action("cancel", ())
    finally:
        go.touch()  # a failed assertion above must not leave the writer waiting forever
        proc.wait(timeout=scaled_timeout(30))


@sync
async def test_live_view_of_a_missing_run_says_so(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        live = LiveScreen(run_id=4242)
        await app.push_screen(live)
        await wait_for(pilot, lambda: live.polls >= 1 or live.live.error, 30, "the poll")
        await pilot.pause()
        assert "no run 4242" in str(live.query_one("#live-status").content)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LiveScreen)


@pytest.mark.slow
@sync
async def test_attach_to_qd_train_then_cancel_it(home):
    """The SSH workflow: `qd train` in another process, watched here, stopped from here with a checkpoint."""
    cmd = [sys.executable, "-m", "qdcore.cli.main", "--home", str(home), "train", "--model", "fc", "--data", "demo",
           "--per-class", "30", "--epochs", "400", "--batch-size", "8", "--log-every", "5", "--device", "cpu",
           "--name", "headless"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env_for(home))
    try:
        end = time.monotonic() + 120
        while not (home / "qd.sqlite").exists() or not Store(home).list_runs():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < end, "qd train did not create its run"
            time.sleep(0.2)
        rid = Store(home).list_runs()[0].id
        app = QdApp(AppState(home=home, attach_run=rid))
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LiveScreen), 30, "the live view")
            live = app.screen
            await wait_for(pilot, lambda: live.live.epochs_done >= 1, 120, "a first epoch")
            first = live.live.epochs_done
            await wait_for(pilot, lambda: live.live.epochs_done > first, 60, "a new epoch")
            await wait_for(pilot, lambda: counts(live)["loss"]["val"] > first, 60, "the new epoch's points")
            assert live.live.status == "running"
            assert live.live.pid == proc.pid
            await pilot.press("c")
            await pilot.pause()
            await pilot.press("y")
            await wait_for(pilot, lambda: live.live.status == "interrupted", 60, "the interruption")
            assert proc.wait(timeout=scaled_timeout(60)) == 130
            assert Store(home).get_run(rid).status == "interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- snapshots (deterministic: store rows with fixed values, no clocks in the view) ------------------


def finished_run(home: Path, constant_lr: bool = False) -> int:
    """A done run with 3 epochs of step and epoch rows, written through the Store API."""
    with Store(home) as store:
        rid = store.create_run("fc on demo", "classifier",
                               {"model": "fc", "data": "demo", "epochs": 3, "batch_size": 32}, device="cpu fp32")
        rows = []
        for e in range(1, 4):
            for k in range(1, 11):
                s = (e - 1) * 10 + k
                lr = 1e-3 if constant_lr else 1e-3 * (1 - s / 40)
                rows += [(s, e, "step", "loss", 2.3 / (1 + 0.1 * s)), (s, e, "step", "lr", lr),
                         (s, e, "step", "throughput", 5000.0), (s, e, "step", "top1", min(0.9, 0.1 + 0.025 * s))]
            s = e * 10
            rows += [(s, e, "train", "loss", 2.0 / (1 + 0.4 * e)), (s, e, "train", "top1", 0.2 + 0.2 * e),
                     (s, e, "val", "loss", 2.1 / (1 + 0.35 * e)), (s, e, "val", "top1", 0.18 + 0.19 * e),
                     (s, e, "val", "top5", 0.5 + 0.1 * e),
                     (s, e, "train", "lr", 1e-3 if constant_lr else 1e-3 * (1 - s / 40)),
                     (s, e, "train", "seconds", 4.0)]
        store.log_metrics(rid, rows)
        store.update_summary(rid, {"checkpoint": {"epoch": 3, "path": "model.safetensors", "best": True}})
        store.finish_run(rid, "done", {"test_top1": 0.7512, "test_top5": 0.9634, "best_epoch": 3,
                                       "train_seconds": 12.0, "total_epochs": 3, "epochs": 3, "params": 20067})
    return rid


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_train_form(snap_compare, snap_home, size):
    assert snap_compare(QdApp(AppState(home=snap_home)), terminal_size=size, run_before=pressing("t"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_live_view_of_a_finished_run(snap_compare, snap_home, size):
    rid = finished_run(snap_home)

    async def run_before(pilot) -> None:
        await _drawn(pilot)

    assert snap_compare(QdApp(AppState(home=snap_home, attach_run=rid)), terminal_size=size, run_before=run_before)


async def _drawn(pilot) -> None:
    """Until the live view has read the run, mounted its plots and drawn every point it read."""
    app = pilot.app

    def drawn() -> bool:
        s = app.screen
        return isinstance(s, LiveScreen) and s.polls >= 1 and not s._rebuilding and not s._dirty and not s.live.points

    await wait_for(pilot, drawn, 30, "the live view drawn")
    await settle(app, pilot)


async def _open_live(pilot) -> None:
    await _drawn(pilot)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_live_chart_on_epochs_with_a_constant_lr(snap_compare, snap_home, size):
    rid = finished_run(snap_home, constant_lr=True)

    async def run_before(pilot) -> None:
        await _open_live(pilot)
        await pilot.press("x", "s")  # epochs on the x axis, light smoothing
        plots = pilot.app.screen.plots
        await wait_for(pilot, lambda: plots["loss"].view.xlabel == "epoch" and plots["loss"].smooth > 0, 30, "x, s")
        await settle(pilot.app, pilot)

    assert snap_compare(QdApp(AppState(home=snap_home, attach_run=rid)), terminal_size=size, run_before=run_before)


@sync
async def test_chart_keys_axis_shared_range_toggles_and_constant_lr(home):
    rid = finished_run(home, constant_lr=True)
    app = QdApp(AppState(home=home, attach_run=rid))
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_live(pilot)
        live = app.screen
        plots = live.plots
        views = {k: p.view for k, p in plots.items()}
        # one x range for every panel of the run, labelled with the axis
        assert views["loss"].x_range == views["top1"].x_range == (1.0, 30.0)
        assert all(v.xlabel == "step" for k, v in views.items() if k != "lr")
        # the constant learning rate is one line of text, not a plot
        assert plots["lr"].collapsed and plots["lr"].size.height == 1
        assert "learning rate: 0.001 (constant)" in str(plots["lr"].render())
        # train and val differ by marker; the legend sits in the title line
        markers = {s.name: s.marker for s in views["loss"].series}
        assert len(set(markers.values())) == 3 and "▬ train" in views["loss"].headline()
        await pilot.press("x")
        await wait_for(pilot, lambda: plots["loss"].view.xlabel == "epoch", 30, "the epoch axis")
        assert plots["loss"].view.x_range == pytest.approx((0.1, 3.0))
        await pilot.press("x")
        await wait_for(pilot, lambda: plots["loss"].view.xlabel == "wall time (s)", 30, "the time axis")
        assert plots["loss"].view.x_range == pytest.approx((0.4, 12.0))
        await pilot.press("x", "1")
        await wait_for(pilot, lambda: plots["loss"].view.xlabel == "step" and "step" not in
                       [s.name for s in plots["loss"].view.series], 30, "the step axis without the step curve")
        # the epochs' points now decide the shared range
        assert plots["loss"].view.x_range == plots["top1"].view.x_range == (10.0, 30.0)
        await pilot.press("s", "l")
        await wait_for(pilot, lambda: plots["loss"].smooth > 0 and plots["loss"].view.log_y, 30, "smoothing, log y")
        assert not plots["top1"].view.log_y
