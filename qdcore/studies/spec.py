"""Study specs (TOML): a base config, axes over any run option, named variants and seeds, expanded to trials."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError
from qdcore.runs.kinds import DEFAULT_KIND

# Axes that change the drawings a trial sees: expanded outermost, so trials sharing a selection run together.
SELECTION_KEYS = ("data", "categories", "per_class", "imbalance", "val", "test", "balanced_test")
SPEC_KEYS = ("name", "description", "kind", "seeds", "pool", "minority", "min_steps", "base", "axes", "variants",
             "paper", "then")


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
    then: list[dict[str, Any]] = field(default_factory=list)  # later stages using earlier runs (studies.stages)
    origin: str = "spec"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (stored as the study run's config)."""
        return {"name": self.name, "description": self.description, "kind": self.kind, "base": self.base,
                "axes": self.axes, "variants": self.variants, "seeds": self.seeds, "pool": self.pool,
                "minority": self.minority, "min_steps": self.min_steps, "paper": self.paper, "then": self.then}

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "spec") -> "StudySpec":
        """Build from a parsed TOML/JSON document; unknown top-level keys are an error."""
        from qdcore.data.categories import suggest

        for key in d:
            if key not in SPEC_KEYS:
                raise ConfigError(f"{origin}: unknown study key {key!r}{suggest(key, list(SPEC_KEYS))}; "
                                  f"a spec holds {', '.join(SPEC_KEYS)}")
        name = str(d.get("name") or Path(origin).stem or "study")
        base, axes, variants = d.get("base", {}), d.get("axes", {}), d.get("variants", [])
        if not isinstance(base, dict):
            raise ConfigError(f"{origin}: [base] must be a table of run options")
        if not isinstance(axes, dict) or not all(isinstance(v, list) and v for v in axes.values()):
            raise ConfigError(f"{origin}: [axes] must map each option to a non-empty list of values, "
                              "e.g. width = [4, 8]")
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            raise ConfigError(f"{origin}: variants must be a list of tables ([[variants]] name = ...)")
        for i, v in enumerate(variants):
            if not isinstance(v.get("name"), str) or not v["name"]:
                raise ConfigError(f"{origin}: variant {i + 1} needs a name")
        seeds = d.get("seeds", [0])
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = list(range(seeds))  # seeds = 3 means 0, 1, 2
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
            raise ConfigError(f"{origin}: seeds={seeds!r} must be a count or a list of whole numbers >= 0")
        claims = (d.get("paper") or {}).get("claims", []) if isinstance(d.get("paper"), dict) else []
        if not isinstance(claims, list):
            raise ConfigError(f"{origin}: paper.claims must be a list of tables ([[paper.claims]] kind = ...)")
        from qdcore.studies.claims import Claim

        for i, c in enumerate(claims):
            Claim.from_dict(c, f"{origin}: claim {i + 1}")
        min_steps = d.get("min_steps")
        if min_steps is not None and (isinstance(min_steps, bool) or not isinstance(min_steps, int) or min_steps < 1):
            raise ConfigError(f"{origin}: min_steps={min_steps!r} must be a whole number >= 1 (optimizer steps)")
        from qdcore.studies.stages import check_stages

        then = check_stages(d.get("then"), origin)
        pool = d.get("pool")
        if isinstance(pool, str):
            pool = [c.strip() for c in pool.split(",") if c.strip()]
        return cls(name=name, base={k.replace("-", "_"): v for k, v in base.items()},
                   axes={k.replace("-", "_"): v for k, v in axes.items()}, variants=[dict(v) for v in variants],
                   seeds=list(seeds), pool=pool, minority=d.get("minority"), kind=str(d.get("kind", DEFAULT_KIND)),
                   description=str(d.get("description", "")), paper=dict(d.get("paper", {})), min_steps=min_steps,
                   then=then,
                   origin=origin)


@dataclass(frozen=True)
class Trial:
    """One point of the grid: its axis values (table columns) and the options of its run."""

    index: int
    params: dict[str, Any]
    kind: str
    options: dict[str, Any]


def load_spec(path: str | Path) -> StudySpec:
    """Read a study spec from a TOML (or .json) file; one-line errors naming the file."""
    import json

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path).expanduser()
    try:
        with open(p, "rb") as f:
            doc = json.load(f) if p.suffix.lower() == ".json" else tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"study spec {str(p)!r} does not exist; give a TOML file or a named study "
                          "(see 'qd study named')") from None
    except OSError as e:
        raise ConfigError(f"cannot read study spec {str(p)!r}: {e.strerror or e}") from None
    except ValueError as e:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise ConfigError(f"study spec {str(p)!r} is not valid TOML/JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"study spec {str(p)!r} must hold a table")
    return StudySpec.from_dict(doc, origin=str(p))


def _ordered_axes(spec: StudySpec) -> list[str]:
    sel = [k for k in SELECTION_KEYS if k in spec.axes]
    return sel + [k for k in spec.axes if k not in sel]


def expand(spec: StudySpec) -> list[Trial]:
    """The grid in run order: selection axes, then seeds, then the other axes, then variants."""
    names = _ordered_axes(spec)
    sel = [k for k in names if k in SELECTION_KEYS]
    rest = [k for k in names if k not in SELECTION_KEYS]
    variants = spec.variants or [None]
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
                    kind = str(options.pop("kind", spec.kind))
                    out.append(Trial(len(out), params, kind, _resolve(spec, options)))
    return out


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
        per_epoch = steps_per_epoch(opts)
        if per_epoch:
            opts["epochs"] = max(int(opts.get("epochs", 1)), -(-spec.min_steps // per_epoch))
    return opts


def steps_per_epoch(opts: dict[str, Any]) -> int | None:
    """Optimizer steps in one epoch of a trial's options (categories, per_class, imbalance, val/test, batch), or
    None where the training set's size depends on the data (no per_class or categories)."""
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
