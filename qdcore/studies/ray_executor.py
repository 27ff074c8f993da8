"""A study's trials as Ray tasks: workers anywhere in a cluster, the driver alone writes the store.

Each trial is a Ray task with its CPU/GPU request. The task trains in a scratch folder and sends its
events (progress, epoch metrics, samples) through a Ray queue as they happen; the driver writes them
into the trial's run, so `qdtui` attached to the driver's store follows every trial live. When a task
ends, its run folder's files come back and are written under `runs/<id>/` before the run is marked
finished. Ray is optional (`pip install 'qd[ray]'`); every node needs qd installed and the same data.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError, QDError
from qdcore.events import RunFailed, RunFinished
from qdcore.paths import atomic_write_bytes
from qdcore.runs.context import RunContext
from qdcore.runs.kinds import DEFAULT_KIND, get_kind
from qdcore.runs.run import prepare
from qdcore.store import StoreSink
from qdcore.studies import trials as T
from qdcore.studies.runner import next_stage, progress

StopFn = Callable[[], bool]
_FINAL = (RunFinished, RunFailed)


@dataclass(frozen=True)
class RayPlan:
    """Where and how big: the cluster address (None = a local runtime) and each trial's request."""

    address: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'qd[ray]' (or pip install 'ray[default]')") from None
    return ray


def connect(plan: RayPlan) -> Any:
    """Join the cluster at plan.address, or start a local Ray runtime; ConfigError when nothing answers."""
    ray = _ray()
    if plan.address:
        _reachable(plan.address)
    if ray.is_initialized():
        return ray
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True}
    try:
        if plan.address:
            ray.init(address=plan.address, **kw)
        else:
            ray.init(num_cpus=max(1, os.cpu_count() or 1), **kw)
    except Exception as e:  # noqa: BLE001 - Ray raises ConnectionError, TimeoutError, RuntimeError, ...
        where = plan.address or "a local runtime"
        raise ConfigError(f"could not connect to Ray at {where} ({type(e).__name__}: "
                          f"{str(e).splitlines()[0] if str(e) else 'no answer'}); check the address "
                          "(HOST:PORT of the head node, started with 'ray start --head')") from None
    return ray


def _reachable(address: str, timeout: float = 5.0) -> None:
    """ConfigError unless HOST:PORT accepts a TCP connection (Ray itself would retry for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--address {address!r} must be HOST:PORT of the Ray head, e.g. 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConfigError(f"could not connect to Ray at {address} ({e.strerror or type(e).__name__}); check the "
                          "address (HOST:PORT of the head node, started with 'ray start --head')") from None


def _train_task(kind_name: str, options: dict[str, Any], run_id: int, queue: Any, threads: int) -> dict[str, Any]:
    """Runs on a Ray worker: train one trial, stream its events, return its files and final event."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    torch.set_num_threads(max(1, threads))
    kind = get_kind(kind_name)
    cfg = kind.config.from_dict(options, origin=f"trial run {run_id}")
    final: list[Any] = []

    def sink(ev: Any) -> None:
        if isinstance(ev, _FINAL):
            final.append(ev)  # held back: the driver writes the files first
        else:
            queue.put((run_id, ev))

    with tempfile.TemporaryDirectory(prefix=f"qd-ray-{run_id}-") as tmp:
        error = None
        try:
            kind.train(RunContext(cfg, None, run_id, Path(tmp), None, sink))
        except Exception as e:  # noqa: BLE001 - reported as the trial's failure

            error = str(e) if isinstance(e, QDError) else f"{type(e).__name__}: {e}"
        files = {}
        for f in Path(tmp).rglob("*"):
            if f.is_file() and not f.name.startswith("."):
                files[str(f.relative_to(tmp))] = f.read_bytes()
    return {"final": final[-1] if final else None, "files": files, "error": error}


def run_study_ray(store: Any, study: int, plan: RayPlan, should_stop: StopFn = lambda: False,
                  on_progress: Callable[[Any], None] | None = None, poll: float = 0.2) -> Any:
    """Run a study's queued trials as Ray tasks; same statuses and progress as the local executor."""
    T.require_study(store, study)
    ray = connect(plan)
    from ray.util.queue import Queue  # lazy: Ray (~0.35 s) is loaded only when used

    store.set_status(study, "running")
    T.requeue_orphans(store, study)
    res = ray.cluster_resources()
    slots = int(res.get("GPU", 0) // plan.gpus_per_trial) if plan.gpus_per_trial else \
        int(res.get("CPU", 1) // max(plan.cpus_per_trial, 1e-9))
    slots = max(1, slots)
    store.update_summary(study, {"executor": "ray", "ray_address": plan.address or "local", "workers": slots})
    queue = Queue(maxsize=0)
    task = ray.remote(num_cpus=plan.cpus_per_trial, num_gpus=plan.gpus_per_trial, max_retries=0)(_train_task)
    pending: dict[Any, tuple[Any, int]] = {}
    sinks: dict[int, Any] = {}
    stopping = False

    def drain() -> None:
        while True:
            try:
                batch = queue.get_nowait_batch(max(1, queue.qsize()))
            except Exception:  # noqa: BLE001 - ray.util.queue.Empty
                return
            if not batch:
                return
            for rid, ev in batch:
                if rid in sinks:
                    sinks[rid](ev)

    try:
        while True:
            while not stopping and len(pending) < slots:
                trial = T.claim(store, study)
                if trial is None:
                    break
                options = dict(trial.config)
                kind_name = options.pop("kind", DEFAULT_KIND)
                try:
                    kind, cfg = prepare(get_kind(kind_name).config.from_dict(
                        options, origin=f"study {study} trial {trial.idx + 1}"), store)
                except Exception as e:  # noqa: BLE001 - a bad trial fails alone
                    T.finish(store, study, trial.idx, "failed", str(e).splitlines()[0])
                    continue
                run_id = store.create_run(cfg.name, kind.name, cfg.to_dict(), parent=study)
                T.set_run(store, study, trial.idx, run_id)
                sinks[run_id] = StoreSink(store, run_id)
                threads = max(1, int(plan.cpus_per_trial))
                pending[task.remote(kind.name, cfg.to_dict(), run_id, queue, threads)] = (trial, run_id)
            if not pending and (stopping or not next_stage(store, study)):  # a staged study goes on
                break
            if not pending:
                continue
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=poll)
            drain()
            for ref in ready:
                trial, run_id = pending.pop(ref)
                _finish(ray, ref, store, trial, run_id, sinks.pop(run_id), drain)
            if on_progress:
                on_progress(progress(store, study, slots))
            if not stopping and should_stop():
                stopping = True
                for ref, (trial, run_id) in list(pending.items()):
                    ray.cancel(ref, force=True)
                    store.finish_run(run_id, "interrupted", {"stopped": "study stopped"})
                    T.finish(store, study, trial.idx, "queued")
                pending.clear()
    finally:
        for ref, (trial, run_id) in pending.items():  # the driver itself was interrupted
            ray.cancel(ref, force=True)
            store.finish_run(run_id, "interrupted", {"stopped": "driver stopped"})
            T.finish(store, study, trial.idx, "queued")
    p = progress(store, study, slots)
    if on_progress:
        on_progress(p)
    store.finish_run(study, "done" if p.counts["queued"] == 0 and p.counts["running"] == 0 else "interrupted",
                     {"counts": p.counts, "trials": p.total, "workers": slots})
    return p


def _finish(ray: Any, ref: Any, store: Any, trial: Any, run_id: int, sink: Any, drain: Callable[[], None]) -> None:
    """Write a finished task's files into its run, then its final event; the trial's status follows the run's."""
    try:
        out = ray.get(ref)
    except Exception as e:  # noqa: BLE001 - the worker died or Ray failed the task
        msg = f"Ray task failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        store.finish_run(run_id, "failed", {"error": msg})
        T.finish(store, trial.study, trial.idx, "failed", msg)
        return
    time.sleep(0)  # events put just before the task returned are in the queue by now
    drain()
    folder = store.run_dir(run_id)
    for rel, data in out["files"].items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
    final = out["final"] or RunFailed(out["error"] or "the trial ended without a result")
    sink(final)
    status = store.get_run(run_id).status
    if status == "running":  # a train function that said nothing at the end
        store.finish_run(run_id, "failed" if out["error"] else "done", {"error": out["error"]} if out["error"] else {})
        status = store.get_run(run_id).status
    T.finish(store, trial.study, trial.idx, "done" if status == "done" else "failed",
             None if status == "done" else (out["error"] or status))
