"""The options of `qd runs list/compare/rm/export`, declared once (flags, checks and --help come from here);
light to import. The store checks a status, a kind and an export format itself, for any caller."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import option


@dataclass
class RunFilter:
    """Which runs `qd runs list` shows."""

    kind: str | None = option(None, help="Only runs of this kind (classifier, or another registered kind).")
    status: str | None = option(None, help="Only runs with this status: running, done, failed, interrupted.")
    limit: int | None = option(None, help="Show at most this many (newest first).", short="-l", min=1)


@dataclass
class CompareOptions:
    """What `qd runs compare` lists."""

    diff_only: bool = option(False, help="Show only config keys that differ.", flag="--diff", negatable=False)


@dataclass
class RemoveOptions:
    """How `qd runs rm` asks and what it may delete."""

    yes: bool = option(False, help="Do not ask for confirmation.", short="-y", negatable=False)
    force: bool = option(False, help="Also delete runs whose process is still running.", negatable=False)


@dataclass
class ExportOptions:
    """What `qd runs export` writes, and where."""

    format: str = option("csv", help="csv (run-N-csv/ with steps.csv, epochs.csv, run.json), tensorboard (run-N/ "
                         "event files: tensorboard --logdir DIR) or json (run-N.json).", short="-f",
                         metavar="csv|tensorboard|json")
    out: str = option("qd-export", help="Folder to write into (created if missing).", short="-o", metavar="DIR")


@dataclass
class RunRefs:
    """How commands name runs on the command line (resolved by qdcore.runs.refs)."""

    run: str = option("", help="Run id (see 'qd runs list'), or 'last'.", argument=True, metavar="RUN")
    gan_run: str = option("", help="GAN run id (see 'qd runs list --kind gan'), or 'last'.", argument=True,
                          metavar="RUN")
    compared: list[str] = option(factory=list, help="Two or more run ids.", argument=True, metavar="RUNS")
    removed: list[str] = option(factory=list, help="Run ids to delete.", argument=True, metavar="RUNS")
    exported: list[str] = option(factory=list, help="Run ids (or 'last') to export.", argument=True,
                                 metavar="RUNS")
