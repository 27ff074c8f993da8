"""Fault drills kept as fast tests: resume races, kill mid-write, symlinked run folders, full disks, NaN losses."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import scaled_timeout
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.errors import StoreError
from qdcore.store import Store

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--data", "demo", "--per-class", "40", "--epochs", "3", "--width", "2", "--batch-size", "32", "--no-amp",
        "--log-every", "2"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _claim(home: str, run_id: int, barrier, results) -> None:
    store = Store(home, reap=False)
    barrier.wait()
    try:
        store.claim_run(run_id)
        results.put(("won", os.getpid()))
    except StoreError as e:
        results.put(("lost", str(e)))
    # Stay alive until everyone has tried, so the winner's pid is a live owner for the losers.
    barrier.wait()


def test_claim_race_has_exactly_one_winner(home):
    ctx = mp.get_context("fork")
    with Store(home) as store:
        rid = store.create_run("race", "classifier", {})
        store.finish_run(rid, "interrupted", {})
    for _ in range(3):
        barrier, results = ctx.Barrier(4), ctx.Queue()
        procs = [ctx.Process(target=_claim, args=(str(home), rid, barrier, results)) for _ in range(4)]
        for p in procs:
            p.start()
        got = [results.get(timeout=scaled_timeout(30)) for _ in procs]
        for p in procs:
            p.join(30)
        won = [g for g in got if g[0] == "won"]
        assert len(won) == 1, got
        for _, msg in (g for g in got if g[0] == "lost"):
            assert f"process {won[0][1]}" in msg and "\n" not in msg
        with Store(home) as store:  # the winner is dead now: the reaper hands the run back
            assert store.get_run(rid).status == "interrupted"


def _interrupted_run(home: Path) -> int:
    """A real run stopped mid-epoch 2 (resume checkpoint on disk, step rows in the store)."""
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import start_run

    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 14

    cfg = TrainConfig(data="demo", per_class=40, epochs=3, width=12, batch_size=32, amp=False, log_every=2,
                      optimizer="sgd", momentum=0.9, lr=0.01, batch_norm=True)
    with Store(home) as store:
        result = start_run(cfg, store, should_stop=stop)
    assert result.status == "interrupted"
    return result.run_id


def test_two_resumers_one_wins_no_duplicate_rows(home):
    rid = _interrupted_run(home)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "QD_HOME": str(home)}
    cmd = [sys.executable, "-m", "qdcore.cli.main", "train", "--resume", str(rid), "--json"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=scaled_timeout(120)) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], outs
    loser_err = next(err for p, (_, err) in zip(procs, outs) if p.returncode == 2)
    lines = [ln for ln in loser_err.splitlines() if ln.strip()]
    # The loser met the winner training, or (on a slow box) came after it had finished.
    assert len(lines) == 1 and lines[0].startswith("qd: error:"), loser_err
    assert "being trained by process" in lines[0] or "already finished" in lines[0], loser_err
    with Store(home) as store:
        rows = store.metrics(rid)
        assert store.get_run(rid).status == "done"
    keys = [(r.step, r.epoch, r.split, r.name) for r in rows]
    assert len(keys) == len(set(keys)), "a metric row was written twice"
    assert max(r.epoch for r in rows if r.split != "step") == 3


def test_kill_mid_checkpoint_leaves_no_temp_files(home):
    """A writer killed between creating its temp file and renaming it: resume and the reaper clean up."""
    from qdcore.paths import atomic_write_bytes

    with Store(home) as store:
        rid = store.create_run("killed", "classifier", {})
        run_dir = store.run_dir(rid)
    code = ("import os, sys; from pathlib import Path; import qdcore.paths as p\n"
            "real = os.replace\n"
            "def die(*a): os._exit(9)  # killed after the bytes, before the rename\n"
            "os.replace = die\n"
            f"p.atomic_write_bytes(Path({str(run_dir / 'resume.safetensors')!r}), b'x' * 100000)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 9
    left = [n for n in os.listdir(run_dir) if n.endswith(".tmp")]
    assert left, "the drill did not leave a temp file"
    with Store(home) as store:  # the owner (this test) is alive: nothing is reaped or cleaned yet
        store.finish_run(rid, "interrupted", {})
        store.claim_run(rid)  # a resume claims it: the leftovers go
        assert not [n for n in os.listdir(run_dir) if n.endswith(".tmp")]
    # The reaper: a run whose owner died leaves temp files, the next open cleans them.
    atomic_write_bytes(run_dir / "keep.json", b"{}")
    (run_dir / ".model.safetensors.abc.tmp").write_bytes(b"y" * 10)
    with Store(home) as store:
        with store._write() as c:
            c.execute("UPDATE runs SET pid = 999999999 WHERE id = ?", (rid,))
    with Store(home) as store:
        assert store.get_run(rid).status == "interrupted"
    assert sorted(os.listdir(run_dir)) == ["keep.json"]


def test_rm_removes_a_symlinked_run_folder_as_a_link(home, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    os.chmod(outside, 0o750)
    with Store(home) as store:
        rid = store.create_run("linked", "classifier", {})
        store.finish_run(rid, "done", {})
        link = store.home / "runs" / str(rid)
        if link.exists():
            link.rmdir()
        link.symlink_to(outside, target_is_directory=True)
    result = invoke("runs", "rm", str(rid), "--yes")
    assert result.exit_code == 0, result.output
    assert not os.path.lexists(link)
    assert (outside / "precious.txt").read_text() == "keep me"
    assert (os.stat(outside).st_mode & 0o777) == 0o750
    assert not [n for n in os.listdir(home / "runs") if n.startswith(".trash")]


def test_full_disk_is_one_line_and_the_run_fails(home, monkeypatch):
    """ENOSPC at a checkpoint write (a real OSError from the write, simulated at the open): one line, run failed."""
    import qdcore.paths as paths

    real_open = open

    def full_open(file, mode="r", *a, **kw):
        if "w" in mode and str(file).endswith(".tmp") and "runs" in str(file):
            f = real_open("/dev/full", "wb") if os.path.exists("/dev/full") else None
            if f is None:
                raise OSError(errno.ENOSPC, "No space left on device", str(file))
            return f
        return real_open(file, mode, *a, **kw)

    monkeypatch.setattr(paths, "open", full_open, raising=False)
    result = invoke("train", *TINY)
    err = result.stderr if hasattr(result, "stderr") else result.output
    lines = [ln for ln in err.splitlines() if ln.startswith("qd: error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "no space left" in lines[0] and "bytes needed" in lines[0] and ".safetensors" in lines[0]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.status == "failed" and "no space left" in run.summary["error"]
        leftovers = [n for n in os.listdir(store.run_dir(run.id)) if n.endswith(".tmp")]
    assert leftovers == []


def test_non_finite_loss_fails_the_run_keeping_the_last_checkpoint(home):
    """Epoch 1 trains well; then the loss diverges: the run ends failed, epoch 1's checkpoints stay as they were."""
    from qdcore.errors import TrainingError
    from qdcore.events import EpochEnd
    from qdcore.train.checkpoint import RESUME_FILE, load_resume, read_meta
    from qdcore.train.config import TrainConfig
    from qdcore.train.runner import resume_run, start_run

    seen = []
    cfg = TrainConfig(data="demo", per_class=40, epochs=3, width=12, batch_size=32, amp=False, log_every=2,
                      optimizer="sgd", momentum=0.9, lr=0.01, batch_norm=True, init="torch")
    with Store(home) as store:
        first = start_run(cfg, store, lambda e: seen.append(e) if isinstance(e, EpochEnd) else None,
                          should_stop=lambda: bool(seen))
        assert first.status == "interrupted"
        rid = first.run_id
        run_dir = store.run_dir(rid)
        before = (run_dir / RESUME_FILE).read_bytes()
        store.update_config(rid, cfg.replace(lr=100.0).to_dict())  # SGD at lr 100 with batch norm diverges
        with pytest.raises(TrainingError, match=r"became (nan|inf) at step \d+ \(epoch 2\)"):
            resume_run(rid, store)
        run = store.get_run(rid)
        assert run.status == "failed" and "epoch 1 is kept" in run.summary["error"]
        assert (run_dir / RESUME_FILE).read_bytes() == before
        assert read_meta(run_dir)["epoch"] == 1 and load_resume(run_dir)["state"]["epoch"] == 2
    result = invoke("train", "--data", "demo", "--per-class", "40", "--epochs", "3", "--width", "12", "--no-amp",
                    "--batch-size", "32", "--log-every", "2", "--optimizer", "sgd", "--lr", "100", "--momentum", "0.9",
                    "--batch-norm", "--init", "torch")  # PyTorch init: this recipe diverges
    lines = [ln for ln in result.output.splitlines() if ln.startswith("qd: error:")]
    assert result.exit_code == 2 and len(lines) == 1 and "no epoch finished" in lines[0], result.output


@pytest.mark.parametrize("flag", ["--lr", "--momentum", "--eps", "--weight-decay", "--min-lr", "--min-delta",
                                  "--warmup"])
def test_infinite_options_are_refused(home, flag):
    result = invoke("train", *TINY, flag, "inf")
    assert result.exit_code == 2 and "must be a finite number" in result.output
    assert not (home / "qd.sqlite").exists() or Store(home).list_runs() == []


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o077])
def test_written_files_follow_the_umask(tmp_path, mask):
    """Run files and reports get 0666 less the umask (teammates can read them), never mkstemp's 0600."""
    from qdcore.paths import atomic_write_bytes

    old = os.umask(mask)
    try:
        atomic_write_bytes(tmp_path / "model.json", b"{}")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "model.json").st_mode & 0o777) == 0o666 & ~mask


def test_sigkill_of_a_grouped_ema_gan_run_resumes_to_every_epoch_once(home):
    """kill -9 of `qd gan train --per-class-gans --g-ema` after some epochs: resume finishes, no epoch lost or twice."""
    import signal
    import time

    env = {**os.environ, "QD_HOME": str(home), "OMP_NUM_THREADS": "1"}
    args = ["gan", "train", "--categories", "circle,star", "--per-class-gans", "--per-class", "400", "--epochs", "60",
            "--no-judge", "--g-ema", "0.9", "-b", "32", "--g-width", "4", "--d-width", "4", "--latent-dim", "8"]
    child = subprocess.Popen([sys.executable, "-m", "qdcore.cli.main", *args], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for two finished epochs (their rows), then kill without warning
            with Store(home) as store:
                runs = store.list_runs()
                done = {r.epoch for r in store.metrics(runs[0].id) if r.split == "train"} if runs else set()
            if len(done) >= 2 or child.poll() is not None:
                break
            time.sleep(0.2)
        assert child.poll() is None, "the run ended before it could be killed; give it more epochs"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    with Store(home) as store:  # opening the store reaps the run whose process is gone
        rid = store.list_runs()[0].id
        assert store.get_run(rid).status == "interrupted"
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "gan", "train", "--resume", str(rid)], env=env,
                       capture_output=True, text=True, timeout=scaled_timeout(300))
    assert p.returncode == 0, p.stderr[-2000:]
    with Store(home) as store:
        epochs = sorted(r.epoch for r in store.metrics(rid) if r.split == "train" and r.name == "g_loss")
        assert epochs == list(range(1, 61)) and store.get_run(rid).status == "done"
