"""A study config's grid: a named study on the config's data, or a spec file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError
from qdcore.studies.spec import load_spec


def build_spec(cfg: Any):
    """(StudySpec, notes) of a study config: a named study on the config's data, or a spec file."""
    from qdcore.studies.named import NAMED, named_spec  # lazy: keeps the named studies out of qd --help

    if not cfg.spec:
        raise ConfigError("a study needs a spec: a TOML file or a named study (see 'qd study named')")
    if cfg.spec.strip().lower() in NAMED and not Path(cfg.spec).exists():
        cats = [c.strip() for c in cfg.categories.split(",") if c.strip()] if cfg.categories else None
        spec, notes = named_spec(cfg.spec, quick=cfg.quick, data=cfg.source(), categories=cats, seeds=cfg.seeds)
    else:
        spec, notes = load_spec(cfg.spec), []
        if cfg.seeds:
            spec.seeds = list(range(cfg.seeds))
    spec.max_trials = cfg.max_trials
    spec.check_size()
    return spec, notes
