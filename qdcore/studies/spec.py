"""Study specs (TOML): a base config, axes over any run option, named variants and seeds, expanded to trials."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcore.data.categories import suggest
from qdcore.docfile import read_document
from qdcore.errors import ConfigError
from qdcore.options import MAX_SEED
from qdcore.runs.kinds import DEFAULT_KIND, find_kind, kind_for_model
from qdcore.studies.stages import check_stages

# Axes that change the drawings a trial sees: expanded outermost, so trials sharing a selection run together.
SELECTION_KEYS = ("data", "categories", "per_class", "imbalance", "val", "test", "balanced_test")
SPEC_KEYS = ("name", "description", "kind", "seeds", "pool", "minority", "min_steps", "equal_epochs", "base", "axes",
             "variants", "paper", "then")
# Bounds checked before anything is expanded, so a hostile spec is one line at once, not minutes or a MemoryError.
MAX_SEEDS = 1000  # seeds = N repeats every trial N times
MAX_AXIS = 1000  # values of one axis, variants, pool categories
MAX_TRIALS = 10_000  # the default --max-trials: the product of axes, seeds and variants


@dataclass
class StudySpec:
    """A grid of runs: base options, axes (option -> values), variants (named option sets), seeds."""

    name: str
    base: dict[str, Any] = field(default_factory=dict)
    axes: dict[str, list[Any]] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)  # each: {"name": ..., option: value, ...}
    seeds: list[int] = field(default_factory=lambda: [0])
    pool: list[str] | None = None  # categories an integer `categories` value draws from (its first N)
    minority: str | None = None  # category a numeric `imbalance` value shrinks (e.g. hammer=0.002)
    kind: str = DEFAULT_KIND
    description: str = ""
    paper: dict[str, Any] = field(default_factory=dict)  # the paper's figures, for named studies
    min_steps: int | None = None  # each trial trains at least this many optimizer steps (epochs raised to reach it)
    # With min_steps: the epochs are those the base's batch size needs for min_steps, the same for every trial
    # whatever its own batch, as a fixed-epoch protocol compares batch sizes (at equal epochs, not equal steps).
    equal_epochs: bool = False
    then: list[dict[str, Any]] = field(default_factory=list)  # later stages using earlier runs (studies.stages)
    origin: str = "spec"
    max_trials: int = MAX_TRIALS  # the grid is refused, before expansion, beyond this many trials

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored as the study run's config)."""
        return {"name": self.name, "description": self.description, "kind": self.kind, "base": self.base,
                "axes": self.axes, "variants": self.variants, "seeds": self.seeds, "pool": self.pool,
                "minority": self.minority, "min_steps": self.min_steps,
                "equal_epochs": self.equal_epochs, "paper": self.paper, "then": self.then}

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "spec") -> StudySpec:
        """Build from a parsed TOML/JSON document; unknown top-level keys are an error."""
        for key in d:
            if key not in SPEC_KEYS:
                raise ConfigError(f"{origin}: unknown study key {key!r}{suggest(key, list(SPEC_KEYS))}; "
                                  f"a spec holds {', '.join(SPEC_KEYS)}")
        for key in ("name", "description", "kind", "minority"):
            if d.get(key) is not None and not isinstance(d[key], str):  # null: unset (a stored spec's minority)
                raise ConfigError(f"{origin}: {key} = {_short(d[key])} must be a string")
        name = str(d.get("name") or Path(origin).stem or "study")
        base, axes, variants = d.get("base", {}), d.get("axes", {}), d.get("variants", [])
        if not isinstance(base, dict):
            raise ConfigError(f"{origin}: [base] must be a table of run options")
        if not isinstance(axes, dict) or not all(isinstance(v, list) and v for v in axes.values()):
            raise ConfigError(f"{origin}: [axes] must map each option to a non-empty list of values, "
                              "e.g. width = [4, 8]")
        for k, v in axes.items():
            if len(v) > MAX_AXIS:
                raise ConfigError(f"{origin}: axis {k} has {len(v):,} values; an axis holds at most {MAX_AXIS:,}")
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            raise ConfigError(f"{origin}: variants must be a list of tables ([[variants]] name = ...)")
        if len(variants) > MAX_AXIS:
            raise ConfigError(f"{origin}: {len(variants):,} variants; a study has at most {MAX_AXIS:,}")
        for i, v in enumerate(variants):
            if not isinstance(v.get("name"), str) or not v["name"]:
                raise ConfigError(f"{origin}: variant {i + 1} needs a name")
        seeds = _seeds(d.get("seeds", [0]), origin)
        claims = (d.get("paper") or {}).get("claims", []) if isinstance(d.get("paper"), dict) else []
        if not isinstance(claims, list):
            raise ConfigError(f"{origin}: paper.claims must be a list of tables ([[paper.claims]] kind = ...)")
        from qdcore.studies.claims import Claim  # lazy: keeps qdcore.studies.fit out of qd --help

        for i, c in enumerate(claims):
            Claim.from_dict(c, f"{origin}: claim {i + 1}")
        min_steps = d.get("min_steps")
        if min_steps is not None and (isinstance(min_steps, bool) or not isinstance(min_steps, int) or min_steps < 1):
            raise ConfigError(f"{origin}: min_steps={min_steps!r} must be a whole number >= 1 (optimizer steps)")
        equal_epochs = d.get("equal_epochs", False)
        if not isinstance(equal_epochs, bool):
            raise ConfigError(f"{origin}: equal_epochs = {_short(equal_epochs)} must be true or false")

        then = check_stages(d.get("then"), origin)
        pool = d.get("pool")
        if isinstance(pool, str):
            pool = [c.strip() for c in pool.split(",") if c.strip()]
        if pool is not None and (not isinstance(pool, list) or not all(isinstance(c, str) for c in pool)):
            raise ConfigError(f"{origin}: pool = {_short(pool)} must be a list of category names, "
                              'e.g. pool = ["cat", "dog"]')
        if pool is not None and len(pool) > MAX_AXIS:
            raise ConfigError(f"{origin}: pool has {len(pool):,} categories; at most {MAX_AXIS:,}")
        paper = d.get("paper", {})
        if not isinstance(paper, dict):
            raise ConfigError(f"{origin}: paper = {_short(paper)} must be a table of the paper's figures")
        return cls(name=name, base={k.replace("-", "_"): v for k, v in base.items()},
                   axes={k.replace("-", "_"): v for k, v in axes.items()}, variants=[dict(v) for v in variants],
                   seeds=seeds, pool=pool, minority=d.get("minority"), kind=str(d.get("kind", DEFAULT_KIND)),
                   description=str(d.get("description", "")), paper=dict(paper), min_steps=min_steps,
                   equal_epochs=equal_epochs,
                   then=then,
                   origin=origin)

    def size(self) -> int:
        """How many trials the grid and its later stages expand to (counted, not expanded)."""
        total = 0
        for axes, variants in [(self.axes, self.variants)] + [(s.get("axes") or {}, s.get("variants") or [])
                                                               for s in self.then]:
            n = len(self.seeds) * max(1, len(variants) if isinstance(variants, list) else 1)
            for values in axes.values() if isinstance(axes, dict) else ():
                n *= len(values) if isinstance(values, list) else 1
            total += n
        return total

    def check_size(self) -> None:
        """Refuse a grid of more than `max_trials` trials before it is expanded."""
        n, max_trials = self.size(), self.max_trials
        if n > max_trials:
            parts = [f"{len(v):,} {k}" for k, v in self.axes.items()] + [f"{len(self.seeds):,} seeds"]
            if self.variants:
                parts.append(f"{len(self.variants):,} variants")
            if self.then:
                parts[-1] += f", and {len(self.then)} later stages"
            raise ConfigError(f"{self.origin}: {n:,} trials ({' x '.join(parts)}), more than --max-trials "
                              f"{max_trials:,}; shrink the grid or raise --max-trials")


def _short(v: Any) -> str:
    """A value for an error line, cut short."""
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _seeds(seeds: Any, origin: str) -> list[int]:
    """`seeds = 3` (0, 1, 2) or a list of seeds, bounded before any list is built."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_SEEDS:
            raise ConfigError(f"{origin}: seeds = {_short(seeds)}; give 1 to {MAX_SEEDS:,} seeds")
        return list(range(seeds))  # seeds = 3 means 0, 1, 2
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           and 0 <= s <= MAX_SEED for s in seeds):
        raise ConfigError(f"{origin}: seeds = {_short(seeds)} must be a count or a list of whole numbers "
                          f"0..{MAX_SEED}")
    if len(seeds) > MAX_SEEDS:
        raise ConfigError(f"{origin}: {len(seeds):,} seeds; give at most {MAX_SEEDS:,}")
    return list(seeds)


@dataclass(frozen=True)
class Trial:
    """One point of the grid: its axis values (table columns) and the options of its run."""

    index: int
    params: dict[str, Any]
    kind: str
    options: dict[str, Any]


def load_spec(path: str | Path) -> StudySpec:
    """Read a study spec from a TOML (or .json) file; one-line errors naming the file."""
    p = Path(path).expanduser()
    doc = read_document(p, "study spec", hint="; give a TOML file or a named study (see 'qd study named')")
    return StudySpec.from_dict(doc, origin=str(p))


def _ordered_axes(spec: StudySpec) -> list[str]:
    sel = [k for k in SELECTION_KEYS if k in spec.axes]
    return sel + [k for k in spec.axes if k not in sel]


def expand(spec: StudySpec) -> list[Trial]:
    """The grid in run order: selection axes, then seeds, then the other axes, then variants (refused beyond
    spec.max_trials before any trial is made)."""
    spec.check_size()
    names = _ordered_axes(spec)
    sel = [k for k in names if k in SELECTION_KEYS]
    rest = [k for k in names if k not in SELECTION_KEYS]
    variants: list[dict[str, Any] | None] = [*spec.variants] or [None]
    out: list[Trial] = []
    for sel_vals in itertools.product(*(spec.axes[k] for k in sel)):
        for seed in spec.seeds:
            for rest_vals in itertools.product(*(spec.axes[k] for k in rest)):
                for variant in variants:
                    params: dict[str, Any] = {}
                    if variant is not None:
                        params["variant"] = variant["name"]
                    params.update(zip(sel, sel_vals))
                    params.update(zip(rest, rest_vals))
                    if len(spec.seeds) > 1 or "seed" in spec.base:
                        params["seed"] = seed
                    options = dict(spec.base)
                    if variant is not None:
                        options.update({k.replace("-", "_"): v for k, v in variant.items() if k != "name"})
                    options.update(zip(sel, sel_vals))
                    options.update(zip(rest, rest_vals))
                    options.setdefault("seed", seed)
                    if len(spec.seeds) > 1:
                        options["seed"] = seed
                    kind = str(options.pop("kind", None) or _kind_of(spec.kind, options.get("model")))
                    out.append(Trial(len(out), params, kind, _resolve(spec, options)))
    return out


def _kind_of(kind: str, model: Any) -> str:
    """The spec's kind, or the kind that owns a trial's model when the spec's does not (an axis over models may mix
    bitmap CNNs and stroke models; each trial then runs as its model's kind)."""
    own = find_kind(kind)
    if not isinstance(model, str) or own is None or own.owns(model):
        return kind
    owner = kind_for_model(model)
    return kind if owner is None else owner.name


def _resolve(spec: StudySpec, options: dict[str, Any]) -> dict[str, Any]:
    """Turn study shorthands into run options: an integer `categories` is the first N of the pool, a number
    `imbalance` is the minority's ratio."""
    opts = dict(options)
    cats = opts.get("categories")
    if isinstance(cats, int) and not isinstance(cats, bool):
        pool = spec.pool or _as_list(spec.base.get("categories"))
        if not pool:
            raise ConfigError(f"{spec.origin}: categories = {cats} needs a pool: set pool = [...] or "
                              "base.categories to the categories it draws from")
        if not 1 <= cats <= len(pool):
            raise ConfigError(f"{spec.origin}: categories = {cats} is beyond the pool's {len(pool)} categories; "
                              f"use 1..{len(pool)} or add categories to the pool")
        opts["categories"] = ",".join(pool[:cats])
    imb = opts.get("imbalance")
    if isinstance(imb, (int, float)) and not isinstance(imb, bool):
        if not spec.minority:
            raise ConfigError(f"{spec.origin}: imbalance = {imb} needs minority = \"CATEGORY\" (the class it shrinks)")
        opts["imbalance"] = f"{spec.minority}={imb:g}"
    elif isinstance(imb, str) and spec.minority and "=" not in imb:
        opts["imbalance"] = f"{spec.minority}={imb}"
    if spec.min_steps:
        # equal_epochs: counted at the base's batch size, so a variant's own batch changes its steps, not its epochs
        per_epoch = steps_per_epoch({**opts, "batch_size": spec.base.get("batch_size")} if spec.equal_epochs else opts)
        if per_epoch:
            opts["epochs"] = max(int(opts.get("epochs", 1)), -(-spec.min_steps // per_epoch))
    return opts


def steps_per_epoch(opts: dict[str, Any]) -> int | None:
    """Optimizer steps in one epoch of a trial's options (categories, per_class, imbalance, val/test, batch), or
    None where the training set's size depends on the data (no per_class or categories)."""
    # lazy: numpy (~0.1 s) is not needed to list runs or studies
    from qdcore.data.drawingset import parse_ratios, split_counts

    cats, per, batch = _as_list(opts.get("categories")), opts.get("per_class"), opts.get("batch_size")
    if not cats or not isinstance(per, int) or not isinstance(batch, int) or batch < 1:
        return None
    ratios = parse_ratios(opts.get("imbalance"))
    test = 0.0 if opts.get("balanced_test") else float(opts.get("test", 0.1))
    train = sum(split_counts(max(1, int(round(per * ratios.get(c, 1.0)))), float(opts.get("val", 0.1)), test)[0]
                for c in cats)
    if train > batch and train % batch == 1:
        train -= 1  # the engine drops a last batch of one
    return max(1, -(-train // batch))


def _as_list(v: Any) -> list[str]:
    if isinstance(v, str):
        return [c.strip() for c in v.split(",") if c.strip()]
    return list(v) if isinstance(v, (list, tuple)) else []
