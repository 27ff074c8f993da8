"""A study's work, counted from its spec: per trial the drawings trained (all epochs) and evaluated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from qdcore.data.categories import parse_categories
from qdcore.errors import ConfigError
from qdcore.runs.kinds import get_kind
from qdcore.studies.spec import StudySpec, expand


@dataclass(frozen=True)
class Work:
    """One trial's work: drawings trained (all epochs) and evaluated (val every epoch, test once)."""

    index: int
    params: dict[str, Any]
    kind: str
    train_images: int
    eval_images: int
    shape: tuple  # what a timing depends on besides width and classes (model, options, batch, optimizer, ...)
    width: int | None
    classes: int
    cfg: Any = field(compare=False, repr=False)

    @property
    def engine(self) -> bool:
        """Its kind says what its speed depends on, so its images/s can be timed; other kinds are not projected."""
        return get_kind(self.kind).timing_shape is not None


def _classes(cfg: Any, source: Any, where: str) -> list[str]:
    cats = parse_categories(cfg.categories) if cfg.categories else None
    if cats:
        return cats
    if source is None:
        raise ConfigError(f"{where} uses every category of its data: pass --data so the estimate can count them")
    return list(source.categories())


def _per_class(cfg: Any, cat: str, ratios: dict[str, float], source: Any, where: str) -> int:
    """Drawings of one category the trial trains and validates on."""
    if cfg.per_class is not None:
        return max(1, int(round(cfg.per_class * ratios.get(cat, 1.0))))
    if source is None:
        raise ConfigError(f"{where} takes all drawings of each category: pass --data so the estimate can count them")
    return source.count(cat) - (cfg.balanced_test or 0)


def trial_work(spec: StudySpec, source: Any = None) -> list[Work]:
    """Each trial's work, counted from its config as the engine will run it (no data read unless `source`)."""
    # lazy: numpy (~0.1 s) is not needed to list runs or studies
    from qdcore.data.drawingset import parse_ratios, split_counts
    out = []
    for t in expand(spec):
        where = f"{spec.origin}, trial {t.index + 1}"
        cfg = get_kind(t.kind).config.from_dict(t.options, origin=where)
        cats = _classes(cfg, source, where)
        ratios = parse_ratios(cfg.imbalance)
        train = val = test = 0
        for c in cats:
            a, b, d = split_counts(_per_class(cfg, c, ratios, source, where), cfg.val,
                                   0.0 if cfg.balanced_test else cfg.test)
            train, val, test = train + a, val + b, test + (cfg.balanced_test or d)
        epochs = int(getattr(cfg, "epochs", 1))
        batch = int(getattr(cfg, "batch_size", 0) or 0)
        if batch and train > batch and train % batch == 1:
            train -= 1  # the engine drops a last batch of one (batch norm needs two)
        out.append(Work(t.index, t.params, t.kind, train * epochs, val * epochs + test, _shape(get_kind(t.kind), cfg),
                        getattr(cfg, "width", None), len(cats), cfg))
    return out


def _shape(kind: Any, cfg: Any) -> tuple:
    """What a timing depends on, besides width and the number of classes (the kind says; else its config's name)."""
    if kind.timing_shape is None:
        return (type(cfg).__name__, getattr(cfg, "model", ""))
    return kind.timing_shape(cfg)
