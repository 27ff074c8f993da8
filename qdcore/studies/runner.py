"""Create a study in the store and run its trials: workers claim trials one at a time until none is queued."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdcore.data.share import sharing
from qdcore.errors import QDError, StoreError
from qdcore.lifetime import child_options
from qdcore.runs.kinds import DEFAULT_KIND, get_kind
from qdcore.studies import trials as T
from qdcore.studies.build import build_spec
from qdcore.studies.spec import StudySpec
from qdcore.studies.stages import stage_spec
from qdcore.studies.validate import validate

StopFn = Callable[[], bool]


def create_study(store, cfg) -> int:
    """Check every trial, then add the study run (kind study) and its queued trials; nothing is added on a bad
    spec. `cfg` is a StudyConfig (qdcore.kinds.study)."""
    from qdcore.runs.run import prepare  # lazy: keeps the store out of qd --help

    kind, cfg = prepare(cfg, store)
    spec, notes = build_spec(cfg)

    pairs = validate(spec)
    sid = store.create_run(cfg.name, kind.name, cfg.to_dict())
    add_grid(store, sid, spec, notes, pairs)
    return sid


def add_grid(store, study: int, spec: StudySpec, notes: list[str], pairs: list | None = None,
             start: int = 0) -> None:
    """Add a validated grid's trials to a study run, numbered from `start` (a later stage's: after the trials
    already there); its spec (paper figures too) and notes go in the summary."""
    pairs = pairs if pairs is not None else validate(spec)
    rows = []
    for i, (trial, cfg) in enumerate(pairs, start):
        label = " ".join(f"{k}={v}" for k, v in trial.params.items())
        named = cfg.replace(name=f"{spec.name} #{i + 1}" + (f" {label}" if label else ""))
        rows.append((trial.params, {"kind": trial.kind, **named.to_dict()}))
    T.add_trials(store, study, rows, start)
    store.update_summary(study, {"trials": start + len(rows), "spec": spec.to_dict(), "notes": notes})


def run_trial(store, trial: T.TrialRow, should_stop: StopFn) -> str:
    """Run (or resume) one claimed trial as a child run of its kind; returns its new trial status. Errors fail
    the trial only."""
    from qdcore.runs.run import prepare, resume, start  # lazy: keeps the store out of qd --help

    options = dict(trial.config)
    kind_name = options.pop("kind", DEFAULT_KIND)
    try:
        if trial.run_id is not None and store.has_run(trial.run_id):
            store.reap()  # a run its killed worker left 'running' becomes 'interrupted'
            rec = store.get_run(trial.run_id)
            if rec.status == "done":  # finished, but its worker died before marking the trial
                return _after(store, trial, "done")
            if rec.status == "interrupted":
                return _after(store, trial, resume(trial.run_id, store, should_stop=should_stop).status)
        kind, cfg = prepare(get_kind(kind_name).config.from_dict(options, origin=f"study {trial.study} "
                                                                                  f"trial {trial.idx + 1}"), store)
        run_id = store.create_run(cfg.name, kind.name, cfg.to_dict(), parent=trial.study)
        T.set_run(store, trial.study, trial.idx, run_id)  # before training: a resume continues this run
        return _after(store, trial, start(cfg, store, should_stop=should_stop, run_id=run_id).status)
    except KeyboardInterrupt:
        T.finish(store, trial.study, trial.idx, "queued")
        raise
    except Exception as e:  # noqa: BLE001 - a failing trial is recorded and the study goes on
        msg = str(e) if isinstance(e, QDError) else f"{type(e).__name__}: {e}"
        T.finish(store, trial.study, trial.idx, "failed", msg.splitlines()[0] if msg else type(e).__name__)
        return "failed"


def _after(store, trial: T.TrialRow, run_status: str) -> str:
    status = "done" if run_status == "done" else "queued"  # interrupted: resumed by the next run of the study
    T.finish(store, trial.study, trial.idx, status)
    return status


def work(store, study: int, should_stop: StopFn = lambda: False, limit: int | None = None) -> list[str]:
    """A worker: claim and run trials until none is queued, `should_stop()` or `limit` trials; their outcomes.
    Trials that share a data selection (run next to each other: selection axes vary slowest) select it once."""
    out: list[str] = []
    with sharing():
        while not should_stop() and (limit is None or len(out) < limit):
            trial = T.claim(store, study)
            if trial is None:
                break
            out.append(run_trial(store, trial, should_stop))
    return out


@dataclass(frozen=True)
class Progress:
    """Where a study stands: trials per status, finished-trial mean seconds and an ETA."""

    counts: dict[str, int]
    total: int
    mean_seconds: float | None
    eta_seconds: float | None


def progress(store, study: int, workers: int = 1) -> Progress:
    """Counts and an ETA from the finished trials' mean wall time over `workers` parallel workers."""
    rows = T.trials(store, study)
    counts = dict.fromkeys(T.TRIAL_STATUSES, 0)
    for r in rows:
        counts[r.status] += 1
    done = [r.seconds for r in rows if r.status == "done" and r.seconds is not None]
    mean = sum(done) / len(done) if done else None
    eta = None
    if mean is not None:
        running = [r for r in rows if r.status == "running"]
        left = counts["queued"] * mean + sum(max(0.0, mean - (r.seconds or 0.0)) for r in running)
        eta = left / max(1, workers)
    return Progress(counts, len(rows), mean, eta)


def worker_plan(workers: int | None, per_gpu: int | None) -> list[dict[str, str]]:
    """One environment patch per worker process: with CUDA, `per_gpu` workers share each GPU (default one each);
    CPU threads are shared out between the workers."""
    gpus = 0
    if per_gpu or (workers or 1) > 1:
        import torch  # lazy: torch (~1.2 s) is loaded only when used

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    per = per_gpu or 1
    n = workers if workers else (per * gpus if gpus else 1)
    threads = max(1, (os.cpu_count() or 1) // max(1, n))
    plan = []
    for i in range(max(1, n)):
        env = {"QD_STUDY_THREADS": str(threads)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = str((i // per) % gpus)
        plan.append(env)
    return plan


def run_study(store, study: int, workers: int | None = 1, per_gpu: int | None = None,
              should_stop: StopFn = lambda: False, on_progress: Callable[[Progress], None] | None = None,
              poll: float = 0.5) -> Progress:
    """Run a study's queued trials (resuming interrupted ones) with local workers; the parent run ends done when
    every trial has finished (done or failed), interrupted when stopped early."""
    T.require_study(store, study)
    store.set_status(study, "running")
    T.requeue_orphans(store, study)
    plan = worker_plan(workers, per_gpu)
    store.update_summary(study, {"workers": len(plan), "gpus": sorted({e["CUDA_VISIBLE_DEVICES"] for e in plan
                                                                        if "CUDA_VISIBLE_DEVICES" in e})})

    while True:
        if len(plan) == 1:
            _run_in_thread(store, study, should_stop, on_progress, poll)
        else:
            _run_processes(store, study, plan, should_stop, on_progress, poll)
        T.requeue_orphans(store, study)  # trials of a worker killed outright go back to the queue
        # A staged study goes on with the trials that use the finished ones' runs.
        if should_stop() or not next_stage(store, study):
            break
    p = progress(store, study, len(plan))
    if on_progress:
        on_progress(p)
    if p.counts["running"] == 0:
        finished = p.counts["queued"] == 0
        store.finish_run(study, "done" if finished else "interrupted",
                         {"counts": p.counts, "trials": p.total, "workers": len(plan)})
    return p


def _run_in_thread(store, study: int, should_stop: StopFn, on_progress, poll: float) -> None:
    """One worker in a thread of this process, so the caller keeps reporting progress (and gets Ctrl-C)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work(store, study, should_stop)
        except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread
            failure.append(e)

    th = threading.Thread(target=target, name=f"study-{study}", daemon=True)
    th.start()
    while th.is_alive():
        th.join(poll)
        if on_progress:
            on_progress(progress(store, study, 1))
    if failure:
        raise failure[0]


def _run_processes(store, study: int, plan: list[dict[str, str]], should_stop: StopFn, on_progress,
                   poll: float) -> None:
    """Worker processes (python -m qdcore.studies.worker), each logging to runs/<study>/worker-N.log; stopping
    forwards SIGTERM and waits for them."""
    procs, logs = [], []
    folder = store.run_dir(study)
    for i, env_patch in enumerate(plan):
        env = {**os.environ, **env_patch, "QD_HOME": str(store.home)}
        log = folder / f"worker-{i + 1}.log"
        logs.append(log)
        with open(log, "ab") as f:  # a file, not a pipe: a chatty worker never blocks on a full pipe
            # Killed with this process (kill -9 too), the workers get SIGTERM and stop after their step.
            procs.append(subprocess.Popen([sys.executable, "-m", "qdcore.studies.worker", str(study)], env=env,
                                          stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                          **child_options()))
    stopping = False
    try:
        while any(p.poll() is None for p in procs):
            if not stopping and should_stop():
                stopping = True
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGTERM)
            time.sleep(poll)
            if on_progress:
                on_progress(progress(store, study, len(procs)))
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait()
        raise
    for p, log in zip(procs, logs):
        if p.returncode not in (0, -signal.SIGTERM, -signal.SIGINT):
            T.requeue_orphans(store, study)
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
            raise StoreError(f"a study worker exited with code {p.returncode}"
                             f"{': ' + lines[-1] if lines else ''} (log: {log})")


def detach(store, study: int) -> int:
    """Run (or continue) a study in a detached process through the core launcher; returns its pid."""
    from qdcore.runs.launcher import Resume, launch  # lazy: keeps the store out of qd --help

    rec = store.get_run(study)
    if rec.status == "running":
        raise StoreError(f"study {study} is running already (pid {rec.pid})")
    if rec.status == "done":  # `qd train --resume` refuses a finished run; queued trials left make it not done
        store.finish_run(study, "interrupted", {})
    return launch(Resume(study), store=store).pid


def next_stage(store: Any, study: int) -> bool:
    """Add the next stage's trials once every trial so far has finished; whether any trial was added."""
    rec = store.get_run(study)
    doc = rec.summary.get("spec") or {}
    then = doc.get("then") or []
    added = False
    while not added:
        done = int(rec.summary.get("stage", 0))
        rows = T.trials(store, study)
        if done >= len(then) or any(r.status in ("queued", "running") for r in rows):
            return False
        spec = StudySpec.from_dict(doc, origin=f"study {study}")
        stage = spec.then[done]
        notes = list(rec.summary.get("notes", []))
        pairs = []
        for seed in spec.seeds:
            found = {r.params.get("variant"): r for r in rows if int(r.config.get("seed", 0)) == seed}
            runs = {v: r.run_id for v in stage["refs"].values()
                    if (r := found.get(v)) is not None and r.status == "done" and r.run_id is not None}
            missing = [v for v in stage["refs"].values() if v not in runs]
            if missing:
                notes.append(f"stage {done + 2}, seed {seed}: no trials, as its {', '.join(missing)} trial did not "
                             "finish")
                continue
            for trial, cfg in validate(stage_spec(spec, done, seed, runs)):
                # Seeds are one grid each here: the trial keeps its seed column as the first stage's trials do.
                params = {**trial.params, "seed": seed} if len(spec.seeds) > 1 else trial.params
                pairs.append((dataclasses.replace(trial, params=params), cfg))
        if pairs:
            add_grid(store, study, spec, notes, pairs, start=len(rows))
            added = True
        store.update_summary(study, {"stage": done + 1, "notes": notes})
        rec = store.get_run(study)
    return added
