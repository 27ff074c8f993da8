"""GAN runs in the store: pick the judge, create the run, tee the store sink, train, resume."""

from __future__ import annotations

from typing import Callable

from qdcore.errors import ConfigError, StoreError
from qdcore.events import Sink, null_sink, tee
from qdcore.train.gan_config import GanConfig
from qdcore.train.runner import SkipLogged

KIND = "gan"


def default_name(cfg: GanConfig) -> str:
    """'dcgan on apple (demo)' style name for runs started without --name."""
    model = cfg.model + (" per class" if cfg.per_class_gans else "")
    what = cfg.categories or "all categories"
    return f"{model} on {what} ({cfg.data})"


def _judge(store, cfg: GanConfig, classes: list[str]):
    from qdcore.analysis.gan_quality import load_judge

    if cfg.no_judge:
        return None
    return load_judge(store, cfg.judge, classes, cfg.device)


def start_gan_run(cfg: GanConfig, store=None, sink: Sink = null_sink,
                  should_stop: Callable[[], bool] = lambda: False, *, splits=None, run_id: int | None = None):
    """Create (or take over, with run_id) a GAN run in the store and train it."""
    from qdcore.store import Store, StoreSink
    from qdcore.train.device import resolve
    from qdcore.train.engine import _fingerprint
    from qdcore.train.gan import load_gan_splits, train_gan

    cfg.validate()
    store = store if store is not None else Store()
    if splits is None:
        splits = load_gan_splits(cfg)
    classes = list(splits.train.classes)
    judge = _judge(store, cfg, classes)  # a judge that does not fit fails before a run is created
    if judge is not None and cfg.judge is None:
        cfg = cfg.replace(judge=judge.run_id)
    if not cfg.name:
        cfg = cfg.replace(name=default_name(cfg))
    device = resolve(cfg.device, cfg.amp).describe()
    if run_id is None:
        run_id = store.create_run(cfg.name, KIND, cfg.to_dict(), _fingerprint(splits), device)
    else:
        store.update_config(run_id, cfg.to_dict())
    store.update_summary(run_id, {"data_origin": splits.train.origin, "synthetic": bool(splits.train.synthetic),
                                  "classes": len(classes), "judge": getattr(judge, "run_id", None)})
    return train_gan(cfg, tee(StoreSink(store, run_id), sink), should_stop, store.run_dir(run_id), None,
                     splits=splits, run_id=run_id, judge=judge)


def resumable(store, run_id: int) -> tuple[object, GanConfig]:
    """The stored config of a GAN run that can be resumed (ConfigError/StoreError saying why not)."""
    rec = store.get_run(run_id)
    if rec.kind != KIND:
        raise ConfigError(f"run {run_id} is a {rec.kind} run; 'qd gan train --resume' continues GAN runs")
    if rec.status == "done":
        raise ConfigError(f"run {run_id} already finished ({rec.summary.get('epochs', '?')} epochs); "
                          "start a new run to train longer")
    if rec.status == "running":
        raise StoreError(f"run {run_id} is still running (pid {rec.pid} on {rec.host}); stop it before resuming")
    return rec, GanConfig.from_dict(rec.config, origin=f"run {run_id} config")


def resume_gan_run(run_id: int, store=None, sink: Sink = null_sink,
                   should_stop: Callable[[], bool] = lambda: False, *, device: str | None = None):
    """Continue an interrupted (or failed) GAN run from its last checkpoint; rows are not written twice."""
    from qdcore.store import Store, StoreSink
    from qdcore.train.engine import _fingerprint
    from qdcore.train.gan import load_gan_splits, train_gan

    store = store if store is not None else Store()
    rec, cfg = resumable(store, run_id)
    if device:
        cfg = cfg.replace(device=device)
    splits = load_gan_splits(cfg)
    if rec.fingerprint and _fingerprint(splits) != rec.fingerprint:
        raise StoreError(f"the drawings of run {run_id}'s selection changed since it started (data {cfg.data!r}); "
                         "it cannot be resumed: start a new run")
    judge = _judge(store, cfg, list(splits.train.classes))
    rows = store.metrics(run_id)
    last_step = max((r.step for r in rows if r.split == "step"), default=0)
    last_epoch = max((r.epoch for r in rows if r.split != "step"), default=0)
    store.set_status(run_id, "running")
    store.update_summary(run_id, {"resumed": int(rec.summary.get("resumed", 0)) + 1, "resume_from": None})
    run_dir = store.run_dir(run_id)
    guarded = SkipLogged(StoreSink(store, run_id), last_step, last_epoch)
    return train_gan(cfg, tee(guarded, sink), should_stop, run_dir, run_dir, splits=splits, run_id=run_id,
                     judge=judge)
