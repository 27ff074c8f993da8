"""The options of `qd gan sample/sheet/gif`, declared once (flags, checks and --help come from here); light to
import. The bounds are the ones qdcore.analysis.gan_export enforces for any caller."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import MAX_SEED, option
from qdcore.train.gan_config import MAX_SAMPLES

MAX_SCALE = 16  # a 10 x 8 grid at 16 is 4,500 x 3,600 pixels a frame
MAX_MS = 60_000


@dataclass
class GanDraw:
    """Which generator draws, what, and from which noise (`qd gan sample` and `qd gan sheet`)."""

    category: str | None = option(None, help="Category to draw (conditional and per-class GANs).", short="-c")
    epoch: str | None = option(None, help="Generator: best (the epoch the run's --best-by criterion chose), last, "
                               "or an epoch number (default: best where the run kept one, else last).",
                               short="-e", metavar="best|last|N")
    seed: int = option(0, help="Seed of the noise.", min=0, max=MAX_SEED)


@dataclass
class SampleOptions(GanDraw):
    """`qd gan sample`: how many drawings, into which .npy file."""

    out: str = option("", help="Output .npy file (uint8 (N, 784), white on black).", short="-o", metavar="PATH",
                      required=True)
    n: int = option(64, help="How many drawings.", short="-n", min=1, max=MAX_SAMPLES)


@dataclass
class SheetOptions(GanDraw):
    """`qd gan sheet`: how many drawings, onto which .png file."""

    out: str = option("", help="Output .png file.", short="-o", metavar="PATH", required=True)
    n: int = option(32, help="How many drawings.", short="-n", min=1, max=MAX_SAMPLES)


@dataclass
class GifOptions:
    """`qd gan gif`: the file, the size of a drawing pixel and the frame time."""

    out: str = option("", help="Output .gif file.", short="-o", metavar="PATH", required=True)
    scale: int = option(2, help="Pixels per drawing pixel.", min=1, max=MAX_SCALE)
    ms: int = option(400, help="Milliseconds per frame.", min=1, max=MAX_MS)
