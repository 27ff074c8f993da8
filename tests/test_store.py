"""The run store: schema, runs, metrics, concurrency, crash recovery, quiz table, StoreSink."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers import scaled_timeout

from qdcore.errors import ConfigError, StoreError
from qdcore.events import Checkpoint, EpochEnd, ListSink, Progress, RunFailed, RunFinished, RunStarted, tee
from qdcore.store import MetricRow, RunRecord, Store, StoreSink
from qdcore.store.schema import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent


def _epoch(e: int, val_top1: float = 0.5) -> EpochEnd:
    return EpochEnd(epoch=e, step=10 * e, seconds=2.5, metrics={
        "train/loss": 1.0 / e, "train/top1": 0.4 + e / 100, "val/loss": 1.2 / e, "val/top1": val_top1,
        "val/top5": 0.9, "train/lr": 1e-3, "train/seconds": 2.5})


def _python(code: str, home: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), str(home)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_new_store_has_current_schema_in_wal_mode(tmp_path):
    store = Store(tmp_path)
    assert store.path == tmp_path / "qd.sqlite" and store.path.is_file()
    assert store.schema_version == SCHEMA_VERSION >= 1
    raw = sqlite3.connect(store.path)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "metrics", "quiz_sessions", "quiz_answers"} <= tables
    raw.close()
    Store(tmp_path)  # reopening an up-to-date store is fine


def test_default_home_comes_from_qd_home(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_HOME", str(tmp_path / "h"))
    assert Store().home == tmp_path / "h"


def test_newer_schema_is_refused(tmp_path):
    Store(tmp_path).close()
    raw = sqlite3.connect(tmp_path / "qd.sqlite")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    raw.close()
    with pytest.raises(StoreError, match="newer qd"):
        Store(tmp_path)


def test_corrupt_or_foreign_file_is_refused(tmp_path):
    (tmp_path / "qd.sqlite").write_bytes(b"this is not sqlite at all\n" * 100)
    with pytest.raises(StoreError, match=r"qd\.sqlite is not a qd store \(corrupt\?\): move it away or use --home"):
        Store(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    raw = sqlite3.connect(other / "qd.sqlite")
    raw.execute("CREATE TABLE songs (title TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="not a qd store"):
        Store(other)


def test_home_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="--home"):
        Store(tmp_path / "f")


def test_missing_run_is_a_one_line_store_error(tmp_path):
    store = Store(tmp_path)
    for call in (lambda: store.get_run(42), lambda: store.run_dir(42), lambda: store.set_status(42, "done"),
                 lambda: store.finish_run(42, "done", {}), lambda: store.heartbeat(42),
                 lambda: store.log_metrics(42, [(1, 1, "val", "top1", 0.5)]), lambda: store.delete_run(42)):
        with pytest.raises(StoreError) as err:
            call()
        assert str(err.value) == f"no run 42 in {tmp_path}; see 'qd runs list'"


def test_create_log_finish_and_history(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("w12", "classifier", {"model": "widthk", "width": 12, "path": tmp_path},
                           fingerprint="abc", device="cpu")
    run = store.get_run(rid)
    assert isinstance(run, RunRecord)
    assert (run.name, run.kind, run.status, run.fingerprint, run.device) == ("w12", "classifier", "running", "abc", "cpu")
    assert run.config == {"model": "widthk", "width": 12, "path": str(tmp_path)}
    assert run.pid == os.getpid() and run.host and run.ended is None and run.summary == {}

    store.log_metrics(rid, [(10, 1, "train", "loss", 2.0), (10, 1, "val", "top1", 0.3), (5, 1, "step", "loss", 2.5)])
    store.log_metrics(rid, [(20, 2, "train", "loss", 1.0), (20, 2, "val", "top1", float("nan"))])
    # A resumed run rewrites epoch 2: history keeps the last value, once.
    store.log_metrics(rid, [(20, 2, "train", "loss", 0.9), (30, 3, "train", "loss", 0.8)])
    rows = store.metrics(rid)
    assert all(isinstance(r, MetricRow) for r in rows) and len(rows) == 7
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    assert store.metrics(rid, after_id=rows[4].id) == rows[5:]
    assert [r.name for r in store.metrics(rid, split="step")] == ["loss"]
    hist = store.history(rid)
    assert hist["train/loss"] == [(1, 2.0), (2, 0.9), (3, 0.8)]
    assert hist["val/top1"][0] == (1, 0.3) and math.isnan(hist["val/top1"][1][1])
    assert "step/loss" not in hist

    store.update_config(rid, {"model": "widthk", "width": 16})
    store.update_summary(rid, {"params": 65002})
    store.finish_run(rid, "done", {"test_top1": 0.61})
    run = store.get_run(rid)
    assert run.status == "done" and run.ended >= run.started and run.config["width"] == 16
    assert run.summary == {"params": 65002, "test_top1": 0.61}
    store.set_status(rid, "running")  # resume claims the run again
    assert store.get_run(rid).status == "running" and store.get_run(rid).ended is None
    with pytest.raises(ConfigError, match="status"):
        store.set_status(rid, "paused")
    with pytest.raises(ConfigError, match="kind"):
        store.create_run("x", "Not A Kind!", {})


def test_list_runs_filters_newest_first(tmp_path):
    store = Store(tmp_path)
    ids = [store.create_run(f"r{i}", "gan" if i % 2 else "classifier", {}) for i in range(5)]
    store.finish_run(ids[0], "done", {})
    store.finish_run(ids[2], "failed", {"error": "boom"})
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs(kind="gan")] == [ids[3], ids[1]]
    assert [r.id for r in store.list_runs(status="done")] == [ids[0]]
    assert [r.id for r in store.list_runs(kind="classifier", status="running")] == [ids[4]]
    assert [r.id for r in store.list_runs(limit=2)] == ids[:-3:-1]
    with pytest.raises(ConfigError, match="running, done, failed, interrupted"):
        store.list_runs(status="finished")


def test_ids_are_never_reused_after_delete(tmp_path):
    store = Store(tmp_path)
    a = store.create_run("a", "classifier", {})
    store.finish_run(a, "done", {})
    store.delete_run(a)
    assert store.create_run("b", "classifier", {}) > a


def test_one_store_shared_by_threads(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("threads", "classifier", {})
    errors: list[BaseException] = []
    conns: set[int] = set()

    def writer(k: int) -> None:
        try:
            conns.add(id(store._conn()))
            for i in range(50):
                store.log_metrics(rid, [(i, k, "step", "loss", float(i))] * 4)
                store.heartbeat(rid)
                store.metrics(rid, after_id=i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(conns) == 4  # one connection per thread
    assert len(store.metrics(rid)) == 4 * 50 * 4
    store.close()
    assert store.get_run(rid).name == "threads"  # reopens lazily


WRITER = """
import sys, time
from pathlib import Path
from qdcore.store import Store
home = Path(sys.argv[1])
store = Store(home)
print("ready", flush=True)
while not (home / "go").exists():
    time.sleep(0.01)
for r in range(3):
    rid = store.create_run(f"w{r}", "classifier", {"writer": r})
    for i in range(40):
        store.log_metrics(rid, [(i, i, "step", "loss", float(j)) for j in range(25)])
    store.finish_run(rid, "done", {"rows": 40 * 25})
print("ok", flush=True)
"""


def test_two_writer_processes_and_a_reader(tmp_path):
    Store(tmp_path).close()
    procs = [_python(WRITER, tmp_path) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    reader = Store(tmp_path)
    (tmp_path / "go").touch()
    seen = 0
    while any(p.poll() is None for p in procs):
        for run in reader.list_runs():
            seen = max(seen, len(reader.metrics(run.id)))
            reader.history(run.id)
    for p in procs:
        out, err = p.communicate(timeout=scaled_timeout(60))
        assert p.returncode == 0 and out.strip() == "ok", err
    runs = reader.list_runs()
    assert len(runs) == 6 and {r.status for r in runs} == {"done"}
    for run in runs:
        assert len(reader.metrics(run.id)) == 40 * 25
    assert seen > 0  # the reader saw rows while the writers ran


HOLDER = """
import sys, time
from qdcore.store import Store
store = Store(sys.argv[1])
rid = store.create_run("victim", "classifier", {})
store.log_metrics(rid, [(1, 1, "train", "loss", 1.0)])
print(rid, flush=True)
time.sleep(120)
"""


def test_kill_9_leaves_a_run_that_the_next_open_marks_interrupted(tmp_path):
    p = _python(HOLDER, tmp_path)
    rid = int(p.stdout.readline())
    assert Store(tmp_path).get_run(rid).status == "running"  # alive: left alone
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=scaled_timeout(10))
    p.stdout.close()
    p.stderr.close()
    run = Store(tmp_path).get_run(rid)
    assert run.status == "interrupted"
    assert run.ended is not None and run.ended >= run.started


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see a pid reused")
def test_reused_pid_does_not_keep_a_dead_run_alive(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("old", "classifier", {})
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.1)
        # The run's owner died long ago; its pid now belongs to a younger process.
        raw = sqlite3.connect(store.path)
        raw.execute("UPDATE runs SET pid = ?, heartbeat = ? WHERE id = ?", (stranger.pid, time.time() - 3600, rid))
        raw.commit()
        raw.close()
        assert store.reap() == [rid]
        assert store.get_run(rid).status == "interrupted"
    finally:
        stranger.kill()
        stranger.wait()


def test_runs_on_other_hosts_are_judged_by_heartbeat(tmp_path):
    store = Store(tmp_path)
    fresh, stale = store.create_run("fresh", "classifier", {}), store.create_run("stale", "classifier", {})
    raw = sqlite3.connect(store.path)
    raw.execute("UPDATE runs SET host = 'gpu-box-7', pid = 1 WHERE id IN (?, ?)", (fresh, stale))
    raw.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time() - 24 * 3600, stale))
    raw.commit()
    raw.close()
    Store(tmp_path)
    assert store.get_run(fresh).status == "running"
    assert store.get_run(stale).status == "interrupted"


def test_locked_beyond_the_timeout_is_a_store_error(tmp_path):
    store = Store(tmp_path, timeout=0.2)
    raw = sqlite3.connect(store.path, isolation_level=None)
    raw.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="is locked by another process"):
            store.create_run("x", "classifier", {})
        assert time.monotonic() - t0 >= 0.15  # it waited before giving up
        assert store.list_runs() == []  # readers still work in WAL mode
    finally:
        raw.execute("ROLLBACK")
        raw.close()
    store.create_run("x", "classifier", {})


def test_a_fresh_store_waits_for_another_process_creating_it(tmp_path):
    # torchrun's ranks open a fresh home at the same moment. SQLite answers the switch to WAL with an
    # immediate SQLITE_BUSY (no busy handler) while another connection holds the write lock: CI's rank 1
    # died on it. The other creator here holds that lock for a moment, as a racing rank does.
    tmp_path.mkdir(exist_ok=True)
    raw = sqlite3.connect(tmp_path / "qd.sqlite", isolation_level=None, check_same_thread=False)
    raw.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: raw.execute("ROLLBACK"))
    release.start()
    try:
        store = Store(tmp_path)
        assert store.list_runs() == []
        assert store._read("PRAGMA journal_mode")[0][0] == "wal"
    finally:
        release.join()
        raw.close()


def test_processes_creating_one_store_together_all_open_it(tmp_path):
    import multiprocessing as mp

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    barrier, errors = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(tmp_path / "home", barrier, errors)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(scaled_timeout(60))
    assert [p.exitcode for p in procs] == [0] * 4, [errors.get() for _ in range(errors.qsize())]


def _open_at_once(home: Path, barrier, errors) -> None:
    barrier.wait()
    try:
        Store(home).create_run("r", "classifier", {})
    except Exception as e:  # noqa: BLE001 - reported to the test, which names it
        errors.put(str(e))
        raise SystemExit(1) from None


def test_artifacts_and_delete_run(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("a", "classifier", {})
    d = store.run_dir(rid)
    assert d == tmp_path / "runs" / str(rid) and d.is_dir()
    path = store.write_json_artifact(rid, "model.json", {"classes": ["cat", "dog"]})
    assert json.loads(path.read_text()) == {"classes": ["cat", "dog"]}
    (d / "samples").mkdir()
    (d / "samples" / "epoch_0001.npy").write_bytes(b"x" * 10)
    (d / "samples" / "epoch_0001.npy").chmod(0o400)
    assert [str(p) for p in store.artifacts(rid)] == ["model.json", "samples/epoch_0001.npy"]
    store.log_metrics(rid, [(1, 1, "val", "top1", 0.5)])
    with pytest.raises(StoreError, match="still running"):
        store.delete_run(rid)
    store.delete_run(rid, force=True)
    assert not d.exists() and not store.has_run(rid) and store.metrics(rid) == []
    assert [p.name for p in (tmp_path / "runs").iterdir()] == []


def test_quiz_sessions_answers_and_undo(tmp_path):
    store = Store(tmp_path)
    run = store.create_run("model", "classifier", {})
    with pytest.raises(ConfigError, match="--name"):
        store.create_quiz_session("  ", {})
    s1 = store.create_quiz_session("ada", {"n": 3, "seed": 0}, run_id=run)
    s2 = store.create_quiz_session("bob", {"n": 2})
    store.add_quiz_answer(s1, "cat.npy#12", "cat", "cat", ["cat", "dog"], 812.5, item=0)
    store.add_quiz_answer(s1, "dog.npy#3", "dog", "cat", ["cat", "dog"], 1500, item=1)
    store.add_quiz_answer(s2, "cat.npy#12", "cat", None, ["cat", "dog"], 3000, skipped=True, item=0)
    a = store.quiz_answers(session=s1)
    assert [(x.drawing, x.truth, x.answer, x.correct, x.item) for x in a] == [
        ("cat.npy#12", "cat", "cat", True, 0), ("dog.npy#3", "dog", "cat", False, 1)]
    assert a[0].choices == ["cat", "dog"] and a[0].ms == 812.5 and a[0].participant == "ada"
    (skip,) = store.quiz_answers(participant="bob")
    assert skip.skipped and skip.answer is None and not skip.correct
    assert [x.session for x in store.quiz_answers(run_id=run)] == [s1, s1]
    assert len(store.quiz_answers()) == 3

    undone = store.delete_last_quiz_answer(s1)
    assert undone.drawing == "dog.npy#3"
    assert [x.drawing for x in store.quiz_answers(session=s1)] == ["cat.npy#12"]
    assert store.delete_last_quiz_answer(s2).skipped and store.delete_last_quiz_answer(s2) is None

    store.finish_quiz_session(s2)
    sessions = store.quiz_sessions()
    assert [(s.id, s.participant, s.answered, s.run_id) for s in sessions] == [(s1, "ada", 1, run), (s2, "bob", 0, None)]
    assert store.quiz_session(s1).config == {"n": 3, "seed": 0}
    assert [s.id for s in store.quiz_sessions(open_only=True)] == [s1]
    assert store.quiz_participants() == ["ada", "bob"]
    with pytest.raises(StoreError, match="no quiz session 99"):
        store.add_quiz_answer(99, "x", "cat", "cat", [], 1)
    store.finish_run(run, "done", {})
    store.delete_run(run)  # answers survive their source run
    assert store.quiz_session(s1).run_id is None and len(store.quiz_answers(session=s1)) == 1


def test_store_sink_records_real_events(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("sink", "classifier", {"model": "fc"})
    seen = ListSink()
    sink = tee(StoreSink(store, rid), seen)
    sink(RunStarted(run_id=rid, name="sink", config={}, device="cpu", total_epochs=2, steps_per_epoch=5, num_train=100))
    for step in range(1, 6):
        sink(Progress(step=step, epoch=1, seen=step * 20, lr=1e-3, loss=2.0 / step, throughput=1000.0))
    sink(_epoch(1, 0.4))
    sink(Checkpoint(epoch=1, path="model.safetensors", best=True))
    sink(Progress(step=6, epoch=2, seen=120, lr=1e-3, loss=0.5, throughput=900.0, top1=0.7))
    sink(EpochEnd(epoch=2, step=10, seconds=2.0, metrics={
        "train/loss": 0.5, "train/top1": 0.7, "val/loss": 0.6, "val/top1": 0.6, "val/top5": 0.95, "train/lr": 5e-4,
        "train/seconds": 2.0, "train/top5": 0.97, "ece": 0.1, "note": "text is skipped"}))
    sink(RunFinished(status="done", summary={"test_top1": 0.58, "best_epoch": 2}))
    assert len(seen.events) == 11

    steps = store.metrics(rid, split="step")
    assert len(steps) == 6 * 3 + 1 and {r.name for r in steps} == {"loss", "lr", "throughput", "top1"}
    hist = store.history(rid)
    assert hist["val/top1"] == [(1, 0.4), (2, 0.6)]
    assert hist["train/loss"] == [(1, 1.0), (2, 0.5)]
    assert hist["train/lr"] == [(1, 1e-3), (2, 5e-4)] and hist["train/seconds"][1] == (2, 2.0)
    assert hist["train/top5"] == [(2, 0.97)] and hist["val/ece"] == [(2, 0.1)] and "val/note" not in hist
    assert set(hist) >= {"train/top1", "val/loss", "val/top5"}
    run = store.get_run(rid)
    assert run.status == "done" and run.summary["test_top1"] == 0.58
    assert run.summary["checkpoint"] == {"epoch": 1, "path": "model.safetensors", "best": True}
    assert run.heartbeat is not None and run.heartbeat >= run.started

    failed = store.create_run("boom", "classifier", {})
    StoreSink(store, failed)(RunFailed(error="CUDA out of memory"))
    assert store.get_run(failed).status == "failed"
    assert store.get_run(failed).summary == {"error": "CUDA out of memory"}
    interrupted = store.create_run("ctrl-c", "classifier", {})
    StoreSink(store, interrupted)(RunFinished(status="interrupted", summary={"epochs_done": 1}))
    assert store.get_run(interrupted).status == "interrupted"


def test_store_sink_keeps_training_when_step_rows_cannot_be_written(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("gone", "classifier", {})
    store.finish_run(rid, "done", {})
    store.delete_run(rid)
    sink = StoreSink(store, rid)
    sink(Progress(step=1, epoch=1, seen=10, lr=0.1, loss=1.0, throughput=1.0))
    assert sink.dropped == 1
    with pytest.raises(StoreError, match=f"no run {rid}"):
        sink(_epoch(1))


def test_close_from_another_thread_while_workers_read(tmp_path):
    """A screen closing its store while its poll worker reads (the live view's unmount) must not crash SQLite."""
    store = Store(tmp_path)
    rid = store.create_run("r", "classifier", {})
    store.log_metrics(rid, [(i, 0, "step", "loss", 1.0) for i in range(2000)])
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                assert store.get_run(rid).id == rid
                assert len(store.metrics(rid)) == 2000
            except StoreError as e:  # a handle closed between taking it and using it: a clean error
                assert "closed" in str(e)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        store.close()
        time.sleep(0.002)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert store.get_run(rid).status == "running"  # reopened lazily after close


def test_store_sink_writes_the_window_step_losses(tmp_path):
    store = Store(tmp_path)
    rid = store.create_run("steps", "classifier", {"model": "fc"})
    sink = StoreSink(store, rid)
    sink(Progress(step=6, epoch=1, seen=120, lr=1e-3, loss=1.5, throughput=900.0,
                  step_losses=((2, 2.0), (4, 1.5), (6, 1.0))))
    loss = [(r.step, r.value) for r in store.metrics(rid, split="step") if r.name == "loss"]
    assert sorted(loss) == [(2, 2.0), (4, 1.5), (6, 1.0)]
    assert [r.step for r in store.metrics(rid, split="step") if r.name == "lr"] == [6]
