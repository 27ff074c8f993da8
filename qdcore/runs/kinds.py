"""The run-kind registry: what each kind of run is, so front ends dispatch on it and never test a kind's name.

Adding a kind is one module that builds a `RunKind` and calls `register(...)` at import, plus its module
name in `BUILTIN` below (the gan, study and classical modules are listed already: a missing one is
skipped). Plug-ins and tests can instead call `register` themselves, or name their module in `$QD_KINDS`
so that the `qd train` children the launcher starts register it too. A `RunKind` holds:

- `config`: a dataclass subclassing `qdcore.options.RunConfig` (the shared name and data selection:
  data, categories, per_class, seed, imbalance, val, test), every own field declared with
  `option(default, help=, panel=, short=, choices=, min=, max=, form=)`. The `qd train` options, the
  TOML/JSON keys, the TUI form rows (fields with `form=`) and `--help` are generated from it, and every
  value is checked against the declared type and bounds (`qdcore.options.check`).
- `train(ctx) -> summary`: trains `ctx.cfg` (a `qdcore.runs.context.RunContext`: config, store, run id,
  folder, resume folder, sink, stop flag, rank), emitting `qdcore.events` to `ctx.sink` (RunStarted first,
  with the device, data fingerprint and summary keys; EpochEnd with `{"split/name": value}` metrics;
  Progress; Samples for arrays, kept as files + `artifacts` rows; RunFinished or RunFailed last) and
  polling `ctx.should_stop()`. `ctx.resume` is the run folder to continue from (None: a fresh start); a
  kind that cannot resume sets `resumable=False`. It returns the summary dict (or an object with
  `.summary` and `.status`) and never prints. A kind that trains in steps hands `qdcore.train.loop` a
  `Step` and gets epochs, logging, stops across ranks, the NaN policy, checkpoints and exact resume from
  it. `qdcore.runs.run.start/resume` create or claim the run row and tee the store sink around it; a
  parent kind (`parent=True`, a study) runs children with `start(cfg, ctx.store, parent=ctx.run_id)`.
- `panels`: the live view's plots, each a tuple of metric keys `split/name` (`step/loss` is the
  logging-step series) on an x axis of `step` or `epoch`; or, with `artifact="samples"`, the latest
  array a `Samples(name="samples")` event stored, drawn as a grid (a GAN's sample grid).
- `columns`: its columns in the runs table (key, header, width, value from (config, summary), text).
- `models`: the model names it owns, so `qd train --model NAME` routes to it; `presets`: named option sets.
- `min_categories`: the fewest categories its data selection may hold (a classifier 2); the selection is
  checked against the data (names, sizes) before the run row exists. 0: the kind selects no data itself.
- `note(config, summary) -> str`: why some of a run's figures are missing ('' when none are), shown beside them.
- `epoch_unit(config) -> str`: what one point of its curve is called where it is not an epoch (a boosting round).
- `prepare(cfg, ctx) -> cfg`: resolve defaults to the values used and refuse what cannot run (sizes) before
  the run row exists. `evaluate(store, run_id, data, **options)`: how a finished run is evaluated (None:
  it is not); `result_line`: the
  one-line result of a finished run (CLI, live view).
- `predictor(run_dir, device) -> (predict, classes)`: the run's model rebuilt from its files, `predict`
  taking drawings to probabilities (N, C) (`qd predict`, evaluation, the draw game); None: the kind has no
  model to use. `reads` says what `predict` is given: "bitmaps" (uint8 (N, 28, 28)) or "drawings" (a
  `qdcore.data.drawings.Drawings`: the bitmaps and each drawing's strokes, with times where known), so a
  stroke-sequence model plugs in as one module. `predictor_of` hands every caller's drawings over that way.
- `abilities`: what other commands may ask of its finished runs, by name (`JUDGE`: its model is a network
  whose outputs and layers other code reads: a GAN's judge, CAM and hidden-layer views, `qd eval`'s loader; `DRAW`: it draws drawings of a class on demand, e.g. `--synthetic`; `SAMPLES`: it
  keeps sample grids); `require(store, run_id, ability, asker)` refuses other runs in one line.
- `timing_shape(cfg) -> tuple`: what the speed of its training depends on, so a study's estimate can time
  one trial and project the others (None: its trials are not projected).
- `network(run_dir, config) -> (model, meta, images)`: for a kind without JUDGE whose model holds a CNN over
  images it draws itself (raster-<CNN>), that CNN and the images it reads of drawings named by provenance, so
  the CAM and hidden-layer views work on it.
- `suggest(model, option) -> str | None`: another kind's `--model` given with one of this kind's options
  (`--model widthk --raster time`): the one-line error that names this kind's model to use instead.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError, suggest
from qdcore.options import RunConfig, apply, fields_of, load_file, parse_values

# One line per built-in kind: its module registers it when imported.
BUILTIN: tuple[str, ...] = ("qdcore.kinds.classifier", "qdcore.kinds.classical", "qdcore.kinds.gan",
                            "qdcore.kinds.study", "qdcore.kinds.clusters", "qdcore.kinds.strokes")
DEFAULT_KIND = "classifier"  # what `qd train` trains without --model/--kind, and what a view assumes until it knows
ENV = "QD_KINDS"  # extra kind modules, comma-separated (plug-ins; tests' kinds reach `qd train` children)


@dataclass(frozen=True)
class Panel:
    """One live plot: its title, the metric keys drawn in it, the x axis and a scale for the values."""

    name: str
    title: str
    series: tuple[str, ...]  # "split/name"; "step/loss" = the logging-step rows
    x: str = "step"  # step | epoch
    scale: float = 1.0  # 100 shows fractions as percent
    strip: bool = False  # a short strip under the main plots (e.g. the learning rate)
    labels: tuple[str, ...] = ()  # legend names, one per series (default: the split); equal labels join a curve
    colors: tuple[str, ...] = ()  # one per series (default: a palette)
    artifact: str | None = None  # instead of curves: the latest array artifact of this name (Samples.name), drawn

    def label(self, i: int) -> str:
        """The legend name of series i."""
        return self.labels[i] if i < len(self.labels) else self.series[i].rpartition("/")[0] or self.series[i]

    def color(self, i: int) -> str:
        """The colour of series i."""
        return self.colors[i] if i < len(self.colors) else PALETTE[i % len(PALETTE)]


PALETTE = ("cyan", "orange", "green", "magenta", "yellow", "blue")


@dataclass(frozen=True)
class Column:
    """One runs-table column of a kind: header, width in cells, the value of a run and its text."""

    key: str
    header: str
    width: int
    value: Callable[[dict[str, Any], dict[str, Any]], Any]  # (config, summary) -> sortable value or None
    text: Callable[[Any], str] = str
    right: bool = True


TrainFn = Callable[[Any], Any]  # (RunContext) -> summary

JUDGE, DRAW, SAMPLES = "judge", "draw", "samples"  # abilities a kind's finished runs may have (see above)
ABILITY_TEXT = {JUDGE: "a finished classifier run", DRAW: "a GAN run", SAMPLES: "a run with sample grids"}


@dataclass
class RunKind:
    """Everything the front ends need to know about one kind of run."""

    name: str
    config: type[RunConfig]
    train: TrainFn
    title: str = ""
    panels: tuple[Panel, ...] = ()
    columns: tuple[Column, ...] = ()
    models: Callable[[], Iterable[str]] = tuple
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)
    prepare: Callable[[Any, Any], Any] | None = None
    default_name: Callable[[Any], str] | None = None
    evaluate: Callable[..., Any] | None = None
    predictor: Callable[[Path, str | None], tuple[Callable[[Any], Any], list[str]]] | None = None
    resumable: bool = True
    min_categories: int = 0  # the data selection is checked before the run row exists (0: the kind has none)
    rate_unit: str = "img/s"  # what Progress.throughput counts
    result_line: Callable[[dict[str, Any]], str] | None = None  # one line on a finished run (CLI, live view)
    abilities: frozenset[str] = frozenset()  # JUDGE, DRAW, SAMPLES: what other commands may use its runs for
    parent: bool = False  # its runs are parents of other runs (a study): never a study's trial
    timing_shape: Callable[[Any], tuple] | None = None  # estimate work: what its speed depends on
    reads: str = "bitmaps"  # what its predictor takes: "bitmaps" (uint8 N x 28 x 28) or "drawings" (strokes too)
    study_metrics: tuple[str, ...] = ()  # its summary keys a study's table shows (beside test_top1 and the curves)
    epoch_unit: Callable[[dict[str, Any]], str] | None = None  # config -> what one of its epochs is ("boosting round")
    note: Callable[[dict[str, Any], dict[str, Any]], str] | None = None  # (config, summary) -> why figures are missing
    # (another kind's --model, one of this kind's options it lacks) -> the error that names the right model, or None
    suggest: Callable[[str, str], str | None] | None = None
    # (run_dir, config) -> (a CNN over images, its meta, provenances of drawings -> the uint8 (N, C, S, S) images it
    # reads of them): CAM and hidden-layer views of a kind without JUDGE (a raster CNN draws the strokes' channels)
    network: Callable[[Path, dict[str, Any]], tuple[Any, dict[str, Any], Callable[[list[str]], Any]]] | None = None

    def __post_init__(self) -> None:
        if not issubclass(self.config, RunConfig):
            raise TypeError(f"kind {self.name!r}: config must subclass qdcore.options.RunConfig")
        self.title = self.title or self.name

    def owns(self, model: str) -> bool:
        """Whether `--model model` belongs to this kind."""
        key = str(model).strip().lower().replace("_", "-")
        return key in {m.lower() for m in self.models()}

    def unit(self, config: dict[str, Any] | None) -> str:
        """What one 'epoch' of a run with this config is, in words ('epoch' unless the kind says otherwise)."""
        return self.epoch_unit(config or {}) if self.epoch_unit is not None else "epoch"

    def note_for(self, config: dict[str, Any] | None, summary: dict[str, Any] | None) -> str:
        """Why some of a run's figures are missing (a GAN without a judge), '' when none are."""
        return self.note(config or {}, summary or {}) if self.note is not None else ""

    def name_for(self, cfg: Any) -> str:
        """The run's default name: the model and what differs from the defaults."""
        if self.default_name is not None:
            return self.default_name(cfg)
        return short_name(cfg)


_KINDS: dict[str, RunKind] = {}
_loaded = False


def register(kind: RunKind) -> RunKind:
    """Add (or replace) a kind; model names owned by two kinds are refused."""
    for other in _KINDS.values():
        if other.name != kind.name:
            clash = {m.lower() for m in other.models()} & {m.lower() for m in kind.models()}
            if clash:
                raise ValueError(f"kinds {other.name!r} and {kind.name!r} both claim models {sorted(clash)}")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests)."""
    _KINDS.pop(name, None)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    extra = [m.strip() for m in os.environ.get(ENV, "").split(",") if m.strip()]
    for module in (*BUILTIN, *extra):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:  # a kind module that exists but fails to import is a bug to see
                raise


def all_kinds() -> list[RunKind]:
    """Every registered kind, classifier first."""
    _load()
    return list(_KINDS.values())


def get_kind(name: str) -> RunKind:
    """The kind called `name` (ConfigError with the known ones otherwise)."""
    _load()
    key = str(name).strip().lower()
    if key not in _KINDS:
        raise ConfigError(f"unknown kind of run {name!r}{suggest(key, list(_KINDS))}; kinds: {', '.join(_KINDS)}")
    return _KINDS[key]


def find_kind(name: str) -> RunKind | None:
    """The kind called `name`, or None (runs of kinds no longer registered, e.g. quiz rows)."""
    _load()
    return _KINDS.get(str(name))


def can_evaluate(name: str) -> bool:
    """Whether runs of this kind can be evaluated (predictions on a test split)."""
    k = find_kind(name)
    return k is not None and k.evaluate is not None


def parent_kinds() -> list[str]:
    """The kinds whose runs are parents of other runs (studies)."""
    return [k.name for k in all_kinds() if k.parent]


def can(kind_name: str, ability: str) -> bool:
    """Whether runs of this kind have `ability` (JUDGE, DRAW, SAMPLES)."""
    k = find_kind(kind_name)
    return k is not None and ability in k.abilities


def able_kinds(ability: str) -> list[str]:
    """The names of the kinds whose runs have `ability`."""
    return [k.name for k in all_kinds() if ability in k.abilities]


def require(store: Any, run_id: int, ability: str, asker: str) -> Any:
    """The run's record when its kind has `ability`; else a one-line ConfigError naming what `asker` needs."""
    rec = store.get_run(int(run_id))
    if not can(rec.kind, ability):
        kinds = able_kinds(ability)
        hint = f" (see 'qd runs list --kind {kinds[0]}')" if len(kinds) == 1 else ""
        raise ConfigError(f"{asker}: run {rec.id} is a {rec.kind} run; it needs {ABILITY_TEXT[ability]}{hint}")
    return rec


def predictor_of(store: Any, run_id: int, device: str | None = None) -> tuple[Callable[[Any], Any], list[str]]:
    """(drawings -> probabilities, class names) of a stored run's model, rebuilt by its kind.

    The function takes a `qdcore.data.drawings.Drawings` or an array of uint8 bitmaps (N, 28, 28) and gives the
    kind's model what it reads (`RunKind.reads`)."""
    from qdcore.data.drawings import Drawings  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    rec = store.get_run(int(run_id))
    kind = find_kind(rec.kind)
    if kind is None or kind.predictor is None:
        raise ConfigError(f"run {rec.id} is a {rec.kind} run, which has no model that classifies drawings")
    predict, classes = kind.predictor(store.run_dir(rec.id, create=False), device)
    if kind.reads == "drawings":
        return (lambda x: predict(Drawings.of(x))), classes
    return (lambda x: predict(Drawings.of(x).images)), classes


def kind_of(cfg: Any) -> RunKind:
    """The kind whose config class `cfg` is."""
    for k in all_kinds():
        if type(cfg) is k.config:
            return k
    raise ConfigError(f"no registered kind of run takes a {type(cfg).__name__}")


def kind_for_model(model: str) -> RunKind | None:
    """The kind that owns model `model`, if any."""
    for k in all_kinds():
        if k.owns(model):
            return k
    return None


def choose_kind(kind: str | None = None, model: str | None = None) -> RunKind:
    """The kind asked for, else the owner of the model, else the classifier."""
    if kind:
        k = get_kind(kind)
        owner = kind_for_model(model) if model else None
        if model and owner is not None and not k.owns(model) and list(k.models()):
            raise ConfigError(f"model {model!r} is trained by the {owner.name} kind, not {k.name}")
        return k
    if model:
        owner = kind_for_model(model)
        if owner is not None:
            return owner
    return get_kind(DEFAULT_KIND)


# --- configs from defaults, presets, files and options -------------------------------------------


def preset_values(kind: RunKind, name: str) -> dict[str, Any]:
    """The options of one of a kind's presets."""
    key = str(name).strip().lower()
    if key not in kind.presets:
        names = ", ".join(kind.presets) or "none"
        raise ConfigError(f"unknown preset {name!r}{suggest(key, list(kind.presets))} for {kind.name} runs; "
                          f"presets: {names}")
    return dict(kind.presets[key])


def build_config(preset: str | None = None, file: str | Path | None = None,
                 overrides: dict[str, Any] | None = None, kind: str | None = None) -> Any:
    """Defaults, then a preset, then a file, then explicit options (None values skipped), for the right kind.

    The kind is `kind`, else a file's `kind` key, else the owner of the model named last.
    """
    values = load_file(file) if file else {}
    given = {k.replace("-", "_"): v for k, v in (overrides or {}).items() if v is not None}
    file_kind = values.pop("kind", None)
    if file_kind is not None and not isinstance(file_kind, str):
        raise ConfigError(f"{file}: kind={file_kind!r} must be text, e.g. \"classifier\"")
    file_preset = values.pop("preset", None)
    if file_preset is not None and not isinstance(file_preset, str):
        raise ConfigError(f"{file}: preset={file_preset!r} must be text")
    model = given.get("model", values.get("model"))
    k = choose_kind(kind or file_kind, model if isinstance(model, str) else None)
    cfg = k.config()
    for name in (preset, file_preset):
        if name:
            cfg = _switch(cfg, preset_values(k, name), f"preset {name}")
    if values:
        cfg = _switch(cfg, values, str(file))
    if given:
        cfg = _switch(cfg, given, "option")
    return cfg


def config_from_text(given: dict[str, Any], preset: str | None = None, file: str | Path | None = None,
                     kind: str | None = None) -> Any:
    """A config from options typed as text (the CLI's flags, the TUI form's fields): same checks, same messages."""
    values = load_file(file) if file else {}
    model = given.get("model") or values.get("model")
    file_kind = values.get("kind")
    k = choose_kind(kind or (file_kind if isinstance(file_kind, str) else None),
                    model if isinstance(model, str) else None)
    _refuse_foreign(k, str(model or ""), given)
    typed = parse_values(k.config, given, "", k.name)
    return build_config(preset, file, typed, kind=k.name)


def _refuse_foreign(k: RunKind, model: str, given: dict[str, Any]) -> None:
    """Options of another kind given with `model` of kind `k`: that kind's own one-line error naming its model."""
    known = {f.name for f in fields_of(k.config)}
    for name in (n for n, v in given.items() if v is not None and n not in known):
        for other in all_kinds():
            hint = other.suggest(model, name) if other is not k and other.suggest is not None else None
            if hint:
                raise ConfigError(hint)


def _switch(cfg: Any, changes: dict[str, Any], origin: str) -> Any:
    """Apply changes; a new model drops the earlier layer's model options (a preset's widths fit its model)."""
    if "model" in changes and changes["model"] != getattr(cfg, "model", None):
        reset = {f.name: f.default for f in fields_of(type(cfg)) if f.opt.panel == "Model" and f.name != "model"}
        changes = {**reset, **changes}
    return apply(cfg, changes, origin)


def short_name(cfg: Any) -> str:
    """'widthk k=12 lr=0.003 e=20': the model, then the few values that differ from the defaults."""
    base = type(cfg)()
    model = getattr(cfg, "model", None) or type(cfg).__name__
    abbrev = {"width": "k", "epochs": "e", "batch_size": "b", "per_class": "n", "optimizer": "", "lr": "lr",
              "categories": "", "data": ""}
    parts = [str(model)]
    for f in fields_of(type(cfg)):
        if f.name in ("name", "model", "device", "log_every", "eval_batch_size", "seed", "model_opts", "val",
                      "test", "imbalance"):
            continue
        v, d = getattr(cfg, f.name), getattr(base, f.name)
        if v == d or v is None:
            continue
        if f.name == "data":
            v = Path(str(v)).name or str(v)
        if f.name == "categories":
            v = str(v) if len(str(v)) <= 12 else f"{len(str(v).split(','))} cats"
        if isinstance(v, float):
            v = f"{v:g}"
        if isinstance(v, bool):
            parts.append(f.name if v else f"no-{f.name}")
            continue
        key = abbrev.get(f.name, f.name)
        parts.append(f"{key}={v}" if key else str(v))
        if len(parts) >= 5:
            break
    return " ".join(parts)[:60]
