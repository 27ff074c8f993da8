"""The `study` kind: a parent run over a grid of ordinary child runs (qdcore.studies does the work)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError, QDError
from qdcore.fmt import DASH
from qdcore.options import Field, RunConfig, apply, option, parse_values
from qdcore.runs.context import RunContext
from qdcore.runs.kinds import Column, Panel, RunKind, register
from qdcore.studies.build import build_spec
from qdcore.studies.execute import EXECUTORS
from qdcore.studies.runner import add_grid, run_study
from qdcore.studies.spec import MAX_TRIALS
from qdcore.studies.trials import counts
from qdcore.studies.validate import validate

PANEL = "Study"
RESUMABLE = ("workers", "per_gpu")  # the study options that may change when a study continues


@dataclass
class StudyConfig(RunConfig):
    """A study: a spec file or a named study, and how to run it. The data fields apply to named studies."""

    # The Study panel is what `qd study run` and the app's study form set; `qd train` does not offer it (cli=False).
    spec: str = option("", help="A study spec (TOML) or a named study (see 'qd study named').", panel=PANEL,
                       form="Study", cli=False, argument=True, metavar="SPEC")
    # A study's own meaning of two data options: what a named study's protocol is run on (None: the study's
    # default, demo with --quick else cache, where every other kind's --data is a source).
    data: str | None = option(None, help="Named studies: drawings to use (demo, cache or a PATH; default demo with "  # type: ignore[assignment]
                              "--quick, else cache).", panel=PANEL, short="-d", form="Data", cli=False)
    categories: str | None = option(None, help="Named studies: comma-separated categories instead of the "
                                    "protocol's.", panel=PANEL, short="-c", form="Categories", cli=False)
    quick: bool = option(False, help="Named studies: a small grid that runs in minutes on a CPU.", panel=PANEL,
                         form="Quick", cli=False, negatable=False)
    seeds: int | None = option(None, help="Repeat every trial over this many seeds.", panel=PANEL, min=1, max=1000,
                               cli=False)
    workers: int | None = option(None, help="Local worker processes (default 1; with --per-gpu: K per GPU).",
                                 panel=PANEL, short="-w", min=1, max=256, form="Workers", cli=False)
    per_gpu: int | None = option(None, help="Trials at once on each GPU (small models leave a GPU idle); ignored "
                                 "without CUDA.", panel=PANEL, min=1, max=64, cli=False)
    max_trials: int = option(MAX_TRIALS, help="Refuse a grid of more trials than this before expanding it.",
                             panel=PANEL, min=1, max=1_000_000, cli=False)

    def source(self) -> str:
        """The drawings a named study runs on: --data, else the demo with --quick, else the download cache."""
        return self.data or ("demo" if self.quick else "cache")


def study_option(f: Field) -> bool:
    """The options a user sets to start a study (its panel): `qd study run`'s and the app's study form's."""
    return f.opt.panel == PANEL


def study_config(values: dict[str, Any], origin: str = "") -> StudyConfig:
    """The config `qd study run` and the app's form describe: raw values (text, switches) checked by the
    declarations; the data options and --quick apply to named studies, a spec file sets its own in [base]."""
    from qdcore.studies.named import NAMED  # lazy: keeps the named studies out of qd --help

    given = parse_values(StudyConfig, values, origin)
    spec = str(given.get("spec") or "")
    if spec.strip().lower() in NAMED and not Path(spec).exists():
        return apply(StudyConfig(), given, origin or "option")
    if given.get("quick") or given.get("data") or given.get("categories"):
        raise ConfigError("--quick, --data and --categories apply to named studies; set them in the spec's [base]")
    path = Path(spec).expanduser()
    if not path.exists():
        raise ConfigError(f"study spec {spec!r} does not exist; give a TOML file or a named study "
                          f"({', '.join(NAMED)})")
    return apply(StudyConfig(), {**given, "spec": str(path.resolve())}, origin or "option")


def _executors() -> tuple[str, ...]:
    return EXECUTORS


@dataclass
class StudyExecution:
    """How `qd study run` and `qd study resume` run the trials (not stored with the study)."""

    detach: bool = option(False, help="Run in the background; attach with qdtui or 'qd study status'.",
                          negatable=False)
    executor: str = option("local", help="local (worker processes here) or ray (a task per trial on a Ray cluster; "
                           "pip install 'qd[ray]').", choices=_executors)
    address: str | None = option(None, help="Ray: HOST:PORT of the cluster's head (default: start a local Ray "
                                 "runtime).", metavar="HOST:PORT")
    cpus_per_trial: float = option(1.0, help="Ray: CPUs each trial asks for.", min=0.1, max=1024)
    gpus_per_trial: float = option(0.0, help="Ray: GPUs each trial asks for (0.25 packs four small trials on a "
                                   "GPU).", min=0, max=64)


@dataclass
class StudyStart(StudyExecution):
    """`qd study run`'s: how to run, or only check (--dry-run)."""

    dry_run: bool = option(False, help="Validate and list the trials, start nothing.", negatable=False)


@dataclass
class StudyResume(StudyExecution):
    """`qd study resume`'s: how to run, and whether failed trials run again."""

    retry_failed: bool = option(False, help="Queue failed trials again.", negatable=False)


def default_name(cfg: StudyConfig) -> str:
    """The spec's name ('classes-rows quick'); a spec that cannot be read is refused by prepare next."""
    try:
        return build_spec(cfg)[0].name
    except QDError:
        return Path(cfg.spec).stem or "study"


def prepare(cfg: StudyConfig, ctx: RunContext | None = None) -> StudyConfig:
    """Check every trial before the study's row exists."""
    validate(build_spec(cfg)[0])
    return cfg


def train(ctx: RunContext) -> Any:
    """Run the study: add its trials the first time, then run the queued ones."""
    if ctx.folder is None or ctx.store is None or ctx.run_id is None:  # not rank 0 of a distributed launch: studies do not spread
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
