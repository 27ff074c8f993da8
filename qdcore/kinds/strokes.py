"""The `strokes` kind: classifiers that read the strokes as drawn ((dx, dy, pen) rows), not the 28x28 bitmap.

Its runs train through the loop driver (qdcore.train.strokes), are stored, plotted, listed, evaluated and used by
`qd predict` as classifier runs are: the same panels, columns and result line; its predictor reads drawings.
"""

from __future__ import annotations

from typing import Any

from qdcore.data.raster_inputs import RASTERS
from qdcore.errors import ConfigError
from qdcore.kinds.classifier import KIND as CLASSIFIER
from qdcore.runs.kinds import RunKind, register
from qdcore.train.strokes_config import RASTER_CNNS, STROKE_MODELS, StrokeConfig


def prepare(cfg: StrokeConfig, ctx: Any = None) -> StrokeConfig:
    """Refuse data that holds bitmaps only before the run row exists."""
    import numpy as np  # lazy: keeps numpy out of qd --help

    from qdcore.data.opener import open_source  # lazy: keeps numpy out of qd --help
    from qdcore.train.strokes import NO_STROKES  # lazy: loads torch (~1.2 s)

    source = open_source(cfg.data)
    cats = source.categories()
    if cats and source.drawings(cats[0], np.zeros(0, np.int64)) is None:
        raise ConfigError(f"--data {cfg.data!r}: {NO_STROKES}")
    return cfg


def train(ctx: Any) -> Any:
    from qdcore.train.strokes import train_strokes  # lazy: loads torch (~1.2 s)

    return train_strokes(ctx)


def evaluate(store: Any, run_id: int, data: str | None = None, **options: Any) -> Any:
    from qdcore.train.strokes import evaluate_stroke_run  # lazy: loads torch (~1.2 s)

    return evaluate_stroke_run(store, run_id, data, **options)


def predictor(run_dir: Any, device: str | None = None) -> Any:
    from qdcore.train.strokes import stroke_predictor  # lazy: loads torch (~1.2 s)

    return stroke_predictor(run_dir, device)


def suggest(model: str, option: str) -> str | None:
    """`--model widthk --raster time`: the raster options belong to raster-widthk, so say so."""
    name = "raster-" + model.strip().lower()
    if option not in ("raster", "size") or name not in RASTER_CNNS:
        return None
    return (f"--{option} is for the strokes drawn as raster channels, which --model {model} (28x28 bitmaps) does "
            f"not read: give --model {name} --raster {'|'.join(RASTERS)}")


def network(run_dir: Any, config: dict[str, Any]) -> Any:
    """A raster-<CNN> run's zoo CNN, its meta and the channels it draws of drawings (the CAM and Hidden tabs)."""
    from qdcore.train.strokes import raster_network  # lazy: loads torch (~1.2 s)

    return raster_network(run_dir, config)


def timing_shape(cfg: StrokeConfig) -> tuple:
    """What a stroke run's speed depends on besides the classes."""
    return (cfg.model, cfg.conv, cfg.kernel, cfg.pool, cfg.hidden, cfg.layers, cfg.max_points, cfg.batch_size,
            cfg.prefix, cfg.bucket, cfg.raster, cfg.size)


KIND = register(RunKind(
    name="strokes",
    title="stroke sequence",
    min_categories=2,
    config=StrokeConfig,
    train=train,
    models=lambda: STROKE_MODELS,
    prepare=prepare,
    evaluate=evaluate,
    predictor=predictor,
    reads="drawings",
    result_line=CLASSIFIER.result_line,
    timing_shape=timing_shape,
    suggest=suggest,
    network=network,
    rate_unit="drawings/s",
    panels=CLASSIFIER.panels,
    columns=CLASSIFIER.columns,
))
