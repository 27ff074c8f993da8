"""Staged studies: trials that use earlier trials' runs (a GAN's samples, a judge, a model to analyse).

A spec's `then` is a list of stages, each a table with its own `variants` (and optional `axes`, `base`) and
`refs`: option -> the variant name of an earlier trial whose run id the option takes, per seed. For example
study 001's augmentation: an AC-GAN trial first, then classifiers with `synthetic` = that seed's GAN run:

    [[variants]]
    name = "AC-GAN"
    kind = "gan"
    [[then]]
    refs = { synthetic = "AC-GAN" }
    variants = [{ name = "real" }, { name = "gan 30%", synthetic_fraction = 0.3 }]

A stage's trials are checked and added when every earlier trial has finished, so their options name real
runs (a GAN that exists, a judge that is trained); a seed whose referenced trial failed gets no trials of
the stage, and the study's notes say so.
"""

from __future__ import annotations

from typing import Any

from qdcore.data.categories import suggest
from qdcore.errors import ConfigError

STAGE_KEYS = ("variants", "axes", "base", "refs")


def check_stages(then: Any, origin: str) -> list[dict[str, Any]]:
    """The `then` list checked for shape (one-line ConfigError otherwise); options are checked when it runs."""
    if then is None:
        return []
    if not isinstance(then, list) or not all(isinstance(s, dict) for s in then):
        raise ConfigError(f"{origin}: then must be a list of stage tables ([[then]] refs = ..., variants = ...)")
    for i, stage in enumerate(then, 1):
        for key in stage:
            if key not in STAGE_KEYS:
                raise ConfigError(f"{origin}: stage {i}: unknown key {key!r}{suggest(key, list(STAGE_KEYS))}; a "
                                  f"stage holds {', '.join(STAGE_KEYS)}")
        refs = stage.get("refs", {})
        if not isinstance(refs, dict) or not refs or not all(isinstance(v, str) and v for v in refs.values()):
            raise ConfigError(f"{origin}: stage {i} needs refs = {{ OPTION = \"VARIANT\" }}: the earlier trial whose "
                              "run each option takes")
    return [dict(s) for s in then]


def stage_spec(spec: Any, index: int, seed: int, runs: dict[str, int]) -> Any:
    """The grid of one stage for one seed: the study's base and selection, the stage's variants, each ref set
    to the run id of that seed's trial of the named variant."""
    stage = spec.then[index]
    base = {**spec.base, **stage.get("base", {})}
    for option, variant in stage["refs"].items():
        base[option] = runs[variant]
    return type(spec)(name=spec.name, base=base, axes=dict(stage.get("axes", {})),
                     variants=[dict(v) for v in stage.get("variants", [])], seeds=[seed], pool=spec.pool,
                     minority=spec.minority, kind=spec.kind, min_steps=spec.min_steps,
                     equal_epochs=spec.equal_epochs, origin=f"{spec.origin}, stage {index + 2}")
