"""The `study` kind: a parent run over a grid of ordinary child runs (qdcore.studies does the work)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdcore.fmt import DASH
from qdcore.studies.build import build_spec
from qdcore.runs.context import RunContext
from qdcore.studies.spec import MAX_TRIALS
from qdcore.runs.kinds import Column, Panel, RunKind, register
from qdcore.options import RunConfig, option

PANEL = "Study"


@dataclass
class StudyConfig(RunConfig):
    """A study: a spec file or a named study, and how to run it. The data fields apply to named studies."""

    # `qd study run` and the app's form set these; `qd train` does not offer them (cli=False).
    spec: str = option("", help="A study spec (TOML) or a named study (see 'qd study named').", panel=PANEL,
                       form="Study", cli=False)
    quick: bool = option(False, help="Named studies: a small grid that runs in minutes on a CPU.", panel=PANEL,
                         form="Quick", cli=False)
    seeds: int | None = option(None, help="Repeat every trial over this many seeds.", panel=PANEL, min=1, max=1000,
                               cli=False)
    workers: int | None = option(None, help="Local worker processes (default 1; with --per-gpu: K per GPU).",
                                 panel=PANEL, min=1, max=256, form="Workers", cli=False)
    per_gpu: int | None = option(None, help="Trials at once on each GPU; ignored without CUDA.", panel=PANEL,
                                 min=1, max=64, cli=False)
    max_trials: int = option(MAX_TRIALS, help="Refuse a grid of more trials than this before expanding it.",
                             panel=PANEL, min=1, max=1_000_000, cli=False)


def default_name(cfg: StudyConfig) -> str:
    """The spec's name ('classes-rows quick'); a spec that cannot be read is refused by prepare next."""
    from qdcore.errors import QDError

    try:
        return build_spec(cfg)[0].name
    except QDError:
        return Path(cfg.spec).stem or "study"


def prepare(cfg: StudyConfig, ctx: RunContext | None = None) -> StudyConfig:
    """Check every trial before the study's row exists."""
    from qdcore.studies.validate import validate

    validate(build_spec(cfg)[0])
    return cfg


def train(ctx: RunContext) -> Any:
    """Run the study: add its trials the first time, then run the queued ones."""
    from qdcore.studies.runner import add_grid, run_study
    from qdcore.studies.trials import counts

    if ctx.folder is None or ctx.store is None:  # not rank 0 of a distributed launch: studies do not spread
        return {"status": "done"}
    store, study = ctx.store, ctx.run_id
    if not sum(counts(store, study).values()):
        spec, notes = build_spec(ctx.cfg)
        add_grid(store, study, spec, notes)
    p = run_study(store, study, ctx.cfg.workers, ctx.cfg.per_gpu, ctx.should_stop)
    rec = store.get_run(study)
    return {"status": rec.status, "counts": p.counts}


def _progress(c: dict[str, Any], s: dict[str, Any]) -> Any:
    n = s.get("counts") or {}
    total = s.get("trials")
    return None if not total else f"{n.get('done', 0)}/{total}"


KIND = register(RunKind(
    name="study",
    title="study",
    config=StudyConfig,
    train=train,
    prepare=prepare,
    default_name=default_name,
    parent=True,
    rate_unit="trials",
    result_line=lambda s: " · ".join(f"{v} {k}" for k, v in (s.get("counts") or {}).items() if v),
    panels=(Panel("trials", "trials done", ("study/done",), x="step"),),
    columns=(Column("trials", "trials", 7, _progress, lambda v: DASH if v is None else str(v)),),
))
