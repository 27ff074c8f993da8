"""The options of the `qd data` commands beyond the data selection (DataSelection), declared once (flags, checks
and --help come from here); light to import. qdcore.data.download checks a format and a mirror for any caller."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import option

MAX_SHOWN = 10_000  # drawings `qd data show` draws at a time
MAX_COLS = 100


@dataclass
class CacheDir:
    """Where downloaded drawings are kept."""

    cache: str | None = option(None, help="Download cache folder (default $QD_DATA or the user cache dir).",
                               metavar="DIR")


@dataclass
class DownloadOptions:
    """What `qd data download` fetches, from where, and how patiently."""

    every: bool = option(False, help="All 345 categories (about 40 GB).", flag="--all", negatable=False)
    format: str = option("numpy", help="Google's format: numpy bitmaps (into the cache), simplified or raw ndjson "
                         "strokes, binary strokes (into <cache>/simplified, raw, binary).", short="-f",
                         metavar="numpy|simplified|binary|raw")
    mirror: str | None = option(None, help="Base URL holding <category>.npy (or .ndjson/.bin), '{folder}' standing "
                                "for Google's numpy_bitmap|simplified|binary|raw (default $QD_MIRROR or Google's "
                                "bucket).", metavar="URL")
    retries: int = option(5, help="Tries per file on network errors before giving up.", min=1, max=1000)
    timeout: float = option(30.0, help="Seconds without data before a try fails.", min=0, min_open=True,
                            max=86_400)
    parallel: int = option(8, help="Files fetched at once.", short="-j", min=1, max=64)


@dataclass
class GridOptions:
    """Which rows `qd data show` draws, and how many a line."""

    n: int = option(16, help="How many drawings.", min=1, max=MAX_SHOWN)
    start: int = option(0, help="First row (without --random).", min=0)
    random: bool = option(False, help="Random rows chosen by --seed instead of consecutive ones.", negatable=False)
    cols: int | None = option(None, help="Drawings per line (default: as many as fit).", min=1, max=MAX_COLS)


@dataclass
class QualityOptions:
    """How much `qd data quality` lists."""

    examples: int = option(5, help="How many flagged drawings to list per kind.", min=0, max=1_000_000)


@dataclass
class ExportFile:
    """Where `qd data export` writes."""

    out: str = option("", help="Output .npy file (Google's format: uint8 (N, 784)).", short="-o", metavar="PATH",
                      required=True)


@dataclass
class CategoryArgs:
    """How `qd data` commands name categories on the command line."""

    category: str = option("", help="Category to show (see 'qd data list').", argument=True, metavar="CATEGORY")
    categories: list[str] = option(factory=list, help="Categories (quote names with spaces) or named sets, e.g. cat "
                                   "'sea turtle' study000.", argument=True, metavar="CATEGORIES")
