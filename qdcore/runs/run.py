"""Running any kind of run in the store: create (or claim) the row, tee the store sink, train, resume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError, QDError, StoreError
from qdcore.events import EpochEnd, Event, Progress, RunStarted, Sink, null_sink, tee
from qdcore.runs.context import RunContext, rank_info
from qdcore.runs.kinds import RunKind, find_kind, get_kind, kind_of
from qdcore.store import Store, StoreSink


@dataclass
class Outcome:
    """How a run in the store ended: its id, status, summary, folder and what the kind's train returned."""

    run_id: int | None
    status: str
    summary: dict[str, Any]
    run_dir: Path | None
    result: Any = None


class SkipLogged:
    """Forwards events except Progress/EpochEnd rows the store already holds (a resumed run re-reaching them)."""

    def __init__(self, inner: Sink, last_step: int = 0, last_epoch: int = 0) -> None:
        self.inner = inner
        self.last_step = last_step
        self.last_epoch = last_epoch

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress) and event.step <= self.last_step:
            return
        if isinstance(event, EpochEnd) and event.epoch <= self.last_epoch:
            return
        self.inner(event)


def starting_at(sink: Sink, step: int, epoch: int) -> Sink:
    """`sink` told (in RunStarted) where a resumed run starts, so its bars start there and not at step 0."""
    def forward(event: Event) -> None:
        sink(replace(event, start_step=step, start_epoch=epoch) if isinstance(event, RunStarted) else event)

    return forward


def _rank() -> int:
    return rank_info()[0]


def prepare(cfg: Any, store: Any = None) -> tuple[RunKind, Any]:
    """The config's kind and the config as it will run: checked, named, defaults resolved, sizes refused.

    `store` is the store the run will live in (kinds that look at other runs, e.g. a GAN's judge, read it)."""
    kind = kind_of(cfg)
    cfg.validate()
    if not cfg.name:
        cfg = cfg.replace(name=kind.name_for(cfg))
    if kind.min_categories:  # a mistyped category or data that cannot fill the selection: no run row
        from qdcore.data.selection import check_selection  # lazy: numpy (~0.1 s) is not needed to list runs or studies

        check_selection(cfg, kind.min_categories)
    if kind.prepare is not None:
        cfg = kind.prepare(cfg, RunContext(cfg, store, rank=_rank()))
    return kind, cfg


def _store(store: Any) -> Any:
    if store is None:
        store = Store()
    return store


def _outcome(store: Any, run_id: int, run_dir: Path, result: Any) -> Outcome:
    rec = store.get_run(run_id)
    status = getattr(result, "status", None) or rec.status
    return Outcome(run_id, status, dict(rec.summary), run_dir, result)


def _train(kind: RunKind, cfg: Any, store: Any, run_id: int, sink: Sink, should_stop: Callable[[], bool],
           resume: Path | None) -> Outcome:
    run_dir = store.run_dir(run_id)
    try:
        result = kind.train(RunContext(cfg, store, run_id, run_dir, resume, sink, should_stop))
    except BaseException as e:
        _fail_if_running(store, run_id, e)
        raise
    if store.get_run(run_id).status == "running":  # a train fn that never sent RunFinished
        summary = result if isinstance(result, dict) else dict(getattr(result, "summary", {}) or {})
        store.finish_run(run_id, getattr(result, "status", "done"), summary)
    return _outcome(store, run_id, run_dir, result)


def _fail_if_running(store: Any, run_id: int, e: BaseException) -> None:
    """A run whose train raised before saying how it ended is marked failed (or interrupted) with the reason."""
    try:
        if store.get_run(run_id).status != "running":
            return
        if isinstance(e, KeyboardInterrupt):
            store.finish_run(run_id, "interrupted", {"aborted": True})
        else:
            msg = str(e) if isinstance(e, QDError) else f"{type(e).__name__}: {e}"
            store.finish_run(run_id, "failed", {"error": msg.splitlines()[0] if msg else type(e).__name__})
    except QDError:
        pass  # the store itself is failing: the original error is the one to report


def start(cfg: Any, store: Any = None, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
          *, run_id: int | None = None, parent: int | None = None) -> Outcome:
    """Train `cfg` as a new run (or as the run `run_id` a launcher created); rank 0 alone writes the store."""
    if run_id is not None:
        store = _store(store)
        try:
            kind, cfg = prepare(cfg, store)
        except BaseException as e:
            _fail_if_running(store, run_id, e)
            raise
    else:
        kind, cfg = prepare(cfg, store)
    if _rank() != 0:
        result = kind.train(RunContext(cfg, None, run_id, should_stop=should_stop, rank=_rank()))
        return Outcome(None, getattr(result, "status", "done"), {}, None, result)
    store = _store(store)
    if run_id is None:
        run_id = store.create_run(cfg.name, kind.name, cfg.to_dict(), parent=parent)
    else:
        rec = store.get_run(run_id)
        if rec.kind != kind.name:
            raise StoreError(f"run {run_id} is a {rec.kind} run, not {kind.name}")
        if rec.status != "running" or rec.device:
            raise StoreError(f"run {run_id} has already started ({rec.status}); --run-id trains a run that "
                             "launch() has just created: use --resume to continue it")
        store.set_status(run_id, "running")
        store.update_config(run_id, cfg.to_dict())
    return _train(kind, cfg, store, run_id, tee(StoreSink(store, run_id), sink), should_stop, None)


def resumable(store: Any, run_id: int) -> tuple[Any, RunKind, Any]:
    """(record, kind, stored config) of a run that can be resumed; StoreError/ConfigError saying why not."""
    rec = store.get_run(run_id)
    kind = find_kind(rec.kind)
    if kind is None or not kind.resumable:
        raise ConfigError(f"run {run_id} is a {rec.kind} run, which cannot be resumed")
    if rec.status == "done":
        raise ConfigError(f"run {run_id} already finished ({rec.summary.get('epochs', '?')} epochs); "
                          "start a new run to train longer")
    if rec.status == "running":
        raise StoreError(f"run {run_id} is being trained by process {rec.pid} on {rec.host}: "
                         "wait for it or stop it first")
    return rec, kind, kind.config.from_dict(rec.config, origin=f"run {run_id} config")


def resume(run_id: int, store: Any = None, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
           *, device: str | None = None) -> Outcome:
    """Continue an interrupted run from its folder to its planned end; rows are not written twice."""
    store = _store(store)
    if _rank() != 0:  # rank 0 checks and claims the run; the other ranks follow its checkpoint
        rec = store.get_run(run_id)
        kind = get_kind(rec.kind)  # rank 0 has checked it
        cfg = kind.config.from_dict(rec.config, origin=f"run {run_id} config")
    else:
        rec, kind, cfg = resumable(store, run_id)
    if device:
        cfg = cfg.replace(device=device)
    run_dir = store.run_dir(run_id)
    if _rank() != 0:
        result = kind.train(RunContext(cfg, None, run_id, None, run_dir, null_sink, should_stop, _rank()))
        return Outcome(run_id, getattr(result, "status", "done"), {}, None, result)
    # One atomic compare-and-set of status and owner: of two resumers (any kind, the app's included)
    # exactly one gets the run; the other is told which process holds it. It also clears the temp
    # files a killed writer left in the folder.
    store.claim_run(run_id)
    rows = store.metrics(run_id)
    last_step = max((r.step for r in rows if r.split == "step"), default=0)
    last_epoch = max((r.epoch for r in rows if r.split != "step"), default=0)
    at_epoch = max((r.epoch for r in rows if r.split == "step" and r.step == last_step), default=last_epoch + 1)
    if device:
        store.update_config(run_id, cfg.to_dict())
    store.update_summary(run_id, {"resumed": int(rec.summary.get("resumed", 0)) + 1, "resume_from": None})
    guarded = SkipLogged(StoreSink(store, run_id), last_step, last_epoch)
    return _train(kind, cfg, store, run_id, starting_at(tee(guarded, sink), last_step, at_epoch), should_stop,
                  run_dir)


def evaluate(store: Any, run_id: int, data: str | None = None, **options: Any) -> Any:
    """Evaluate a finished run the way its kind does (ConfigError for kinds that cannot be evaluated)."""
    rec = store.get_run(run_id)
    kind = find_kind(rec.kind)
    if kind is None or kind.evaluate is None:
        raise ConfigError(f"run {run_id} is a {rec.kind} run, which cannot be evaluated")
    return kind.evaluate(store, rec.id, data, **options)


__all__ = ["Outcome", "RunContext", "SkipLogged", "prepare", "start", "resume", "resumable", "evaluate", "get_kind"]
