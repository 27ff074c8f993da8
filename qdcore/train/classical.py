"""Training the classical baselines (LightGBM, logistic regression) on raw pixels, with the classifier's events.

One point of the curve is a boosting round (LightGBM) or `iters_per_step` L-BFGS iterations (logistic
regression, warm-started). Each point emits Progress and EpochEnd with training and validation loss;
early stopping watches the validation loss. Resume is exact: the resume checkpoint (one safetensors
file: LightGBM's text model as bytes or the coefficients, and the loop state as JSON metadata) holds
everything the next point depends on, so an interrupted and resumed run ends where an uninterrupted
one does. Models are written without pickle (see qdcore.train.classical_model).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qdcore.errors import DataError, StoreError
from qdcore.events import Checkpoint, EpochEnd, Progress, RunFinished, RunStarted, Sink, null_sink, reported
from qdcore.models.classical import lightgbm_params, to_features
from qdcore.paths import atomic_write_bytes
from qdcore.predictions import Predictions
from qdcore.train.artifacts import HISTORY_FILE, PREDICTIONS_FILE, RESUME_FILE
from qdcore.train.classical_config import ClassicalConfig
from qdcore.train.classical_model import ClassicalModel, load_classical, save_lightgbm, save_logreg

RESUME_FORMAT = "qd-classical-resume/1"
_HISTORY_KEYS = ("epoch", "step", "train/loss", "train/top1", "val/loss", "val/top1", "val/top5", "seconds")


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
    with reported(sink):
        return _Trainer(cfg, sink, should_stop, Path(run_dir) if run_dir is not None else None, run_id).run(
            Path(resume) if resume else None, splits)


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


class _Trainer:
    """One run: shared bookkeeping (curve, early stopping, checkpoints, events) around a model-specific loop."""

    def __init__(self, cfg: ClassicalConfig, emit: Sink, should_stop: Callable[[], bool], out_dir: Path | None,
                 run_id: int | None) -> None:
        self.cfg, self.emit, self.should_stop, self.out_dir, self.run_id = cfg, emit, should_stop, out_dir, run_id
        self.opts = cfg.model_options()
        self.status = "done"
        self.best: Any = None  # model-specific: best round (LightGBM) or best (coef, intercept)

    # -- the run ---------------------------------------------------------------------------------------

    def run(self, resume: Path | None, splits) -> ClassicalResult:
        from qdcore.data.selection import load_splits

        cfg = self.cfg
        if splits is None:
            splits = load_splits(cfg)
        self.splits = splits
        self.classes = list(splits.train.classes)
        if len(self.classes) < 2:
            raise DataError("a classical baseline needs at least 2 categories; choose more with --categories")
        missing = [c for i, c in enumerate(self.classes) if not np.any(splits.train.labels == i)]
        if missing:
            raise DataError(f"the training split has no drawings of {', '.join(map(repr, missing[:3]))}; "
                            "ask for more drawings per class")
        self.fingerprint = splits.fingerprint()
        self.x = to_features(splits.train.images)
        self.y = np.asarray(splits.train.labels, np.int64)
        self.xv = to_features(splits.val.images)
        self.yv = np.asarray(splits.val.labels, np.int64)
        self.st: dict[str, Any] = {
            "model": cfg.model, "point": 0, "step": 0, "best_point": 0, "best_step": 0, "best_loss": math.inf,
            "wait": 0, "stopped_early": False, "converged": False, "train_seconds": 0.0,
            "history": {k: [] for k in _HISTORY_KEYS}, "classes": self.classes, "fingerprint": self.fingerprint,
        }
        saved = self._load_resume(resume) if resume is not None else None
        self.points = cfg.n_rounds if cfg.model == "lightgbm" else math.ceil(cfg.max_iter / cfg.iters_per_step)
        self.emit(RunStarted(self.run_id, cfg.name, cfg.to_dict(), self._device(), self.points, 1, len(self.y),
                             self.fingerprint, {"data_origin": splits.train.origin,
                                                "synthetic": bool(splits.train.synthetic),
                                                "classes": len(self.classes)}))
        self._last_save = time.monotonic()
        with _thread_limit(cfg.threads):
            if cfg.model == "lightgbm":
                text = self._lightgbm(saved)
            else:
                text = None
                self._logreg(saved)
        return self._finish(text)

    def _device(self) -> str:
        n = self.cfg.threads
        threads = "all threads" if not n else f"{n} thread{'s' if n > 1 else ''}"
        return f"cpu ({'LightGBM' if self.cfg.model == 'lightgbm' else 'scikit-learn'}, {threads})"

    # -- bookkeeping shared by both models ---------------------------------------------------------------

    def _point(self, step: int, train: tuple[float, float, float], val: tuple[float, float, float],
               seconds: float) -> bool:
        """Record one point of the curve, emit its events, update early stopping; True when it is the best yet."""
        st, cfg = self.st, self.cfg
        st["point"] += 1
        st["step"] = step
        st["train_seconds"] += seconds
        point = st["point"]
        h = st["history"]
        for key, v in zip(_HISTORY_KEYS, (point, step, train[0], train[1], val[0], val[1], val[2], seconds)):
            h[key].append(v)
        lr = cfg.lr if cfg.model == "lightgbm" else 0.0
        self.emit(Progress(step, point, point * len(self.y), lr, train[0], len(self.y) / max(seconds, 1e-9), train[1]))
        metrics = {"train/loss": train[0], "train/top1": train[1], "train/seconds": seconds}
        if len(self.yv):
            metrics.update({"val/loss": val[0], "val/top1": val[1], "val/top5": val[2]})
        if cfg.model == "lightgbm":
            metrics["train/lr"] = lr
        self.emit(EpochEnd(point, step, seconds, metrics))
        monitor = val[0] if len(self.yv) else train[0]
        if monitor < st["best_loss"] - cfg.min_delta:
            st["best_loss"], st["best_point"], st["best_step"], st["wait"] = float(monitor), point, step, 0
            return True
        st["wait"] += 1
        if cfg.patience and st["wait"] >= cfg.patience:
            st["stopped_early"] = True
        return False

    def _save_resume(self, tensors: dict[str, np.ndarray]) -> None:
        """One atomic safetensors file: the model-specific arrays and the loop state as JSON metadata."""
        self._last_save = time.monotonic()
        if self.out_dir is None:
            return
        from safetensors.numpy import save

        doc = {"format": RESUME_FORMAT, "state": self.st}
        path = self.out_dir / RESUME_FILE
        # ascontiguousarray: scikit-learn's coef_ is a strided view, which safetensors would write scrambled.
        arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        atomic_write_bytes(path, save(arrays, metadata={"qd": json.dumps(doc)}))
        self.emit(Checkpoint(self.st["point"], str(path), False))

    def _load_resume(self, run_dir: Path) -> dict[str, np.ndarray]:
        from safetensors import safe_open

        path = run_dir / RESUME_FILE
        if not path.exists():
            raise StoreError(f"no resume checkpoint at {path}; start a new run")
        try:
            with safe_open(str(path), framework="numpy") as f:
                doc = json.loads((f.metadata() or {}).get("qd", "{}"))
                tensors = {k: np.array(f.get_tensor(k)) for k in f.keys()}
        except Exception as e:  # noqa: BLE001 - safetensors raises several types for a bad header
            raise StoreError(f"{path} is not a readable resume checkpoint ({type(e).__name__}); "
                             "start a new run") from None
        if doc.get("format") != RESUME_FORMAT:
            raise StoreError(f"{path} is not a classical resume checkpoint; start a new run instead of resuming")
        s = doc["state"]
        if s.get("model") != self.cfg.model:
            raise StoreError(f"{path} continues a {s.get('model')} model, not {self.cfg.model}; start a new run")
        if s.get("classes") != self.classes or s.get("fingerprint") != self.fingerprint:
            raise StoreError(f"the drawings selected now differ from those run {self.run_id or run_dir} trained on "
                             "(data changed?); start a new run instead of resuming")
        self.st.update(s)
        return tensors

    def _stop_now(self) -> bool:
        if self.should_stop():
            self.status = "interrupted"
            return True
        return False

    # -- LightGBM ---------------------------------------------------------------------------------------

    def _lightgbm(self, saved: dict[str, np.ndarray] | None) -> str:
        """Boost round by round; returns the best model's text."""
        import lightgbm as lgb

        cfg, st = self.cfg, self.st
        params = lightgbm_params(self.opts, len(self.classes), cfg.threads)
        params["metric"] = "None"  # our own feval computes loss, top-1 and top-5 from the cached scores
        init = None
        if saved is not None and "lightgbm" in saved:
            init = lgb.Booster(model_str=saved["lightgbm"].tobytes().decode("utf-8"))
            if init.current_iteration() != st["point"]:
                raise StoreError(f"the resume checkpoint holds {init.current_iteration()} rounds, its state "
                                 f"{st['point']}; start a new run")
        self.best = st["best_point"]
        remaining = cfg.n_rounds - st["point"]
        if remaining > 0 and not st["stopped_early"]:
            dtrain = lgb.Dataset(self.x, self.y, free_raw_data=False, params={"verbosity": -1})
            valid, names = [dtrain], ["train"]
            if len(self.yv):
                valid.append(lgb.Dataset(self.xv, self.yv, reference=dtrain))
                names.append("val")
            last = [time.perf_counter()]

            def feval(preds: np.ndarray, data) -> list[tuple[str, float, bool]]:
                labels = np.asarray(data.get_label(), np.int64)
                p = np.asarray(preds).reshape(len(labels), -1)
                loss, top1, top5 = metrics_of(p, labels)
                return [("loss", loss, False), ("top1", top1, True), ("top5", top5, True)]

            def callback(env) -> None:
                now = time.perf_counter()
                seconds, last[0] = now - last[0], now
                got = {(d, m): v for d, m, v, _ in env.evaluation_result_list}
                train = tuple(got[("train", m)] for m in ("loss", "top1", "top5"))
                val = tuple(got.get(("val", m), math.nan) for m in ("loss", "top1", "top5"))
                if self._point(env.iteration + 1, train, val, seconds):
                    self.best = st["point"]
                interrupted = self._stop_now()
                if interrupted or time.monotonic() - self._last_save >= cfg.checkpoint_seconds:
                    self._save_resume(_text_tensor(env.model.model_to_string(num_iteration=-1)))
                if interrupted or st["stopped_early"]:
                    # LightGBM's own way out of its loop: it returns the booster with every tree built so far.
                    raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)
                last[0] = time.perf_counter()  # checkpoint time is not training time

            booster = lgb.train(params, dtrain, num_boost_round=remaining, valid_sets=valid, valid_names=names,
                                init_model=init, feval=feval, callbacks=[callback], keep_training_booster=True)
        else:
            booster = init
        if booster is None:
            raise StoreError("the LightGBM run has no rounds to continue from; start a new run")
        return booster.model_to_string(num_iteration=max(1, self.best))

    # -- logistic regression ----------------------------------------------------------------------------

    def _logreg(self, saved: dict[str, np.ndarray] | None) -> None:
        """Warm-started L-BFGS, `iters_per_step` iterations at a time; the best coefficients are kept."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        cfg, st = self.cfg, self.st
        est = LogisticRegression(C=self.opts["C"], max_iter=cfg.iters_per_step, warm_start=True,
                                 random_state=self.opts["seed"])
        if saved is not None and "coef" in saved:
            est.coef_, est.intercept_ = saved["coef"], saved["intercept"]
            est.classes_ = np.arange(len(self.classes))
        if saved is not None and "best_coef" in saved:
            self.best = (saved["best_coef"], saved["best_intercept"])
        while st["step"] < cfg.max_iter and not st["stopped_early"] and not st["converged"]:
            est.max_iter = min(cfg.iters_per_step, cfg.max_iter - st["step"])
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # each step stops at max_iter on purpose
                est.fit(self.x, self.y)
            seconds = time.perf_counter() - t0
            done = int(np.max(est.n_iter_))
            st["converged"] = done < est.max_iter  # L-BFGS met its tolerance inside the step
            train = metrics_of(est.predict_proba(self.x), self.y)
            val = metrics_of(est.predict_proba(self.xv), self.yv) if len(self.yv) else (math.nan,) * 3
            if self._point(st["step"] + done, train, val, seconds):
                self.best = (est.coef_.copy(), est.intercept_.copy())
            self._save_resume({"coef": est.coef_, "intercept": est.intercept_,
                               "best_coef": self.best[0], "best_intercept": self.best[1]})
            if self._stop_now():
                break

    # -- the end ----------------------------------------------------------------------------------------

    def _finish(self, lgb_text: str | None) -> ClassicalResult:
        cfg, st, splits = self.cfg, self.st, self.splits
        h = st["history"]
        summary: dict[str, Any] = {
            "model": cfg.model, "classes": len(self.classes), "device": self._device(),
            "epochs": st["point"], "total_epochs": self.points, "best_epoch": st["best_point"],
            "steps": st["step"], "best_step": st["best_step"], "stopped_early": bool(st["stopped_early"]),
            "converged": bool(st["converged"]), "train_seconds": st["train_seconds"],
            # drawings through the model per second of training (one pass per round or point)
            "images_per_second": st["point"] * len(self.y) / st["train_seconds"] if st["train_seconds"] > 0 else 0.0,
            "num_train": len(splits.train), "num_val": len(splits.val), "num_test": len(splits.test),
            "fingerprint": self.fingerprint,
        }
        if st["point"]:
            b = st["best_point"] - 1 if st["best_point"] else -1
            summary.update({"train_loss": h["train/loss"][-1], "train_top1": h["train/top1"][-1],
                            "best_val_loss": st["best_loss"] if math.isfinite(st["best_loss"]) else None,
                            "val_top1": h["val/top1"][b], "val_top5": h["val/top5"][b]})
        model = self._save_model(lgb_text) if st["point"] else None
        if model is not None:
            summary["params"] = _size(model)
        if self.out_dir is not None:
            atomic_write_bytes(self.out_dir / HISTORY_FILE, (json.dumps(h, indent=1) + "\n").encode())
        if self.status == "interrupted":
            summary["resume_from"] = {"epoch": st["point"], "step": st["step"]}
            self.emit(RunFinished("interrupted", summary))
            return ClassicalResult("interrupted", summary, h, model, self.classes, None, self.out_dir, self.run_id)
        preds = None
        if model is not None and len(splits.test):
            probs = model.predict_proba(splits.test.images)
            labels = np.asarray(splits.test.labels, np.int64)
            loss, top1, top5 = metrics_of(probs, labels)
            summary.update({"test_loss": loss, "test_top1": top1, "test_top5": top5})
            from qdcore.train.evaluate import kept_predictions

            preds = kept_predictions(splits.test, labels, self.classes, probs, None, None)
            if self.out_dir is not None:
                preds.save(self.out_dir / PREDICTIONS_FILE)
        self.emit(RunFinished("done", summary))
        return ClassicalResult("done", summary, h, model, self.classes, preds, self.out_dir, self.run_id)

    def _save_model(self, lgb_text: str | None) -> ClassicalModel:
        """Write the best model (text / safetensors + model.json) and rebuild it from those files."""
        st = self.st
        extra = {"best_epoch": st["best_point"], "best_step": st["best_step"], "monitor_loss": st["best_loss"],
                 "run_id": self.run_id, "fingerprint": self.fingerprint, "config": self.cfg.to_dict()}
        if self.out_dir is None:
            return _in_memory(self.cfg.model, lgb_text, self.best, self.opts, self.classes)
        if lgb_text is not None:
            save_lightgbm(self.out_dir, lgb_text, self.opts, self.classes, extra)
        else:
            save_logreg(self.out_dir, self.best[0], self.best[1], self.opts, self.classes, extra)
        self.emit(Checkpoint(st["best_point"], str(self.out_dir), True))
        return load_classical(self.out_dir)


def _text_tensor(text: str) -> dict[str, np.ndarray]:
    return {"lightgbm": np.frombuffer(text.encode("utf-8"), np.uint8).copy()}


def _in_memory(name: str, lgb_text: str | None, best: Any, opts: dict[str, Any], classes: list[str]) -> ClassicalModel:
    """The same rebuilt model as load_classical gives, for a run without a folder."""
    from qdcore.train.classical_model import logreg_estimator

    if lgb_text is not None:
        import lightgbm as lgb

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

    def __enter__(self) -> "_thread_limit":
        if self.threads:
            from threadpoolctl import threadpool_limits

            self._ctl = threadpool_limits(limits=self.threads)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._ctl is not None:
            self._ctl.unregister()


def evaluate_classical_run(store: Any, run_id: int, data: str | None = None, *, categories: str | None = None,
                           per_class: int | None = None, seed: int = 0, imbalance: str | None = None,
                           **_runtime: Any):
    """A classical run's model on its rebuilt test split (rewriting predictions.npz) or on other `data`."""
    from qdcore.train.evaluate import evaluate_with

    rec = store.get_run(int(run_id))
    model = load_classical(store.run_dir(rec.id, create=False))
    cfg = ClassicalConfig.from_dict(rec.config, origin=f"run {rec.id} config")
    return evaluate_with(store, rec.id, model.predict_proba, model.classes, cfg, data, categories=categories,
                         per_class=per_class, seed=seed, imbalance=imbalance)
