"""The options of `qd analyze` and `qd predict`, declared once (flags, checks and --help come from here); light to import."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.errors import ConfigError
from qdcore.options import MAX_SEED, check, fields_of, option

FEATURE_CHOICES = ("pixels", "penultimate")


@dataclass
class AnalyzeOptions:
    """What `qd analyze` computes: how many pairs and drawings, the clustering and the quality thresholds."""

    top: int = option(10, help="How many confused pairs and worst drawings to show.", min=1, max=10_000)
    k: int | None = option(None, help="K-Means clusters (default: chosen by silhouette over 2..10).", min=2, max=1000)
    eps: float | None = option(None, help="DBSCAN radius (default: knee of the k-distance curve).", min=0,
                               min_open=True)
    features: str = option("pixels", help="Cluster on raw 'pixels' or the model's 'penultimate' layer.",
                           choices=FEATURE_CHOICES)
    components: float = option(50, help="PCA components (integer) or explained-variance fraction (0..1).", min=0,
                               min_open=True, max=10_000)
    percentile: float = option(5.0, help="Show the drawings around this worst-percentile (study 003: 5).", min=0,
                               max=100)
    min_confidence: float = option(0.9, help="Wrong drawings above this probability count as likely label errors.",
                                   min=0, max=1)
    bins: int = option(15, help="Confidence bins of the calibration (reliability) view.", min=2, max=100)
    seed: int = option(0, help="Seed for PCA, K-Means and sampling.", min=0, max=MAX_SEED)

    def validate(self, origin: str = "") -> None:
        """ConfigError naming the first bad option: each value by its declaration, then the components rule."""
        for f in fields_of(AnalyzeOptions):
            check(f, getattr(self, f.name), origin)
        c = self.components
        if c >= 1 and not float(c).is_integer():
            raise ConfigError(f"--components={c:g} must be a whole number of components or a fraction in (0, 1)")

    @property
    def n_components(self) -> int | float:
        """PCA components as sklearn wants them: an int count or a float fraction."""
        return int(self.components) if self.components >= 1 else float(self.components)


@dataclass
class AnalyzeOutput:
    """Where `qd analyze` writes its files, and its --progressive replay (with runs to compare)."""

    out: str | None = option(None, help="Write CSVs and PNGs (pairs, per-class, ranking, clusters, calibration, "
                             "confusion, galleries, CAM) into DIR.", short="-o", metavar="DIR")
    progressive: bool = option(False, help="When did it know: replay each drawing by share of ink and of time, and "
                               "stroke by stroke (top-1 curves, the moment each drawing became right and stayed "
                               "right).", negatable=False)
    vs: list[str] = option(factory=list, help="With --progressive: another run replayed on the same drawings, side "
                           "by side (repeatable).", metavar="RUN")


@dataclass
class DrawingFile:
    """The file `qd predict` classifies."""

    file: str = option("", help=".npy bitmaps (Google's layout) or .ndjson/.bin strokes.", argument=True,
                       metavar="FILE")


@dataclass
class PredictOptions:
    """How much of a file's predictions `qd predict` shows."""

    top: int = option(5, help="How many classes to list per drawing.", min=1, max=1000)
    limit: int = option(20, help="Drawings to show in the table (JSON lists all).", min=0)
