"""Training classifiers: TrainConfig, train(), start_run(), checkpoints. Torch loads on first use of train()."""

from __future__ import annotations

import importlib
from typing import Any

from qdcore.train.config import PRESETS, TrainConfig, build_config, load_toml, preset

__all__ = ["TrainConfig", "PRESETS", "build_config", "load_toml", "preset", "train", "TrainResult", "start_run",
           "resume_run", "save_model", "load_model", "evaluate_run"]

_LAZY = {"train": "engine", "TrainResult": "engine", "start_run": "runner", "resume_run": "runner",
         "save_model": "checkpoint", "load_model": "checkpoint", "evaluate_run": "evaluate"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"qdcore.train.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'qdcore.train' has no attribute {name!r}")
