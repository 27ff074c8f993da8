"""Training the classical baselines (LightGBM, logistic regression) on raw pixels, with the classifier's events.

One point of the curve is a boosting round (LightGBM) or `iters_per_step` L-BFGS iterations (logistic
regression, warm-started). Each point emits Progress and EpochEnd with training and validation loss;
early stopping watches the validation loss. The loop driver (qdcore.train.loop) runs the points as
one-step epochs: resume is exact, the checkpoint (LightGBM's text model as bytes or the coefficients)
in the one resume format. Models are written without pickle (see qdcore.train.classical_model).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from qdcore.artifacts import HISTORY_FILE, PREDICTIONS_FILE, RESUME_FILE
from qdcore.data.selection import load_splits
from qdcore.errors import DataError, StoreError
from qdcore.events import Checkpoint, RunFinished, RunStarted, Sink, null_sink
from qdcore.models.classical import lightgbm_params, to_features
from qdcore.predictions import Predictions
from qdcore.train.classical_config import ClassicalConfig
from qdcore.train.classical_model import ClassicalModel, load_classical, logreg_estimator, save_lightgbm, save_logreg
from qdcore.train.evaluate import evaluate_with, kept_predictions
from qdcore.train.loop import EarlyStopping, Loop, Monitor, Out, Step, ranked, watched_loss


@dataclass
class ClassicalResult:
    """What a classical run returns: status, summary, per-point history, the rebuilt model, test predictions."""

    status: str  # done | interrupted
    summary: dict[str, Any]
    history: dict[str, list[float]]
    model: ClassicalModel | None
    classes: list[str]
    predictions: Predictions | None = None
    run_dir: Path | None = None
    run_id: int | None = None


def train_classical(cfg: ClassicalConfig, sink: Sink = null_sink, should_stop: Callable[[], bool] = lambda: False,
                    run_dir: str | Path | None = None, resume: str | Path | None = None, *, splits=None,
                    run_id: int | None = None) -> ClassicalResult:
    """Train a classical baseline as `cfg` says, emitting events to `sink`; `resume` is a run folder to continue."""
    cfg.validate()
    if resume is not None and not (Path(resume) / RESUME_FILE).exists():
        raise StoreError(f"no resume checkpoint at {Path(resume) / RESUME_FILE}; start a new run")

    def body(rt, emit: Sink) -> ClassicalResult:
        out_dir = Path(run_dir) if run_dir is not None and rt.rank == 0 else None
        with _thread_limit(cfg.threads):
            return _train(cfg, rt, emit, should_stop, out_dir, Path(resume) if resume else None, splits, run_id)

    return ranked("cpu", False, sink, body)


def metrics_of(probs: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """(mean log loss, top-1, top-5) of probabilities (N, C) against integer labels; NaNs when N = 0."""
    n = len(labels)
    if n == 0:
        return math.nan, math.nan, math.nan
    p = np.clip(probs[np.arange(n), labels], 1e-15, 1.0)
    k = min(5, probs.shape[1])
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    return (float(-np.log(p).mean()), float((probs.argmax(1) == labels).mean()),
            float((top == labels[:, None]).any(1).mean()))


class _Built(Exception):
    """Carries the booster lgb.train has just built (with its init model and validation sets) out of it."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster


def _grab(env: Any) -> None:
    raise _Built(env.model)


_grab.before_iteration = True  # type: ignore[attr-defined]


class ClassicalStep(Step):
    """One point of the curve of a classical model (LightGBMStep or LogRegStep): fit, score, keep the best."""

    log_every = 1
    steps_per_epoch = 1
    poll_after_epoch = False  # one step an epoch: its own poll is the epoch's
    fits = "model"
    lightgbm = False
    library = "scikit-learn"
    planned = 0  # the points the run plans (rounds, or L-BFGS steps)

    def __init__(self, cfg: ClassicalConfig, splits) -> None:
        self.cfg, self.opts = cfg, cfg.model_options()
        self.x, self.y = to_features(splits.train.images), np.asarray(splits.train.labels, np.int64)
        self.xv, self.yv = to_features(splits.val.images), np.asarray(splits.val.labels, np.int64)
        self.k = len(splits.train.classes)
        self.iters, self.converged = 0, False  # L-BFGS iterations so far; met its tolerance
        self.booster: Any = None
        self.est: Any = None
        self.best: Any = None  # the best (coef, intercept) of logistic regression
        self.last = ((math.nan,) * 3, (math.nan,) * 3)

    def device(self) -> str:
        n = self.cfg.threads
        threads = "all threads" if not n else f"{n} thread{'s' if n > 1 else ''}"
        return f"cpu ({self.library}, {threads})"

    def step(self, batch: Any, step: int) -> Out:
        if self.booster is None and self.est is None:
            self.build()
        train, val = self.last = self.advance()
        return Out({"loss": torch.tensor(train[0], dtype=torch.float64),
                    "top1": torch.tensor(train[1], dtype=torch.float64)}, 1, len(self.y))

    def epoch_end(self, loop: Loop, epoch: int, train: dict[str, Any]) -> dict[str, float]:
        (tl, tt, _), val = self.last
        metrics = {"train/loss": tl, "train/top1": tt, "train/seconds": loop.st["epoch_seconds"]}
        if len(self.yv):
            metrics.update({"val/loss": val[0], "val/top1": val[1], "val/top5": val[2]})
        if self.finished():
            self.epochs = epoch  # nothing left to do: the run ends here, not early-stopped
        return metrics

    def history(self, metrics: dict[str, float]) -> dict[str, Any]:
        (tl, tt, _), val = self.last
        return {"step": self.done(), "train/loss": tl, "train/top1": tt, "val/loss": val[0], "val/top1": val[1],
                "val/top5": val[2], "seconds": metrics["train/seconds"]}

    def state(self) -> dict[str, Any]:
        return {"model": self.cfg.model, "iters": self.iters, "converged": self.converged,
                "rounds": self.booster.current_iteration() if self.booster is not None else 0}

    def load(self, saved: dict[str, Any], where: Path) -> None:
        s = saved["state"]
        if s.get("model") != self.cfg.model:
            raise StoreError(f"{where} continues a {s.get('model')} model, not {self.cfg.model}; start a new run")
        self.iters, self.converged = int(s.get("iters", 0)), bool(s.get("converged", False))
        self.restore(saved["modules"], s, where)

    def done(self) -> int:
        """Boosting rounds (LightGBM) or L-BFGS iterations (logistic regression) so far."""
        return self.iters

    def finished(self) -> bool:
        """Nothing is left to do (L-BFGS met its tolerance or its iterations)."""
        return self.converged

    def build(self, init: Any = None) -> None:
        """The model, ready for its first point (LightGBM: continuing `init`)."""
        raise NotImplementedError

    def advance(self) -> tuple[tuple, tuple]:
        """One point: (training, validation) (loss, top-1, top-5)."""
        raise NotImplementedError

    def keep_best(self) -> None:
        """A new best point (logistic regression copies its coefficients; LightGBM keeps its rounds anyway)."""

    def restore(self, mods: dict[str, Any], s: dict[str, Any], where: Path) -> None:
        """The model from a resume checkpoint's modules."""
        raise NotImplementedError


class LightGBMStep(ClassicalStep):
    """One boosting round; the resume checkpoint (LightGBM's text model, growing) every checkpoint_seconds."""

    lightgbm = True
    library = "LightGBM"

    def __init__(self, cfg: ClassicalConfig, splits) -> None:
        super().__init__(cfg, splits)
        self.epochs = self.planned = cfg.n_rounds
        self.checkpoint_seconds = cfg.checkpoint_seconds

    def lr(self) -> float:
        return self.cfg.lr

    def epoch_end(self, loop: Loop, epoch: int, train: dict[str, Any]) -> dict[str, float]:
        return {**super().epoch_end(loop, epoch, train), "train/lr": self.cfg.lr}

    def done(self) -> int:
        return self.booster.current_iteration()

    def build(self, init: Any = None) -> None:
        import lightgbm as lgb  # lazy: LightGBM (~1.2 s) is loaded only when used

        params = lightgbm_params(self.opts, self.k, self.cfg.threads)
        params["metric"] = "None"  # our own feval computes loss, top-1 and top-5 from the cached scores
        dtrain = lgb.Dataset(self.x, self.y, free_raw_data=False, params={"verbosity": -1})
        valid, names = [dtrain], ["train"]
        if len(self.yv):
            valid.append(lgb.Dataset(self.xv, self.yv, reference=dtrain))
            names.append("val")
        try:  # lgb.train builds the booster exactly as it trains one; the loop driver then updates it round by round
            lgb.train(params, dtrain, num_boost_round=1, valid_sets=valid, valid_names=names, init_model=init,
                      callbacks=[_grab], keep_training_booster=True)
        except _Built as built:
            self.booster = built.booster

    def advance(self) -> tuple[tuple, tuple]:
        self.booster.update()
        got = {(d, m): v for d, m, v, _ in self.booster.eval_train(_feval) + self.booster.eval_valid(_feval)}
        return (tuple(got[("train", m)] for m in ("loss", "top1", "top5")),
                tuple(got.get(("val", m), math.nan) for m in ("loss", "top1", "top5")))

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        text = self.booster.model_to_string(num_iteration=-1).encode("utf-8")
        return {"lightgbm": {"text": torch.frombuffer(bytearray(text), dtype=torch.uint8)}}

    def restore(self, mods: dict[str, Any], s: dict[str, Any], where: Path) -> None:
        import lightgbm as lgb  # lazy: LightGBM (~1.2 s) is loaded only when used

        init = lgb.Booster(model_str=bytes(mods["lightgbm"]["text"].numpy()).decode("utf-8"))
        if init.current_iteration() != s.get("rounds"):
            raise StoreError(f"{where} holds {init.current_iteration()} rounds, its state {s.get('rounds')}; "
                             "start a new run")
        self.build(init)


class LogRegStep(ClassicalStep):
    """`iters_per_step` warm-started L-BFGS iterations of logistic regression."""

    def __init__(self, cfg: ClassicalConfig, splits) -> None:
        super().__init__(cfg, splits)
        self.epochs = self.planned = math.ceil(cfg.max_iter / cfg.iters_per_step)

    def at(self, step: int) -> int:
        return self.iters

    def finished(self) -> bool:
        return self.converged or self.iters >= self.cfg.max_iter

    def build(self, init: Any = None) -> None:
        from sklearn.linear_model import LogisticRegression  # lazy: scikit-learn (~1 s) is loaded only when used

        self.est = LogisticRegression(C=self.opts["C"], max_iter=self.cfg.iters_per_step, warm_start=True,
                                      random_state=self.opts["seed"])

    def advance(self) -> tuple[tuple, tuple]:
        from sklearn.exceptions import ConvergenceWarning  # lazy: scikit-learn (~1 s) is loaded only when used

        est = self.est
        est.max_iter = min(self.cfg.iters_per_step, self.cfg.max_iter - self.iters)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # each step stops at max_iter on purpose
            est.fit(self.x, self.y)
        done = int(np.max(est.n_iter_))
        self.iters += done
        self.converged = done < est.max_iter  # L-BFGS met its tolerance inside the step
        train = metrics_of(est.predict_proba(self.x), self.y)
        val = metrics_of(est.predict_proba(self.xv), self.yv) if len(self.yv) else (math.nan,) * 3
        return train, val

    def keep_best(self) -> None:
        self.best = (self.est.coef_.copy(), self.est.intercept_.copy())

    def modules(self) -> dict[str, dict[str, torch.Tensor]]:
        if self.est is None or not hasattr(self.est, "coef_"):
            return {}
        # ascontiguousarray: scikit-learn's coef_ is a strided view, which safetensors would write scrambled.
        arrays = {"coef": self.est.coef_, "intercept": self.est.intercept_, "best_coef": self.best[0],
                  "best_intercept": self.best[1]}
        return {"logreg": {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}}

    def restore(self, mods: dict[str, Any], s: dict[str, Any], where: Path) -> None:
        self.build()
        if "logreg" in mods:
            m = {k: v.numpy() for k, v in mods["logreg"].items()}
            self.est.coef_, self.est.intercept_ = m["coef"], m["intercept"]
            self.est.classes_ = np.arange(self.k)
            self.best = (m["best_coef"], m["best_intercept"])


def _feval(preds: np.ndarray, data) -> list[tuple[str, float, bool]]:
    labels = np.asarray(data.get_label(), np.int64)
    loss, top1, top5 = metrics_of(np.asarray(preds).reshape(len(labels), -1), labels)
    return [("loss", loss, False), ("top1", top1, True), ("top5", top5, True)]


class _Best(Monitor):
    """The best point: LightGBM keeps its rounds up to it, logistic regression a copy of its coefficients."""

    def __init__(self, step: ClassicalStep, min_delta: float) -> None:
        super().__init__("best", watched_loss, min_delta)
        self.step, self.best_step = step, 0

    def improved(self, loop: Loop, epoch: int, value: float) -> None:
        self.best_step = self.step.at(loop.st["step"])
        self.step.keep_best()

    def state(self) -> dict[str, Any]:
        return {**super().state(), "best_step": self.best_step}

    def load(self, state: dict[str, Any], modules: dict[str, dict[str, torch.Tensor]]) -> None:
        super().load(state, modules)
        self.best_step = int(state.get("best_step", 0))


def _train(cfg: ClassicalConfig, rt: Any, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
           resume: Path | None, splits, run_id: int | None) -> ClassicalResult:
    splits = splits if splits is not None else load_splits(cfg)
    classes = list(splits.train.classes)
    if len(classes) < 2:
        raise DataError("a classical baseline needs at least 2 categories; choose more with --categories")
    missing = [c for i, c in enumerate(classes) if not np.any(splits.train.labels == i)]
    if missing:
        raise DataError(f"the training split has no drawings of {', '.join(map(repr, missing[:3]))}; "
                        "ask for more drawings per class")
    fingerprint = splits.fingerprint()
    step = (LightGBMStep if cfg.model == "lightgbm" else LogRegStep)(cfg, splits)
    best = _Best(step, cfg.min_delta)
    loop = Loop(step, rt, emit, should_stop, out_dir, [best, EarlyStopping(watched_loss, cfg.min_delta, cfg.patience)])
    loop.resume(resume, classes, fingerprint, run_id or resume)
    status = loop.run(RunStarted(run_id, cfg.name, cfg.to_dict(), step.device(), step.epochs, 1, len(step.y),
                                 fingerprint, {"data_origin": splits.train.origin,
                                               "synthetic": bool(splits.train.synthetic), "classes": len(classes)}))
    return _finish(cfg, loop, step, best, splits, out_dir, run_id, status)


def _finish(cfg: ClassicalConfig, loop: Loop, step: ClassicalStep, best: _Best, splits, out_dir: Path | None,
            run_id: int | None, status: str) -> ClassicalResult:
    h, classes = loop.st["history"], list(splits.train.classes)
    points = len(h.get("epoch", []))
    summary: dict[str, Any] = {
        **loop.summary(), "model": cfg.model, "classes": len(classes), "device": step.device(),
        "epochs": points, "total_epochs": step.planned, "best_epoch": best.best_epoch,
        "steps": step.at(loop.st["step"]), "best_step": best.best_step,
        "stopped_early": bool(loop.st["stopped_early"]), "converged": bool(step.converged),
        "num_train": len(splits.train), "num_val": len(splits.val), "num_test": len(splits.test),
    }
    if points:
        b = best.best_epoch - 1 if best.best_epoch else -1
        summary.update({"train_loss": h["train/loss"][-1], "train_top1": h["train/top1"][-1],
                        "best_val_loss": best.best if math.isfinite(best.best) else None,
                        "val_top1": h["val/top1"][b], "val_top5": h["val/top5"][b]})
    lgb_text = step.booster.model_to_string(num_iteration=max(1, best.best_epoch)) if step.lightgbm and points \
        else None
    model = _save_model(cfg, loop, step, best, lgb_text, classes, run_id) if points else None
    if model is not None:
        summary["params"] = _size(model)
    loop.write_history(HISTORY_FILE)
    if status == "interrupted":
        summary["resume_from"] = {"epoch": points, "step": summary["steps"]}
        loop.interrupted(summary)
        return ClassicalResult("interrupted", summary, h, model, classes, None, out_dir, run_id)
    preds = None
    if model is not None and len(splits.test):
        probs = model.predict_proba(splits.test.images)
        labels = np.asarray(splits.test.labels, np.int64)
        loss, top1, top5 = metrics_of(probs, labels)
        summary.update({"test_loss": loss, "test_top1": top1, "test_top5": top5})

        preds = kept_predictions(splits.test, labels, classes, probs, None, None)
        if out_dir is not None:
            preds.save(out_dir / PREDICTIONS_FILE)
    loop.emit(RunFinished("done", summary))
    return ClassicalResult("done", summary, h, model, classes, preds, out_dir, run_id)


def _save_model(cfg: ClassicalConfig, loop: Loop, step: ClassicalStep, best: _Best, lgb_text: str | None,
                classes: list[str], run_id: int | None) -> ClassicalModel:
    """Write the best model (text / safetensors + model.json) and rebuild it from those files."""
    extra = {"best_epoch": best.best_epoch, "best_step": best.best_step,
             "monitor_loss": best.best if math.isfinite(best.best) else None, "run_id": run_id,
             "fingerprint": loop.st["fingerprint"], "config": cfg.to_dict()}
    out_dir = loop.out_dir
    if out_dir is None:
        return _in_memory(cfg.model, lgb_text, step.best, step.opts, classes)
    if lgb_text is not None:
        save_lightgbm(out_dir, lgb_text, step.opts, classes, extra)
    else:
        save_logreg(out_dir, step.best[0], step.best[1], step.opts, classes, extra)
    loop.emit(Checkpoint(best.best_epoch, str(out_dir), True))
    return load_classical(out_dir)


def _in_memory(name: str, lgb_text: str | None, best: Any, opts: dict[str, Any], classes: list[str]) -> ClassicalModel:
    """The same rebuilt model as load_classical gives, for a run without a folder."""
    if lgb_text is not None:
        import lightgbm as lgb  # lazy: LightGBM (~1.2 s) is loaded only when used

        return ClassicalModel(name, lgb.Booster(model_str=lgb_text), classes, {"arch": {"name": name, **opts}})
    return ClassicalModel(name, logreg_estimator(best[0], best[1], len(classes), opts), classes,
                          {"arch": {"name": name, **opts}})


def _size(model: ClassicalModel) -> int:
    """Parameters: leaves of all trees (LightGBM) or coefficients plus intercepts (logistic regression)."""
    if model.name == "lightgbm":
        text = model.estimator.model_to_string()
        return sum(int(line[11:]) for line in text.splitlines() if line.startswith("num_leaves="))
    return int(model.estimator.coef_.size + model.estimator.intercept_.size)


class _thread_limit:
    """Limit BLAS/OpenMP threads for the run (0 = leave them)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._ctl = None

    def __enter__(self) -> _thread_limit:
        if self.threads:
            self._ctl = threadpool_limits(limits=self.threads)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._ctl is not None:
            self._ctl.unregister()


def evaluate_classical_run(store: Any, run_id: int, data: str | None = None, *, categories: str | None = None,
                           per_class: int | None = None, seed: int = 0, imbalance: str | None = None,
                           strict: bool = False, **_runtime: Any):
    """A classical run's model on its rebuilt test split (rewriting predictions.npz) or on other `data`."""
    rec = store.get_run(int(run_id))
    model = load_classical(store.run_dir(rec.id, create=False))
    cfg = ClassicalConfig.from_dict(rec.config, origin=f"run {rec.id} config")
    return evaluate_with(store, rec.id, model.predict_proba, model.classes, cfg, data, categories=categories,
                         per_class=per_class, seed=seed, imbalance=imbalance, strict=strict)
