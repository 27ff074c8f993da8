"""Report charts drawn with matplotlib (axes, ticks, titles, legends): confusion heatmap, cluster scatter,
reliability diagram. Figures are built without pyplot, so workers in threads never share its global state."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qdcore.fmt import literal
from qdcore.paths import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qdcore.analysis.calibration import Calibration

INSTALL_HINT = "matplotlib is needed for report charts; install it with 'pip install matplotlib'"
MAX_TICK_LABELS = 60  # more class names than this on an axis become unreadable: label every k-th


def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:  # a core dependency, but a trimmed environment gets a clear line, not a traceback
        from qdcore.errors import ConfigError

        raise ConfigError(INSTALL_HINT) from None
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def save_png(fig: Figure, path: Path) -> Path:
    """Write a figure as PNG atomically."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _class_ticks(n: int) -> np.ndarray:
    step = max(1, int(np.ceil(n / MAX_TICK_LABELS)))
    return np.arange(0, n, step)


def _name(name: object, limit: int = 32) -> str:
    """A class name for an axis: one line, escapes visible, at most `limit` characters."""
    text = literal(name)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def confusion_figure(cm: np.ndarray, classes: Sequence[str], normalize: bool = True) -> Figure:
    """Rows are the true class, columns the prediction, shaded by the share of the row; counts written when few."""
    cm = np.asarray(cm, dtype=np.float64)
    c = cm.shape[0]
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalize else cm
    side = float(np.clip(2.5 + 0.22 * min(c, MAX_TICK_LABELS), 4.5, 16))
    fig = _figure(side + 1.5, side)
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1 if normalize else None, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class" if normalize else "drawings")
    ticks = _class_ticks(c)
    names = [_name(classes[i]) for i in ticks]
    # parse_math off: a class name with '$' is text, not mathtext (an unbalanced one would fail to render)
    ax.set_xticks(ticks, names, rotation=90, fontsize=8, parse_math=False)
    ax.set_yticks(ticks, names, fontsize=8, parse_math=False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"Confusion matrix ({c} classes, {int(cm.sum()):,} drawings)")
    if c <= 15:
        for i in range(c):
            for j in range(c):
                if cm[i, j]:
                    ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if share[i, j] > 0.5 else "black")
    return fig


def scatter_figure(coords: np.ndarray, labels: np.ndarray, title: str = "Misclassified drawings",
                   axis_names: tuple[str, str] = ("PC 1", "PC 2")) -> Figure:
    """A 2-D scatter coloured by cluster (noise, label -1, in grey) with a legend outside the points."""
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    labels = np.asarray(labels).astype(int)
    fig = _figure(7.5, 5.5)
    ax = fig.add_subplot()
    ids = sorted(set(labels.tolist()))
    for k in ids:
        m = labels == k
        if k < 0:
            ax.scatter(coords[m, 0], coords[m, 1], s=10, c="0.7", marker="x", label=f"noise ({int(m.sum())})")
        else:
            ax.scatter(coords[m, 0], coords[m, 1], s=12, label=f"cluster {k} ({int(m.sum())})")
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if ids:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="cluster (drawings)")
    return fig


def reliability_figure(cal: Calibration, title: str = "Reliability diagram") -> Figure:
    """Accuracy against mean confidence per bin beside the diagonal of perfect calibration; drawings per bin below."""
    fig = _figure(6.5, 6.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    lo = np.array([b.lo for b in cal.bins])
    width = np.array([b.hi - b.lo for b in cal.bins])
    acc = np.array([np.nan if b.accuracy is None else b.accuracy for b in cal.bins])
    conf = np.array([np.nan if b.confidence is None else b.confidence for b in cal.bins])
    top.bar(lo, np.nan_to_num(acc), width=width, align="edge", edgecolor="black", color="tab:blue", alpha=0.8,
            label="accuracy in bin")
    top.bar(lo, np.nan_to_num(conf - acc), bottom=np.nan_to_num(acc), width=width, align="edge", color="tab:red",
            alpha=0.25, hatch="//", edgecolor="tab:red", label="gap to mean confidence")
    top.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfect calibration")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.set_title(f"{title}: ECE {100 * cal.ece:.1f}%, MCE {100 * cal.mce:.1f}% ({cal.n:,} drawings)")
    top.legend(loc="upper left", fontsize=8)
    top.grid(True, alpha=0.3)
    bottom.bar(lo, [b.count for b in cal.bins], width=width, align="edge", color="0.5", edgecolor="black")
    bottom.set_xlabel("top-1 confidence")
    bottom.set_ylabel("drawings")
    bottom.grid(True, alpha=0.3)
    return fig


def confusion_png(cm: np.ndarray, classes: Sequence[str], path: Path, normalize: bool = True) -> Path:
    """confusion_figure written to `path`."""
    return save_png(confusion_figure(cm, classes, normalize), path)


def scatter_png(coords: np.ndarray, labels: np.ndarray, path: Path, title: str = "Misclassified drawings") -> Path:
    """scatter_figure written to `path`."""
    return save_png(scatter_figure(coords, labels, title), path)


def reliability_png(cal: Calibration, path: Path) -> Path:
    """reliability_figure written to `path`."""
    return save_png(reliability_figure(cal), path)
