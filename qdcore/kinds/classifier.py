"""The `classifier` kind: neural networks of the model zoo trained by qdcore.train.engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError
from qdcore.fmt import DASH, percent
from qdcore.models import build_model
from qdcore.runs.context import RunContext
from qdcore.runs.kinds import JUDGE, Column, Panel, RunKind, register
from qdcore.train.config import PRESETS, TrainConfig, classifier_names

MAX_PARAMS = 50_000_000  # 200 MB of float32 weights; the resume checkpoint holds about three times that
ALL_CATEGORIES = 345  # Quick, Draw!'s categories: the widest head a selection can ask for


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _g(v: Any) -> str:
    return DASH if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _count(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return DASH
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{unit}" if n / div < 100 else f"{n / div:.0f}{unit}"
    return f"{n:.0f}"


def _classes_of(cfg: TrainConfig) -> int:
    """How many classes the selection can have, without reading any data (an upper bound for sizes)."""
    if cfg.categories and "," in cfg.categories:
        return max(2, len([c for c in cfg.categories.split(",") if c.strip()]))
    return ALL_CATEGORIES


def prepare(cfg: TrainConfig, ctx: RunContext | None = None) -> TrainConfig:
    """Check the model options and its size (on the meta device: nothing allocated), store the values used."""
    import torch  # lazy: torch (~1.2 s) is loaded only when used

    from qdcore.train.synthetic import check_synthetic  # lazy: keeps numpy out of qd --help

    # A --synthetic run of the run's store that is no GAN, or cannot draw the classes, fails before the row.
    check_synthetic(cfg, ctx.store if ctx is not None else None)
    if cfg.device_memory:  # a budget that cannot hold a batch (auto: the smallest, 2) fails before the row, too
        from qdcore.train.stream import StreamData  # lazy: loads torch (~1.2 s)

        StreamData.check_budget(cfg.device_memory * 2**30, cfg.batch_size or 2)

    with torch.device("meta"):
        model = build_model(cfg.model, _classes_of(cfg), **cfg.model_options())
    params = int(sum(p.numel() for p in model.parameters()))
    if params > MAX_PARAMS:
        raise ConfigError(f"model {cfg.model} with these options has {params:,} parameters (a "
                          f"{params * 4 / 2**20:,.0f} MB checkpoint); the limit is {MAX_PARAMS:,}: use a smaller "
                          "--width, --kernel or depth")
    arch = dict(getattr(model, "arch", {}))
    used = {"width": arch.get("width"), "kernel": arch.get("kernel"), "pooling": arch.get("pool"),
            "batch_norm": arch.get("batch_norm"), "dropout": arch.get("dropout"), "init": arch.get("init")}
    fill = {k: v for k, v in used.items() if getattr(cfg, k) is None and v is not None
            and _fits(k, v)}
    return cfg.replace(origin="model", **fill) if fill else cfg


def _fits(key: str, v: Any) -> bool:
    """Whether a resolved model option fits the config field (a per-block list stays in the model's own)."""
    if key in ("width", "kernel"):
        return isinstance(v, int) and not isinstance(v, bool)
    if key == "dropout":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if key == "batch_norm":
        return isinstance(v, bool)
    return isinstance(v, str)


def train(ctx: RunContext) -> Any:
    """The engine's training loop; a resume continues from the run folder's resume checkpoint if it has one."""
    from qdcore.train.checkpoint import RESUME_FILE  # lazy: loads torch (~1.2 s)
    from qdcore.train.engine import train as engine_train  # lazy: loads torch (~1.2 s)

    return engine_train(ctx.cfg, ctx.sink, ctx.should_stop, ctx.folder, ctx.resume_from(RESUME_FILE),
                        run_id=ctx.run_id, store=ctx.store)


def timing_shape(cfg: TrainConfig) -> tuple:
    """What a classifier's speed depends on besides width and classes (a study times one trial per shape)."""
    opts = {k: v for k, v in cfg.model_options().items() if k != "width"}
    # Weight decay, lr and schedules change no kernel's size: trials differing only there share a timing.
    return (cfg.model, json.dumps(opts, sort_keys=True, default=str), cfg.batch_size, cfg.optimizer, cfg.amp,
            cfg.compile, cfg.hflip, cfg.vflip, cfg.rotate, cfg.shift, cfg.eval_batch_size)


def evaluate(store: Any, run_id: int, data: str | None = None, **options: Any) -> Any:
    """Predict with the run's model on its test split (or `data`)."""
    from qdcore.train.evaluate import evaluate_run  # lazy: loads torch (~1.2 s)

    return evaluate_run(store, run_id, data, **options)


def predictor(run_dir: Path, device: str | None = None) -> tuple[Callable, list[str]]:
    """(uint8 drawings -> softmax probabilities, class names) from model.safetensors + model.json."""
    from qdcore.train.checkpoint import load_model  # lazy: loads torch (~1.2 s)
    from qdcore.train.device import resolve  # lazy: loads torch (~1.2 s)
    from qdcore.train.evaluate import predict_probs  # lazy: loads torch (~1.2 s)

    rt = resolve(device or "auto", None)
    model, meta = load_model(run_dir, rt.device)
    return (lambda images: predict_probs(model, images, rt)), list(meta["classes"])


def accuracy_parts(s: dict[str, Any]) -> list[str]:
    """A summary's accuracy for a result line: 'test top-1 91.2% top-5 99.0%', else the validation top-1."""
    if "test_top1" in s:
        return [f"test top-1 {percent(s.get('test_top1'))} top-5 {percent(s.get('test_top5'))}"]
    if "val_top1" in s:
        return [f"val top-1 {percent(s.get('val_top1'))}"]
    return []


def result_line(s: dict[str, Any]) -> str:
    """'test top-1 91.2% top-5 99.0% · best epoch 7'."""
    parts = accuracy_parts(s)
    if s.get("best_epoch"):
        parts.append(f"best epoch {s['best_epoch']}")
    return " · ".join(parts)


KIND = register(RunKind(
    name="classifier",
    title="classifier",
    min_categories=2,
    config=TrainConfig,
    train=train,
    models=classifier_names,
    presets=PRESETS,
    prepare=prepare,
    evaluate=evaluate,
    predictor=predictor,
    result_line=result_line,
    abilities=frozenset({JUDGE}),
    timing_shape=timing_shape,
    panels=(
        Panel("loss", "loss", ("step/loss", "train/loss", "val/loss"), colors=("gray", "cyan", "orange")),
        Panel("top1", "top-1 %", ("train/top1", "val/top1"), scale=100.0, colors=("cyan", "orange")),
        Panel("lr", "learning rate", ("step/lr", "train/lr"), strip=True, labels=("lr", "lr"),
              colors=("green", "green")),
    ),
    columns=(
        Column("model", "model", 9, lambda c, s: c.get("model"), _g, right=False),
        Column("params", "params", 7, lambda c, s: _num(s.get("params")), _count),
        Column("top1", "top-1", 7, lambda c, s: _num(s.get("test_top1")), percent),
        Column("lr", "lr", 7, lambda c, s: _num(c.get("lr")), _g),
        Column("epochs", "ep", 4, lambda c, s: _num(c.get("epochs")), lambda v: _g(None if v is None else int(v))),
        Column("per_class", "n/cls", 6, lambda c, s: _num(c.get("per_class")),
               lambda v: "all" if v is None else _count(v)),
        Column("batch", "bs", 5, lambda c, s: _num(c.get("batch_size")), lambda v: _g(None if v is None else int(v))),
        Column("optimizer", "opt", 6, lambda c, s: c.get("optimizer"), _g, right=False),
    ),
))
