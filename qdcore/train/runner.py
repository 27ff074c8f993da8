"""Runs in the store: select the data, create the run, tee the store sink, train, resume."""

from __future__ import annotations

from typing import Callable

from qdcore.errors import ConfigError, StoreError
from qdcore.events import EpochEnd, Event, Progress, Sink, null_sink, tee
from qdcore.train.config import TrainConfig
from qdcore.train.device import rank_info


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


def default_name(cfg: TrainConfig) -> str:
    """'widthk k=12 on demo' style name for runs started without --name."""
    width = f" k={cfg.width}" if cfg.width is not None else ""
    return f"{cfg.model}{width} on {cfg.data}"


def _check_model(cfg: TrainConfig, num_classes: int) -> None:
    """Build the model once so a bad model option fails before a run is created."""
    from qdcore.models import build_model

    build_model(cfg.model, num_classes, **cfg.model_options())


def start_run(cfg: TrainConfig, store=None, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
              *, splits=None, kind: str = "classifier"):
    """Create a run in the store and train it; rank 0 alone writes the store (other ranks just train)."""
    from qdcore.train.device import resolve
    from qdcore.train.engine import _fingerprint, load_splits, train

    cfg.validate()
    if splits is None:
        splits = load_splits(cfg)
    _check_model(cfg, len(splits.train.classes))
    rank, _, _ = rank_info()
    if rank != 0:
        return train(cfg, null_sink, should_stop, None, None, splits=splits)
    if store is None:
        from qdcore.store import Store

        store = Store()
    from qdcore.store import StoreSink

    if not cfg.name:
        cfg = cfg.replace(name=default_name(cfg))
    device = resolve(cfg.device, cfg.amp).describe()
    run_id = store.create_run(cfg.name, kind, cfg.to_dict(), _fingerprint(splits), device)
    run_dir = store.run_dir(run_id)
    store.update_summary(run_id, {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic),
                                  "classes": len(splits.train.classes)})
    return train(cfg, tee(StoreSink(store, run_id), sink), should_stop, run_dir, None, splits=splits, run_id=run_id)


def resumable(store, run_id: int):
    """The stored config of a run that can be resumed (StoreError/ConfigError saying why not)."""
    rec = store.get_run(run_id)
    if rec.kind != "classifier":
        raise ConfigError(f"run {run_id} is a {rec.kind} run; 'qd train --resume' continues classifier runs")
    if rec.status == "done":
        raise ConfigError(f"run {run_id} already finished ({rec.summary.get('epochs', '?')} epochs); "
                          "start a new run to train longer")
    if rec.status == "running":
        raise StoreError(f"run {run_id} is being trained by process {rec.pid} on {rec.host}: "
                         "wait for it or stop it first")
    return rec, TrainConfig.from_dict(rec.config, origin=f"run {run_id} config")


def resume_run(run_id: int, store=None, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
               *, device: str | None = None):
    """Continue an interrupted run from its resume checkpoint to its planned epochs; rows are not written twice."""
    from qdcore.train.checkpoint import RESUME_FILE
    from qdcore.train.engine import _fingerprint, load_splits, train

    rank, _, _ = rank_info()
    if store is None:
        from qdcore.store import Store

        store = Store()
    from qdcore.store import StoreSink

    rec, cfg = resumable(store, run_id)
    if device:
        cfg = cfg.replace(device=device)
    if rank == 0:
        # One atomic compare-and-set: of two resumers racing here, exactly one gets the run.
        store.claim_run(run_id)
    try:
        splits = load_splits(cfg)
        if rec.fingerprint and _fingerprint(splits) != rec.fingerprint:
            raise StoreError(f"the drawings of run {run_id}'s selection changed since it started "
                             f"(data {cfg.data!r}); it cannot be resumed: start a new run")
    except BaseException:
        if rank == 0:
            store.set_status(run_id, rec.status)  # hand the run back as it was
        raise
    run_dir = store.run_dir(run_id)
    # A run killed before its first checkpoint starts over in the same run.
    resume = run_dir if (run_dir / RESUME_FILE).exists() else None
    if rank != 0:
        return train(cfg, null_sink, should_stop, None, resume, splits=splits, run_id=run_id)
    rows = store.metrics(run_id)
    last_step = max((r.step for r in rows if r.split == "step"), default=0)
    last_epoch = max((r.epoch for r in rows if r.split != "step"), default=0)
    if device:
        store.update_config(run_id, cfg.to_dict())
    store.update_summary(run_id, {"resumed": int(rec.summary.get("resumed", 0)) + 1, "resume_from": None})
    guarded = SkipLogged(StoreSink(store, run_id), last_step, last_epoch)
    return train(cfg, tee(guarded, sink), should_stop, run_dir, resume, splits=splits, run_id=run_id)
