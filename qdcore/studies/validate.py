"""Check every trial of a study before any starts: options, values, models and the data each selection needs."""

from __future__ import annotations

from typing import Any

from qdcore.errors import ConfigError, QDError
from qdcore.studies.spec import StudySpec, Trial, expand


def trial_kinds() -> dict[str, Any]:
    """Run kinds a trial may be: name -> a function building its checked config from options."""
    from qdcore.train.config import TrainConfig

    kinds: dict[str, Any] = {"classifier": lambda opts, origin: TrainConfig().replace(origin=origin, **opts)}
    try:  # the classical kind lands on its own branch; a study can use it once it is there
        from qdcore.runs.kinds import get_kind  # type: ignore[import-not-found]

        kind = get_kind("classical")
        kinds["classical"] = lambda opts, origin: kind.config().replace(origin=origin, **opts) \
            if hasattr(kind.config(), "replace") else kind.config(**opts)
    except Exception:  # noqa: BLE001 - no registry or no classical kind in this qd
        pass
    return kinds


def build_trial_config(trial: Trial, origin: str):
    """The checked run config of one trial (ConfigError naming the trial on a bad option or value)."""
    kinds = trial_kinds()
    if trial.kind not in kinds:
        raise ConfigError(f"{origin}: trial kind {trial.kind!r} is not available in this qd "
                          f"(available: {', '.join(kinds)})")
    return kinds[trial.kind](trial.options, f"{origin}, trial {trial.index + 1} ({_label(trial.params)})")


def _label(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "base"


def validate(spec: StudySpec) -> list[tuple[Trial, Any]]:
    """Expand and check the whole grid; returns (trial, config) pairs or raises one ConfigError/DataError."""
    trials = expand(spec)
    if not trials:
        raise ConfigError(f"{spec.origin}: the study has no trials")
    pairs = [(t, build_trial_config(t, spec.origin)) for t in trials]
    _check_data(spec, pairs)
    _check_models(spec, pairs)
    return pairs


def _check_data(spec: StudySpec, pairs: list[tuple[Trial, Any]]) -> None:
    """Each distinct selection: categories exist in its data, enough drawings per class."""
    from qdcore.data.categories import parse_categories
    from qdcore.data.drawingset import parse_ratios
    from qdcore.data.sources import open_source

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


def _check_models(spec: StudySpec, pairs: list[tuple[Trial, Any]]) -> None:
    """Build each distinct classifier model once so a bad model option fails before the study starts."""
    import json

    from qdcore.models.registry import model_info

    seen: set[str] = set()
    for trial, cfg in pairs:
        if trial.kind != "classifier":
            continue
        n = len(cfg.categories.split(",")) if cfg.categories else 2
        key = json.dumps([cfg.model, cfg.model_options(), n], sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        where = f"{spec.origin}, trial {trial.index + 1} ({_label(trial.params)})"
        try:
            info = model_info(cfg.model)
            if info.kind != "classifier":
                raise ConfigError(f"model {cfg.model!r} is a {info.kind} model; set kind = \"{info.kind}\" "
                                  "for those trials")
            from qdcore.models.options import resolve

            resolve(info.name, info.options, cfg.model_options())  # names and types, without building torch layers
        except QDError as e:
            raise ConfigError(f"{where}: {e}") from None
