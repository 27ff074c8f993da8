"""The `gan` kind: study 003's DCGAN, per-class GANs and study 001's AC-GAN, trained by qdcore.train.gan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qdcore.data.categories import chosen_categories
from qdcore.fmt import DASH
from qdcore.models import build_gan
from qdcore.runs.context import RunContext
from qdcore.runs.kinds import DRAW, SAMPLES, Column, Panel, RunKind, register
from qdcore.train.gan_config import GAN_MODELS, GanConfig


def _pct(v: Any) -> str:
    return f"{100 * v:.1f}%" if isinstance(v, (int, float)) and not isinstance(v, bool) else DASH


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _f(spec: str) -> Callable[[Any], str]:
    return lambda v: DASH if v is None else format(v, spec)


def gan_classes(cfg: GanConfig) -> list[str]:
    """The categories a GAN config selects, read from the source's listing (no drawings are loaded)."""
    from qdcore.data.opener import open_source  # lazy: keeps numpy out of qd --help

    available = open_source(cfg.data).categories()
    return chosen_categories(cfg.categories, available)


def judge_note(config: dict[str, Any], summary: dict[str, Any]) -> str:
    """Why a GAN run has no judged share or Frechet distance ('' when it has a judge, or before it has started)."""
    if "judge" not in summary or summary.get("judge") is not None:
        return ""
    if config.get("no_judge"):
        return "not judged: the run was started with --no-judge (losses only)"
    cats = config.get("categories")
    what = f"covering {cats}" if cats else "covering its classes"
    return (f"not judged: no finished classifier {what} when it started; train one, then give a new "
            "GAN run --judge RUN")


def prepare(cfg: GanConfig, ctx: RunContext | None = None) -> GanConfig:
    """Check the model options and choose the judge before the run row exists (a judge that does not fit fails).

    Where no finished classifier covers the categories, the run trains one when it starts (qdcore.analysis.gan_judge)."""
    from qdcore.analysis.gan_quality import best_judge, check_judge  # lazy: keeps numpy out of qd --help

    g, _ = build_gan(cfg.model, 2, cfg.latent_dim, **cfg.model_options())
    if cfg.init is None:  # the run stores the init used
        cfg = cfg.replace(origin="model", init=g.arch["init"])
    if cfg.no_judge:
        return cfg
    classes = gan_classes(cfg)
    with (ctx or RunContext()).open_store() as store:
        if cfg.judge is not None:
            check_judge(store, cfg.judge, classes)
            return cfg
        judge = best_judge(store, classes)
    return cfg.replace(origin="judge", judge=judge) if judge is not None else cfg


def train(ctx: RunContext) -> Any:
    """The GAN loop, judged (by a classifier trained now where none fits); a resume continues from its checkpoint."""
    from qdcore.analysis.gan_judge import ensure_judge  # lazy: keeps numpy out of qd --help
    from qdcore.analysis.gan_quality import load_judge  # lazy: keeps numpy out of qd --help
    from qdcore.train.checkpoint import RESUME_FILE  # lazy: loads torch (~1.2 s)
    from qdcore.train.gan import train_gan  # lazy: loads torch (~1.2 s)

    cfg, judge = ctx.cfg, None
    notes: tuple[str, ...] = ()
    if not cfg.no_judge and ctx.rank == 0:  # rank 0 alone judges
        classes = gan_classes(cfg)
        with ctx.open_store() as store:  # the run's own store, not the default one
            judge_id, note = ensure_judge(cfg, classes, store, should_stop=ctx.should_stop)
            judge = load_judge(store, judge_id, classes, cfg.device)
        notes = (note,) if note else ()
    return train_gan(cfg, ctx.sink, ctx.should_stop, ctx.folder, ctx.resume_from(RESUME_FILE), run_id=ctx.run_id,
                     judge=judge, notes=notes)


def evaluate(store: Any, run_id: int, data: str | None = None, **options: Any) -> Any:
    """An AC-GAN's discriminator class head as a classifier (study 001); a DCGAN has none (one-line error)."""
    from qdcore.analysis.gan_eval import evaluate_gan_run  # lazy: loads torch (~1.2 s)

    return evaluate_gan_run(store, run_id, data, **options)


def result_line(s: dict[str, Any]) -> str:
    """'judged 91.0% as intended · Frechet distance 12.3'."""
    if s.get("recognised") is None:
        return f"{s.get('epochs', 0)} epochs (no judge)"
    fid = _num(s.get("fid"))
    shown = f"{fid:.1f}" if fid is not None and fid == fid else DASH  # NaN: the judge's features never vary
    return f"judged {_pct(s.get('recognised'))} as intended · Frechet distance {shown}"


def default_name(cfg: GanConfig) -> str:
    """'dcgan on apple' style name."""
    what = cfg.categories or "all categories"
    what = what if len(what) <= 30 else f"{len(what.split(','))} categories"
    return f"{cfg.model}{' per class' if cfg.per_class_gans else ''} on {what}"


KIND = register(RunKind(
    name="gan",
    title="GAN",
    min_categories=1,
    note=judge_note,
    config=GanConfig,
    train=train,
    models=lambda: GAN_MODELS,
    prepare=prepare,
    default_name=default_name,
    evaluate=evaluate,
    rate_unit="real img/s",
    abilities=frozenset({DRAW, SAMPLES}),
    result_line=result_line,
    # The last epoch's judged quality (study 003's one- vs two-class GANs); an AC-GAN's class head gives test_top1.
    study_metrics=("recognised", "fid", "diversity", "nearest"),
    panels=(
        Panel("losses", "G and D losses", ("step/loss", "train/g_loss", "train/d_loss"), x="epoch",
              labels=("G (steps)", "G", "D"), colors=("gray", "cyan", "orange")),
        Panel("d", "D(x) and D(G(z))", ("train/d_real", "train/d_fake"), x="epoch", labels=("D(x)", "D(G(z))")),
        Panel("judged", "judged as intended %", ("quality/recognised",), x="epoch", scale=100.0,
              labels=("judged",)),
        Panel("fid", "Frechet distance", ("quality/fid",), x="epoch", strip=True, labels=("FD",)),
    ),
    columns=(
        Column("model", "model", 9, lambda c, s: (c.get("model") or "") + ("/cls" if c.get("per_class_gans") else ""),
               str, right=False),
        Column("judged", "judged", 7, lambda c, s: _num(s.get("recognised")), _pct),
        Column("fid", "FD", 7, lambda c, s: _num(s.get("fid")), _f(".1f")),
        Column("epochs", "ep", 4, lambda c, s: _num(c.get("epochs")), lambda v: DASH if v is None else str(int(v))),
        Column("per_class", "n/cls", 6, lambda c, s: _num(c.get("per_class")),
               lambda v: "all" if v is None else str(int(v))),
        Column("batch", "bs", 5, lambda c, s: _num(c.get("batch_size")), lambda v: DASH if v is None else str(int(v))),
    ),
))
