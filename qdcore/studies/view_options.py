"""The options of `qd study show/fit/report/estimate`, declared once (flags, checks and --help come from here);
light to import (`qd --help` reads them)."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import option


@dataclass
class TrainedOnly:
    """Whether trials flagged 'not trained' count."""

    include_untrained: bool = option(False, help="Keep trials flagged 'not trained' (one class predicted, loss at "
                                     "ln k) in aggregates, plots, fits and claims.", negatable=False)


@dataclass
class ShowOptions(TrainedOnly):
    """What `qd study show` prints: the table's columns and the terminal plot."""

    metric: str | None = option(None, help="Metric to plot (default test_top1 or val_top1).", short="-m")
    x: str | None = option(None, help="Axis on the plot's x axis.")
    by: str | None = option(None, help="Axis whose values are the plot's series.")
    plot: bool = option(True, help="Draw the terminal plot.")
    wide: bool = option(False, help="Every metric column (first, final, best, best epochs).", negatable=False)


@dataclass
class FitOptions(TrainedOnly):
    """The formula `qd study fit` fits."""

    formula: str | None = option(None, help="'response ~ term + term' over the trial columns, e.g. "
                                 "'test_top1 ~ classes + rows'.", short="-f")


@dataclass
class ReportOptions:
    """Where `qd study report` writes and which fits it includes."""

    out: str = option("", help="Folder for trials.csv, aggregates.csv, PNGs and README.md.", short="-o",
                      metavar="DIR", required=True)
    formula: list[str] = option(factory=list, help="OLS formulas to include (repeatable; default: the study's).",
                                short="-f")


@dataclass
class TimingOptions:
    """How `qd study estimate` gets a throughput: timed here (steps) or given, and the gain of sharing a GPU."""

    per_gpu_gain: float = option(1.0, help="With --per-gpu K: a device's throughput with K trials over one "
                                 "trial's, as benchmarks/bench_per_gpu.py measures it (1: no gain assumed).", min=1,
                                 max=64)
    images_per_second: float | None = option(None, help="Project from this rate (measured elsewhere) instead of "
                                             "timing here.", min=1e-3, max=1e9)
    steps: int = option(4, help="Training steps per timed epoch (one epoch of warm-up, then the best of three).",
                        min=2, max=1000)


@dataclass
class StudyRefs:
    """How commands name studies on the command line."""

    study: str = option("", help="Study id (see 'qd study list').", argument=True, metavar="STUDY")
    named: str | None = option(None, help="A named study: list where qd's protocol differs from its paper's.",
                               argument=True, metavar="NAME")
