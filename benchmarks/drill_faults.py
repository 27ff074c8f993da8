"""Fault drills, as long as you like: kill -9 at random moments, racing resumers, fuzzed input files.

    .venv/bin/python benchmarks/drill_faults.py [--kills 55] [--races 5] [--writers 4] [--fuzz 1015] [--seed 1]
        [--hostile 6]

Kills: `qd train` / `qd train --resume` is killed with SIGKILL at a random moment; a kill *holds* when
the store passes SQLite's integrity check, the next open marks the run interrupted, no `.*.tmp` file
is left in its folder, every checkpoint on disk loads, and the run can still be resumed to the end.
Races: `--writers` processes resume one interrupted run at once while a reader lists runs; a race
*holds* when exactly one proceeds, the others exit 2 with one line, and no metric row is written twice.
Fuzz: mutated real npy/bin/ndjson files against `qd data info`, `qd data show` and `qd predict`
(in-process), counted by outcome: clean error, accepted, traceback, hang.
Hostile (--hostile N): hostile study specs, option values and run ids (each one line in under a CPU second),
N stroke files of 1-4 MiB with bad lines and random chunk sizes read by six commands (every skipped line
counted, --strict refusing), formula-like class names through every CSV writer, bad and tampered stored
drawings, and file names with newlines, ESC and non-UTF-8 bytes.
The tests (tests/test_drills.py, tests/test_fuzz_inputs.py) run small versions of each in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

TRAIN = ["--data", "demo", "--per-class", "60", "--epochs", "3", "--width", "8", "--batch-size", "32", "--no-amp",
         "--log-every", "2"]


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "QD_HOME": str(home),
            "CUDA_VISIBLE_DEVICES": ""}


def _qd(home: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "qdcore.cli.main", *args], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_training(home: Path, proc: subprocess.Popen, rows: int = 1, timeout: float = 300.0) -> bool:
    """Wait until `proc` owns a running run and has written `rows` metric rows itself (False if it ended first)."""
    db = home / "qd.sqlite"
    start = time.time()
    end = start + timeout
    while time.time() < end and proc.poll() is None:
        if db.exists():
            con = sqlite3.connect(db, timeout=5)
            try:
                row = con.execute("SELECT id FROM runs WHERE pid = ? AND status = 'running'", (proc.pid,)).fetchone()
                if row and con.execute("SELECT count(*) FROM metrics WHERE run_id = ? AND t >= ?",
                                       (row[0], start)).fetchone()[0] >= rows:
                    return True
            except sqlite3.Error:
                pass
            finally:
                con.close()
        time.sleep(0.05)
    return False


def _integrity(home: Path) -> bool:
    con = sqlite3.connect(home / "qd.sqlite")
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def _checkpoints_load(run_dir: Path) -> str:
    """'' when every checkpoint file in the folder loads, else what failed."""
    from qdcore.train.checkpoint import RESUME_FILE, load_model, load_resume

    try:
        if (run_dir / RESUME_FILE).exists():
            load_resume(run_dir)
        if (run_dir / "model.json").exists():
            load_model(run_dir)
    except Exception as e:  # noqa: BLE001 - any failure is a broken drill
        return f"{type(e).__name__}: {e}"
    return ""


def kill_drill(n: int, rnd: random.Random) -> tuple[int, int, list[str]]:
    """(tried, held, problems) for n SIGKILLs of training processes at random moments."""
    from qdcore.store import Store

    held, problems = 0, []
    home = Path(tempfile.mkdtemp(prefix="qd-drill-kill-"))
    run_id = None
    for i in range(n):
        args = ["train", "--resume", str(run_id)] if run_id is not None else ["train", *TRAIN]
        p = _qd(home, *args)
        # Most kills land while training (and so, sometimes, mid-checkpoint); some during start-up.
        if rnd.random() < 0.85:
            _wait_training(home, p, rows=1)
        time.sleep(rnd.uniform(0.0, 2.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        ok, why = True, []
        if not _integrity(home):
            ok, why = False, why + ["integrity check failed"]
        with Store(home) as store:  # the next open reaps the killed run and cleans its temp files
            runs = store.list_runs()
            if not runs:
                problems.append(f"kill {i}: killed before the run row existed (held)")
                held += 1
                continue
            rec = runs[0]
            run_dir = store.home / "runs" / str(rec.id)
            tmp = [x for x in os.listdir(run_dir) if x.startswith(".") and ".tmp" in x] if run_dir.is_dir() else []
            if tmp:
                ok, why = False, why + [f"temp files left: {tmp}"]
            if rec.status == "running":
                ok, why = False, why + ["still marked running after its process died"]
            broken = _checkpoints_load(run_dir) if run_dir.is_dir() else ""
            if broken:
                ok, why = False, why + [f"checkpoint does not load: {broken}"]
            run_id = rec.id if rec.status in ("interrupted", "failed") else None
        held += ok
        if not ok:
            problems.append(f"kill {i}: " + "; ".join(why))
        print(f"  kill {i + 1}/{n}: {'held' if ok else 'FAILED'} ({held} held so far)", flush=True)
    if run_id is not None:  # the last interrupted run still finishes
        p = _qd(home, "train", "--resume", str(run_id))
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            problems.append(f"final resume of run {run_id} failed: {err.strip()[-200:]}")
    return n, held, problems


def race_drill(n: int, writers: int) -> tuple[int, int, list[str]]:
    """(tried, held, problems) for n races of `writers` resumers (plus a reader) on one interrupted run."""
    from qdcore.store import Store

    held, problems = 0, []
    for i in range(n):
        home = Path(tempfile.mkdtemp(prefix="qd-drill-race-"))
        first = _qd(home, "train", *TRAIN)
        _wait_training(home, first, rows=8)
        first.send_signal(signal.SIGINT)  # a clean stop with a resume checkpoint
        first.communicate(timeout=300)
        with Store(home) as store:
            rid = store.list_runs()[0].id
            if store.get_run(rid).status != "interrupted":
                problems.append(f"race {i}: the first run was not interrupted (finished too fast?)")
                continue
        procs = [_qd(home, "train", "--resume", str(rid)) for _ in range(writers)]
        reader = _qd(home, "runs", "list")
        outs = [p.communicate(timeout=600) for p in procs]
        reader.communicate(timeout=120)
        codes = [p.returncode for p in procs]
        losers = [err for p, (_, err) in zip(procs, outs) if p.returncode != 0]
        one_line = all(len([ln for ln in e.splitlines() if ln.strip()]) == 1 and e.startswith("qd: error:")
                       for e in losers)
        with Store(home) as store:
            rows = store.metrics(rid)
            status = store.get_run(rid).status
        keys = [(r.step, r.epoch, r.split, r.name) for r in rows]
        ok = codes.count(0) == 1 and one_line and len(keys) == len(set(keys)) and status == "done" and _integrity(home)
        held += ok
        print(f"  race {i + 1}/{n}: {'held' if ok else 'FAILED'} (exit codes {sorted(codes)})", flush=True)
        if not ok:
            problems.append(f"race {i}: exit codes {codes}, {len(keys) - len(set(keys))} duplicate rows, "
                            f"status {status}, losers said {[e.strip()[-120:] for e in losers]}")
    return n, held, problems


def fuzz_drill(n: int, seed: int) -> tuple[Counter, list[str]]:
    """Outcomes of n fuzzed files, each given to data info, data show and predict."""
    from fuzzing import Tally, cases, fast_invoker, run_case

    home = Path(tempfile.mkdtemp(prefix="qd-drill-fuzz-"))
    os.environ["QD_HOME"] = str(home)
    invoke = fast_invoker()
    r = invoke("train", "--data", "demo", "--per-class", "20", "--epochs", "1", "--width", "2", "--no-amp")
    assert r.exit_code == 0, r.output
    tally = Tally()
    folder = Path(tempfile.mkdtemp(prefix="qd-drill-files-"))
    for i, path, what in cases(n, seed, folder):
        for name, args in (("data info", ["data", "info", "--data", str(path), "--json"]),
                           ("data show", ["data", "show", "apple", "--data", str(path), "--n", "2"]),
                           ("predict", ["predict", "last", str(path), "--json"])):
            outcome, detail = run_case(lambda args=args: invoke(*args))
            tally.add(name, outcome, f"case {i} ({what}): {detail}")
    return tally.counts, tally.bad


# --- process lifetimes (issue 22 items 3, 10, 11): children end with their parent, stops are prompt ----------

STUDY_SPEC = ('name = "orphans"\npool = ["circle", "square", "star"]\n[base]\ndata = "demo"\nper_class = 60\n'
              'epochs = 200\nbatch_size = 8\nval = 0.2\ntest = 0.2\nwidth = 2\nlog_every = 1\n'
              '[axes]\nwidth = [2, 3, 4, 5]\n')


def _alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _wait(condition, timeout: float, step: float = 0.05) -> bool:
    """Poll condition() until true or timeout seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _study_rows(home: Path, sql: str, args: tuple = ()) -> list:
    db = home / "qd.sqlite"
    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=5)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []
    finally:
        con.close()


def study_orphan_once(home: Path, workers: int = 2, timeout: float = 300.0) -> str:
    """kill -9 `qd study run --workers 2` while both workers train; '' when no worker outlives it and its trial
    runs end interrupted (stopped after their step, resumable), else what went wrong."""
    home.mkdir(parents=True, exist_ok=True)
    spec = home / "orphans.toml"
    spec.write_text(STUDY_SPEC)
    proc = _qd(home, "study", "run", str(spec), "--workers", str(workers))
    training = ("SELECT DISTINCT r.pid FROM runs r WHERE r.parent IS NOT NULL AND r.status = 'running' AND "
                "EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.id)")
    try:
        if not _wait(lambda: len(_study_rows(home, training)) >= workers or proc.poll() is not None, timeout):
            return f"the {workers} workers did not all start training in {timeout:.0f} s"
        if proc.poll() is not None:
            return f"qd study run ended first (exit {proc.returncode}): {proc.communicate()[1][-300:]}"
        pids = [r[0] for r in _study_rows(home, training)]
        proc.kill()
        proc.wait()
        if not _wait(lambda: not any(_alive(p) for p in pids), timeout):
            left = [p for p in pids if _alive(p)]
            for p in left:
                os.kill(p, signal.SIGKILL)
            return f"workers {left} still ran {timeout:.0f} s after kill -9 of their study"
        # each worker, sent SIGTERM by the kernel, stopped after its step and marked its own run interrupted
        owned = _study_rows(home, f"SELECT id, status FROM runs WHERE pid IN ({','.join('?' * len(pids))}) AND "
                                  "parent IS NOT NULL", tuple(pids))
        unmarked = [run for run, status in owned if status != "interrupted"]
        if unmarked:
            return f"trial runs {unmarked} were not stopped by their workers ({owned})"
        from qdcore.store import Store

        with Store(home) as store:  # the killed parent cannot mark its own row: the next open of the store does
            running = [r.id for r in store.list_runs() if r.status == "running"]
        return f"runs {running} still say running after every process ended" if running else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _repeat(n: int, once, label: str) -> tuple[int, int, list[str]]:
    """Run a drill (`once(home)` -> '' when it held, else why) n times, each in a fresh store."""
    problems = []
    for i in range(n):
        with tempfile.TemporaryDirectory(prefix="qd-drill-") as d:
            why = once(Path(d) / "home")
        if why:
            problems.append(f"{label} {i}: {why}")
    return n, n - len(problems), problems


def study_orphan_drill(n: int) -> tuple[int, int, list[str]]:
    """kill -9 of a 2-worker study, n times: held when no worker is left and no run says running."""
    return _repeat(n, study_orphan_once, "study kill")


LIGHTGBM = ["train", "--model", "lightgbm", "--data", "demo", "--per-class", "200", "--n-rounds", "400",
            "--categories", "circle,square,star,triangle"]


def lightgbm_stop_once(home: Path, rounds: int = 2, timeout: float = 300.0) -> tuple[str, float, float]:
    """SIGTERM to `qd train --model lightgbm` once `rounds` rounds are recorded: ('' when it exits 130 with one
    line, the run interrupted and its checkpoint holding every recorded round, else what went wrong; seconds from
    the signal to the run marked interrupted; seconds to the process's exit)."""
    home.mkdir(parents=True, exist_ok=True)
    proc = _qd(home, *LIGHTGBM)
    recorded = "SELECT count(*) FROM metrics WHERE split = 'train' AND name = 'loss'"
    try:
        if not _wait(lambda: (_study_rows(home, recorded) or [(0,)])[0][0] >= rounds or proc.poll() is not None,
                     timeout):
            return f"no {rounds} rounds in {timeout:.0f} s", math.nan, math.nan
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        marked = math.nan
        if _wait(lambda: _study_rows(home, "SELECT 1 FROM runs WHERE status = 'interrupted'") != [], timeout, 0.01):
            marked = time.monotonic() - t0
        _, err = proc.communicate(timeout=timeout)
        exited = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 130 or "Traceback" in err:
        return f"exit {proc.returncode}: {err.strip()[-300:]}", marked, exited
    from qdcore.store import Store
    from qdcore.train.classical import RESUME_FILE

    with Store(home) as store:
        run = store.list_runs()[0]
        kept = (_study_rows(home, recorded) or [(0,)])[0][0]
    path = home / "runs" / str(run.id) / RESUME_FILE
    if run.status != "interrupted" or not path.is_file():
        return f"run {run.id} {run.status}, checkpoint {'kept' if path.is_file() else 'missing'}", marked, exited
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        import json as _json

        meta = f.metadata()
    state = _json.loads(meta.get("qd") or meta.get("state") or "{}")
    steps = state.get("state", state).get("step")
    if steps != kept:
        return f"the checkpoint holds {steps} rounds, the store recorded {kept}", marked, exited
    return "", marked, exited


def lightgbm_stop_drill(n: int) -> tuple[int, int, list[str]]:
    """SIGTERM to LightGBM training after 2 to 5 rounds, n times; the stop latencies are printed."""
    problems, marks, exits = [], [], []
    for i in range(n):
        with tempfile.TemporaryDirectory(prefix="qd-lgb-stop-") as d:
            why, marked, exited = lightgbm_stop_once(Path(d) / "home", rounds=2 + i % 4)
        marks.append(marked)
        exits.append(exited)
        if why:
            problems.append(f"lightgbm stop {i}: {why}")
    if n:
        print(f"lightgbm SIGTERM -> run interrupted: median {np.nanmedian(marks):.2f} s, max {np.nanmax(marks):.2f} s; "
              f"-> process exit: median {np.nanmedian(exits):.2f} s, max {np.nanmax(exits):.2f} s "
              f"(load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return n, n - len(problems), problems


DDP = ["train", "--data", "demo", "--per-class", "250", "--epochs", "3", "--width", "4", "--batch-size", "8",
       "--log-every", "1", "--no-amp", "--device", "cpu"]


def _ranks(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def ddp_rank_kill_once(home: Path, timeout: float = 300.0) -> str:
    """kill -9 of one rank of `qd train --nproc 2` after its first epoch's checkpoint: '' when the launcher says
    one line (no traceback) naming the rank and how to continue, the run is interrupted, and a resume on one
    process says it changes the world size and ends done with no error left in its summary."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**_env(home), "QD_DIST_TIMEOUT": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "qdcore.cli.main", *DDP, "--nproc", "2"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = home / "runs" / "1" / "resume.safetensors"
    try:
        if not _wait(lambda: (ckpt.exists() and len(_ranks(proc.pid)) == 2) or proc.poll() is not None, timeout):
            return f"no checkpoint with 2 ranks in {timeout:.0f} s"
        if proc.poll() is not None:
            return f"training ended first (exit {proc.returncode})"
        os.kill(_ranks(proc.pid)[-1], signal.SIGKILL)
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # a surviving rank whose Gloo peer vanished may abort in C++ before torchrun ends it; libstdc++ then
    # prints its one "terminate called ..." line itself, which no Python handler can catch
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith("terminate called ")]
    if len(lines) != 1 or not lines[0].startswith("qd: error: rank 1 ") or "Traceback" in err:
        return f"the launcher said {len(lines)} lines (exit {proc.returncode}): {err[-600:]}"
    if "was killed by SIGKILL" not in lines[0] or "--resume 1 --nproc 2" not in lines[0]:
        return f"the line does not name the signal and the resume: {lines[0]}"
    status = _study_rows(home, "SELECT status FROM runs WHERE id = 1")
    if status != [("interrupted",)]:
        return f"run 1 is {status} after the kill, not interrupted"
    done = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "train", "--resume", "1", "--device", "cpu"],
                          env=env, capture_output=True, text=True, timeout=timeout)
    said = " ".join((done.stdout + done.stderr).split())
    if done.returncode != 0 or "was trained on 2 processes and continues on 1 process" not in said:
        return f"the resume (exit {done.returncode}) did not say it changes the world size: {said[-400:]}"
    import json as _json

    row = _study_rows(home, "SELECT status, summary FROM runs WHERE id = 1")[0]
    summary = _json.loads(row[1])
    if row[0] != "done" or "error" in summary:
        return f"run 1 ended {row[0]} with error {summary.get('error')!r} in its summary"
    return ""


def ddp_rank_kill_drill(n: int) -> tuple[int, int, list[str]]:
    """kill -9 of one DDP rank, n times."""
    return _repeat(n, ddp_rank_kill_once, "rank kill")


def serve_guard_drill(n: int = 1) -> tuple[int, int, list[str]]:
    """Raw HTTP and WebSocket clients against `qdtui serve --max-sessions 2 --idle-minutes 0.05`: foreign
    Origins, DNS-rebinding Hosts, wrong and missing tokens, a full server, idle sessions, kill -9 of the server.
    Each case holds when it is refused (403 / 503), ended or cleaned up as it should; n rounds of all cases."""
    import asyncio

    from browser import Served, alive, app_processes, http_status, wait_until, ws_closed_reason, ws_open

    tried, problems = 0, []

    def case(name: str, ok: bool, detail: object = "") -> None:
        nonlocal tried
        tried += 1
        if not ok:
            problems.append(f"{name}: {detail}")

    def one_round() -> None:  # a function, so the lambdas below hold this round's server, never the next one's
        with tempfile.TemporaryDirectory(prefix="qd-serve-") as d:
            server = Served(Path(d) / "home", "--max-sessions", "2", "--idle-minutes", "0.05")
            loop = asyncio.new_event_loop()
            port, tok, own = server.port, f"&token={server.token}", f"http://127.0.0.1:{server.port}"
            ws = lambda query, **h: loop.run_until_complete(ws_open(port, query, **h))  # noqa: E731
            try:
                for name, got in (("foreign Origin", ws(tok, Origin="http://evil.example")),
                                  ("another port's Origin", ws(tok, Origin=f"http://127.0.0.1:{port + 1}")),
                                  ("rebinding Host (socket)", ws(tok, Origin=own, Host=f"evil.example:{port}")),
                                  ("wrong token (socket)", ws("&token=wrong", Origin=own)),
                                  ("no token (socket)", ws("", Origin=own))):
                    case(name, got == 403, got)
                status, text = http_status(own + "/", {"Host": f"rebound.example:{port}"})
                case("rebinding Host (page)", status == 403 and "does not answer to the name" in text, status)
                case("wrong token (page)", http_status(own + "/?token=wrong")[0] == 403)
                case("the printed address", http_status(server.url)[0] == 200)
                first, second = ws(tok, Origin=own), ws(tok, Origin=own)
                case("two sessions", not isinstance(first, int) and not isinstance(second, int), (first, second))
                case("a third session (socket)", ws(tok, Origin=own) == 503)
                status, text = http_status(server.url)
                case("a third session (page)", status == 503 and "(--max-sessions 2)" in text, status)
                wait_until(lambda: len(app_processes(server.proc.pid)) == 2, 120, "two apps")
                if not isinstance(first, int):
                    reasons = [loop.run_until_complete(ws_closed_reason(w)) for w in (first, second)]
                    case("idle sessions ended", all("idle for 0.05 minutes" in r for r in reasons), reasons)
                    wait_until(lambda: app_processes(server.proc.pid) == [], 60, "the idle apps' end")
                live = ws(tok)
                wait_until(lambda: len(app_processes(server.proc.pid)) == 1, 120, "an app")
                app = app_processes(server.proc.pid)[0]
                server.proc.kill()
                server.proc.wait()
                case("an app after kill -9 of its server", _wait(lambda: not alive(app), 60), f"pid {app} lives")
                if not isinstance(live, int):
                    loop.run_until_complete(live.qd_session.close())
            except TimeoutError as e:
                case("timing", False, e)
            finally:
                loop.close()
                server.close()

    for _ in range(n):
        one_round()
    return tried, tried - len(problems), problems


def lifetime_drills(a: argparse.Namespace) -> None:
    """The process-lifetime drills, each printed as tried / held."""
    for name, n, drill in (("study kill -9 (2 workers)", a.orphans, study_orphan_drill),
                           ("lightgbm SIGTERM", a.lgb_stops, lightgbm_stop_drill),
                           ("DDP rank kill -9", a.rank_kills, ddp_rank_kill_drill),
                           ("qdtui serve guard cases", a.serve_rounds, serve_guard_drill)):
        if n:
            tried, held, problems = drill(n)
            print(f"{name}: {tried} tried, {held} held", flush=True)
            for p in problems[:10]:
                print("  " + p)


# ---------------------------------------------------------------- hostile input (issue 22 items 2, 4-9)


def _hostile_home() -> tuple[Path, object]:
    """An in-process `qd` on a fresh store holding a GAN run (1) and a classifier (2)."""
    from fuzzing import fast_invoker

    home = Path(tempfile.mkdtemp(prefix="qd-drill-hostile-"))
    os.environ["QD_HOME"] = str(home)
    invoke = fast_invoker()
    for args in (["gan", "train", "--data", "demo", "--categories", "moon", "--per-class", "20", "--epochs", "1",
                  "--g-width", "4", "--d-width", "4", "--no-judge", "--batch-size", "10"],
                 ["train", "--data", "demo", "--categories", "moon,star,circle", "--per-class", "40", "--epochs", "1",
                  "--width", "2", "--no-amp"]):
        r = invoke(*args)
        assert r.exit_code == 0, r.output
    return home, invoke


def spec_and_option_drill(invoke) -> tuple[int, int, list[str]]:
    """Every hostile spec (study run and estimate) and option value / run id: one line, under a CPU second."""
    from fuzzing import run_case
    from hostile_cases import judge, numeric_option_cases, option_cases, spec_cases

    folder = Path(tempfile.mkdtemp(prefix="qd-drill-specs-"))
    cases = spec_cases(folder / "specs") + option_cases(folder / "options", gan_run="1", run="2")
    problems = [f"{name}: {detail}" for name, args in cases for held, detail in [judge(invoke, args)] if not held]
    if (folder / "options" / "victim" / "keep.txt").read_text() != "keep":
        problems.append("runs export wrote through the symlinked run-N-csv")
    numeric = numeric_option_cases(folder / "numeric", gan_run="1", run="2")  # refused or used, no traceback
    problems += [f"{name}: {outcome}: {detail}" for name, args in numeric
                 for outcome, detail in [run_case(lambda args=args: invoke(*args), seconds=60)]
                 if outcome in ("traceback", "hang")]
    tried = len(cases) + len(numeric)
    return tried, tried - len(problems), problems


def stroke_file_drill(n: int, seed: int, invoke) -> tuple[int, int, list[str]]:
    """n stroke files of 1-4 MiB, random bad lines and a random chunk size (boundaries mid-line), read by every
    command: each held when all exit 0 with one 'skipped K of M lines' note (K = the bad lines, where every
    drawing is read) and --strict refuses in one line."""
    from hostile_cases import BAD_LINES, stroke_file

    from qdcore.data import strokes

    rnd = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="qd-drill-strokes-"))
    problems = []
    for i in range(n):
        bad = rnd.sample(sorted(BAD_LINES), rnd.randrange(1, 4))
        path = folder / f"drawn{i}.ndjson"
        good, total = stroke_file(path, rnd.uniform(1.0, 4.0), bad, seed + i)
        strokes.CHUNK_BYTES = rnd.choice([4099, 65_537, 1 << 20, 64 << 20])
        strokes._INDEX_CACHE.clear()
        why = []
        for args, exact in ((["data", "info", "--data", str(path)], False),
                            (["data", "show", "star", "--data", str(path), "--n", "2"], False),
                            (["data", "export", "--data", str(path), "--out", str(folder / "x.npy")], True),
                            (["predict", "2", str(path), "--limit", "1"], True),
                            (["eval", "2", "--data", str(path)], True),
                            (["train", "--data", str(path), "--per-class", "30", "--epochs", "1", "--width", "2",
                              "--no-amp"], False)):
            r = invoke(*args)
            notes = [ln for ln in r.output.splitlines() if ln.startswith("note: skipped")]
            prefix = f"note: skipped {len(bad)} of {total:,} lines in {path}: " if exact else "note: skipped "
            if r.exit_code != 0 or len(notes) != 1 or not notes[0].startswith(prefix):
                why.append(f"{args[0]} {args[1]}: exit {r.exit_code}, notes {[x[:120] for x in notes]} "
                           f"{r.output.strip()[-160:]!r}")
            r = invoke(*args, "--strict") if args[0] != "data" or args[1] != "export" else r
            if args[1] != "export" and (r.exit_code != 2 or "--strict refuses" not in r.output):
                why.append(f"{args[0]} {args[1]} --strict: exit {r.exit_code}")
        if why:
            problems.append(f"file {i} ({', '.join(bad)}, chunk {strokes.CHUNK_BYTES}): " + "; ".join(why))
    strokes.CHUNK_BYTES = 64 << 20
    return n, n - len(problems), problems


def csv_drill(invoke) -> tuple[int, int, list[str]]:
    """Classes named like spreadsheet formulas through analyze --out and study report: every CSV cell safe."""
    import numpy as np
    from hostile_cases import formula_cells

    from qdcore.data.demo import generate

    names = ["=cmd|' -C calc'!A0", "+SUM(1+1)", "@A1", "-2+3", "\tTAB"]
    data = Path(tempfile.mkdtemp(prefix="qd-drill-csv-"))
    for k, name in enumerate(names):
        images, _ = generate(per_class=60, seed=k, classes=[["moon", "circle", "star", "cloud", "square"][k]])
        np.save(data / f"{name}.npy", images.reshape(-1, 784))
    r = invoke("train", "--data", str(data), "--epochs", "1", "--width", "2", "--no-amp", "--test", "0.5")
    assert r.exit_code == 0, r.output
    spec = data / "s.toml"
    spec.write_text(f"[base]\ndata = {json.dumps(str(data))}\nepochs = 1\nwidth = 2\namp = false\n[axes]\n"
                    f"categories = {json.dumps([','.join(names[:2]), ','.join(names[2:4])])}\n")  # (a tab is stripped)
    assert invoke("study", "run", str(spec)).exit_code == 0
    out = data / "out"
    assert invoke("analyze", "2", "--out", str(out / "a"), "--features", "pixels").exit_code == 0
    assert invoke("study", "report", "last", "--out", str(out / "s")).exit_code == 0
    assert invoke("runs", "export", "2", "--out", str(out / "e")).exit_code == 0
    problems, files = [], sorted(out.rglob("*.csv"))
    for f in files:
        risky = formula_cells(f.read_text())
        if risky:
            problems.append(f"{f.relative_to(out)}: {risky[:3]}")
    return len(files), len(files) - len(problems), problems


def stored_drawings_drill(invoke) -> tuple[int, int, list[str]]:
    """Bad strokes offered to add_drawing (refused) and tampered rows (left out by export-drawn, drawn-report)."""
    import math

    from qdcore.errors import ConfigError
    from qdcore.store import Store

    offered = [[[[1, math.nan], [1, 2]]], [[[1, math.inf], [1, 2]]], [[[1, 2, 3], [1, 2]]], [[["a"], [1]]],
               [[[1], [2]]] * 2000, [[[1, 2], [1, 2], [0]]]]
    tampered = ["[" * 100_000 + "]" * 100_000, "[[[1, NaN], [1, 2]]]", "[[[1, 2, 3], [1, 2]]]", "not json",
                '[[["x"], [1]]]', "[[[1e999], [1]]]"]
    problems = []
    with Store() as store:
        for st in offered:
            try:
                store.add_drawing("ann", "moon", st, run_id=2)
                problems.append(f"add_drawing accepted {str(st)[:40]}")
            except ConfigError:
                pass
        good = [[[1, 50, 90], [3, 80, 20], [0, 10, 20]]]
        ids = [store.add_drawing("ann", "moon", good, run_id=2, guesses=[("moon", 0.9)]) for _ in tampered]
        store.add_drawing("ann", "star", good, run_id=2, guesses=[("star", 0.9)])
    import sqlite3

    con = sqlite3.connect(Path(os.environ["QD_HOME"]) / "qd.sqlite")
    with con:
        for rid, text in zip(ids, tampered):
            con.execute("UPDATE drawings SET strokes = ?, guesses = ? WHERE id = ?", (text, text, rid))
    con.close()
    out = Path(tempfile.mkdtemp(prefix="qd-drill-drawn-"))
    for args in (["data", "export-drawn", "--out", str(out / "raw.ndjson")],
                 ["data", "export-drawn", "--simplified", "--out", str(out / "simple.ndjson")],
                 ["data", "drawn-report", "--run", "2"]):
        r = invoke(*args)
        if r.exit_code != 0 or "Traceback" in r.output:
            problems.append(f"{' '.join(args[:2])}: exit {r.exit_code} {r.output.strip()[-160:]!r}")
    for f in out.glob("*.ndjson"):
        try:
            for ln in f.read_text().splitlines():
                json.loads(ln, parse_constant=_not_json)
        except ValueError as e:
            problems.append(f"{f.name} is not strict JSON: {e}")
    return len(offered) + len(tampered), len(offered) + len(tampered) - len(problems), problems


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def names_drill(invoke) -> tuple[int, int, list[str]]:
    """File names with newlines, ESC and non-UTF-8 bytes: data show (as listed and as raw bytes) and data export
    print each on one line."""
    import numpy as np

    from qdcore.data.demo import generate
    from qdcore.fmt import literal

    folder = Path(tempfile.mkdtemp(prefix="qd-drill-names-"))
    raw = [b"two\nlines", b"\xffbad", b"esc\x1b]0;x\x07", b"cr\rname", b"ok"]
    for k, name in enumerate(raw):
        images, _ = generate(per_class=5, seed=k, classes=["moon"])
        with open(os.path.join(os.fsencode(folder), name + b".npy"), "wb") as f:
            np.save(f, images.reshape(-1, 784))
    problems, tried = [], 1
    for name in raw:
        text = os.fsdecode(name)
        shown = literal(text)
        for typed in {text, shown}:  # as typed with its raw bytes and as listed
            tried += 1
            r = invoke("data", "show", typed, "--data", str(folder), "--n", "1")
            first = r.output.splitlines()[0] if r.output else ""
            if r.exit_code != 0 or not first.startswith(f"{shown}: 1 of 5") or "\x1b" in r.output:
                problems.append(f"data show {typed!r}: exit {r.exit_code}, {first[:80]!r}")
    r = invoke("data", "export", "--data", str(folder), "--out", str(folder / "x.npy"))
    if r.exit_code != 0 or len(r.output.splitlines()) != 2:
        problems.append(f"data export: {r.output!r}")
    return tried, tried - len(problems), problems


def hostile_drills(a: argparse.Namespace) -> None:
    """The hostile-input drills (issue 22 items 2, 4-9), each printed as tried / held."""
    if not a.hostile:
        return
    _, invoke = _hostile_home()
    for name, drill in (("hostile specs, option values, run ids (one line, < 1 s CPU); every numeric option at "
                         "+-10^23 (no traceback)", spec_and_option_drill),
                        ("stroke files 1-4 MiB read by 6 commands", lambda inv: stroke_file_drill(a.hostile, a.seed,
                                                                                                   inv)),
                        ("CSV files written with formula-like class names", csv_drill),
                        ("stored drawings offered bad or tampered", stored_drawings_drill),
                        ("category names with newline, ESC, CR, non-UTF-8", names_drill)):
        tried, held, problems = drill(invoke)
        print(f"{name}: {tried} tried, {held} held", flush=True)
        for p in problems[:10]:
            print("  " + p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=55)
    ap.add_argument("--races", type=int, default=5)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--fuzz", type=int, default=1015)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--orphans", type=int, default=3)
    ap.add_argument("--hostile", type=int, default=6, help="stroke files for the hostile-input drills (0: none)")
    ap.add_argument("--lgb-stops", type=int, default=5)
    ap.add_argument("--rank-kills", type=int, default=3)
    ap.add_argument("--serve-rounds", type=int, default=2)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = time.time()
    if a.fuzz:
        counts, bad = fuzz_drill(a.fuzz, a.seed)
        total = sum(counts[o] for o in ("clean error", "accepted", "traceback", "hang"))
        print(f"fuzz: {a.fuzz} files, {total} command runs: " +
              ", ".join(f"{o} {counts[o]}" for o in ("clean error", "accepted", "traceback", "hang")))
        for cmd in ("data info", "data show", "predict"):
            print(f"  {cmd}: " + ", ".join(f"{o} {counts[(cmd, o)]}" for o in ("clean error", "accepted", "traceback",
                                                                                "hang")))
        for b in bad[:10]:
            print("  " + b)
    if a.races:
        tried, held, problems = race_drill(a.races, a.writers)
        print(f"races ({a.writers} resumers + a reader): {tried} tried, {held} held", flush=True)
        for p in problems[:10]:
            print("  " + p)
    if a.kills:
        tried, held, problems = kill_drill(a.kills, rnd)
        print(f"kills: {tried} tried, {held} held", flush=True)
        for p in problems[:10]:
            print("  " + p)
    lifetime_drills(a)
    hostile_drills(a)
    print(f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
