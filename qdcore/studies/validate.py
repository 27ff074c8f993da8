"""Check every trial of a study before any starts: options, values, models and the data each selection needs."""

from __future__ import annotations

from typing import Any

from qdcore.errors import ConfigError, QDError
from qdcore.studies.spec import StudySpec, Trial, expand


def build_trial_config(trial: Trial, origin: str):
    """The checked, prepared run config of one trial, of its kind (ConfigError naming the trial otherwise)."""
    from qdcore.runs.kinds import find_kind, get_kind
    from qdcore.runs.run import prepare

    where = f"{origin}, trial {trial.index + 1} ({_label(trial.params)})"
    try:
        kind = get_kind(trial.kind)
        if kind is find_kind("study"):  # the registry's entry, looked up: importing it would be a cycle
            raise ConfigError("a study's trials cannot be studies")
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
    """Each distinct selection: categories exist in its data, enough drawings per class."""
    from qdcore.data.categories import parse_categories
    from qdcore.data.drawingset import parse_ratios
    from qdcore.data.opener import open_source

    sources: dict[str, Any] = {}
    seen: set[tuple] = set()
    for trial, cfg in pairs:
        key = (cfg.data, cfg.categories, cfg.per_class, cfg.imbalance)
        if key in seen:
            continue
        seen.add(key)
        where = f"{spec.origin}, trial {trial.index + 1} ({_label(trial.params)})"
        try:
            if cfg.data not in sources:
                sources[cfg.data] = open_source(cfg.data)
            src = sources[cfg.data]
            available = src.categories()
            chosen = parse_categories(cfg.categories, allowed=available) if cfg.categories else list(available)
            missing = [c for c in chosen if c not in available]
            if missing:
                raise ConfigError(f"{where}: data {cfg.data!r} has no drawings of "
                                  f"{', '.join(repr(m) for m in missing)} (it holds {len(available)} categories; "
                                  "pass --categories or a pool of categories it has)")
            ratios = parse_ratios(cfg.imbalance)
            for k in ratios:
                if k not in chosen:
                    raise ConfigError(f"{where}: imbalance names {k!r}, which is not among the chosen categories")
            if cfg.per_class is not None:
                for c in chosen:
                    need = max(1, int(round(cfg.per_class * ratios.get(c, 1.0))))
                    if need > src.count(c):
                        raise ConfigError(f"{where}: per_class {need} of {c!r} but data {cfg.data!r} has "
                                          f"{src.count(c)}; lower per_class or use other data")
        except ConfigError:
            raise
        except QDError as e:
            raise ConfigError(f"{where}: {e}") from None
