"""The `classical` kind: study 003's baselines on raw pixels, LightGBM and logistic regression (qdcore.train.classical)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdcore.artifacts import RESUME_FILE
from qdcore.fmt import percent as pct
from qdcore.kinds.classifier import _count, _g, _num, accuracy_parts
from qdcore.runs.context import RunContext
from qdcore.runs.kinds import Column, Panel, RunKind, register
from qdcore.train.classical_config import MODELS, ClassicalConfig


def train(ctx: RunContext) -> Any:
    """Boost (or iterate) to the end or an early stop; a resume continues from the folder's resume checkpoint."""
    from qdcore.train.classical import train_classical  # lazy: loads torch (~1.2 s)

    return train_classical(ctx.cfg, ctx.sink, ctx.should_stop, ctx.folder, ctx.resume_from(RESUME_FILE),
                           run_id=ctx.run_id)


def evaluate(store: Any, run_id: int, data: str | None = None, **options: Any) -> Any:
    """Predict with the run's rebuilt model on its test split (or `data`)."""
    from qdcore.train.classical import evaluate_classical_run  # lazy: loads torch (~1.2 s)

    return evaluate_classical_run(store, run_id, data, **options)


def predictor(run_dir: Path, device: str | None = None) -> tuple[Callable, list[str]]:
    """(uint8 drawings -> probabilities, class names) from the run's model files (no pickle)."""
    from qdcore.train.classical_model import load_classical  # lazy: keeps numpy out of qd --help

    model = load_classical(run_dir)
    return model.predict_proba, model.classes


def result_line(s: dict[str, Any]) -> str:
    """'test top-1 61.2% top-5 85.0% · best round 87'."""
    parts = accuracy_parts(s)
    if s.get("best_epoch"):
        parts.append(f"best {'round' if s.get('model') == 'lightgbm' else 'point'} {s['best_epoch']}"
                     + (" (early stop)" if s.get("stopped_early") else ""))
    return " · ".join(parts)


def unit(c: dict[str, Any]) -> str:
    """One point of the curve: a boosting round (LightGBM) or a chunk of --iters-per-step L-BFGS iterations."""
    return "boosting round" if c.get("model") == "lightgbm" else "L-BFGS chunk"


def _budget(c: dict[str, Any], s: dict[str, Any]) -> float | None:
    """Rounds (LightGBM) or L-BFGS iterations (logistic regression) planned."""
    return _num(c.get("n_rounds") if c.get("model") == "lightgbm" else c.get("max_iter"))


KIND = register(RunKind(
    name="classical",
    title="classical baseline",
    min_categories=2,
    epoch_unit=unit,
    config=ClassicalConfig,
    train=train,
    models=lambda: MODELS,
    evaluate=evaluate,
    predictor=predictor,
    result_line=result_line,
    rate_unit="img/s",
    panels=(
        Panel("loss", "log loss", ("train/loss", "val/loss"), colors=("cyan", "orange")),
        Panel("top1", "top-1 %", ("train/top1", "val/top1"), scale=100.0, colors=("cyan", "orange")),
    ),
    columns=(
        Column("model", "model", 9, lambda c, s: c.get("model"), _g, right=False),
        Column("params", "params", 7, lambda c, s: _num(s.get("params")), _count),
        Column("top1", "top-1", 7, lambda c, s: _num(s.get("test_top1")), pct),
        Column("lr", "lr", 7, lambda c, s: _num(c.get("lr")) if c.get("model") == "lightgbm" else None, _g),
        Column("epochs", "ep", 4, _budget, lambda v: _g(None if v is None else int(v))),
        Column("per_class", "n/cls", 6, lambda c, s: _num(c.get("per_class")),
               lambda v: "all" if v is None else _count(v)),
    ),
))
