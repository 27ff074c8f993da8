"""Check every trial of a study before any starts: options, values, models and the data each selection needs."""

from __future__ import annotations

from typing import Any

from qdcore.errors import ConfigError, QDError
from qdcore.runs.kinds import get_kind
from qdcore.studies.spec import StudySpec, Trial, expand


def build_trial_config(trial: Trial, origin: str):
    """The checked, prepared run config of one trial, of its kind (ConfigError naming the trial otherwise)."""
    from qdcore.runs.run import prepare  # lazy: keeps the store out of qd --help

    where = f"{origin}, trial {trial.index + 1} ({_label(trial.params)})"
    try:
        kind = get_kind(trial.kind)
        if kind.parent:
            raise ConfigError(f"a study's trials cannot be {kind.name} runs (runs over other runs)")
        _, cfg = prepare(kind.config.from_dict(trial.options, origin=where))
    except ConfigError as e:
        raise ConfigError(str(e) if str(e).startswith(where) else f"{where}: {e}") from None
    except QDError as e:
        raise ConfigError(f"{where}: {e}") from None
    return cfg


def _label(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "base"


def validate(spec: StudySpec) -> list[tuple[Trial, Any]]:
    """Expand and check the whole grid; returns (trial, config) pairs or raises one ConfigError."""
    trials = expand(spec)
    if not trials:
        raise ConfigError(f"{spec.origin}: the study has no trials")
    pairs = [(t, build_trial_config(t, spec.origin)) for t in trials]
    _check_data(spec, pairs)
    return pairs


def _check_data(spec: StudySpec, pairs: list[tuple[Trial, Any]]) -> None:
    """Each distinct selection: categories exist in its data, enough drawings per class (and balanced test)."""
    from qdcore.data.drawingset import check_sizes  # lazy: numpy (~0.1 s) is not needed to list runs or studies
    from qdcore.data.opener import open_source  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    sources: dict[tuple[str, bool], Any] = {}
    seen: set[tuple] = set()
    for trial, cfg in pairs:
        key = (cfg.data, cfg.categories, cfg.per_class, cfg.imbalance, cfg.balanced_test)
        if key in seen:
            continue
        seen.add(key)
        where = f"{spec.origin}, trial {trial.index + 1} ({_label(trial.params)})"
        try:
            if (cfg.data, cfg.strict) not in sources:
                sources[cfg.data, cfg.strict] = open_source(cfg.data, strict=cfg.strict)
            check_sizes(sources[cfg.data, cfg.strict], cfg.categories, cfg.per_class, cfg.imbalance, cfg.balanced_test)
        except QDError as e:
            raise ConfigError(f"{where}: data {cfg.data!r}: {e}") from None
