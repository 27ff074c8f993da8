"""The options of `qd data export-drawn/drawn-report` and `qdtui draw`, declared once (flags, checks and --help
come from here); light to import."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import option


@dataclass
class DrawnExport:
    """Which people's drawings `qd data export-drawn` writes, and how."""

    out: str = option("", help="Output .ndjson file (Google's raw ndjson: x, y, t in ms).", short="-o",
                      metavar="PATH", required=True)
    simplified: bool = option(False, help="Write Google's simplified strokes (0..255, no times) instead.",
                              negatable=False)
    run: int | None = option(None, help="Only drawings this run's model guessed.", min=1)
    name: str | None = option(None, help="Only drawings by this person.")


@dataclass
class DrawnReportOptions:
    """Which run's guesses `qd data drawn-report` reports."""

    run: int | None = option(None, help="The run whose model guessed (default: the newest one people drew for).",
                             min=1)


@dataclass
class DrawStart:
    """How `qdtui draw` opens: whose model guesses, who draws, and whether a game starts at once."""

    run: int | None = option(None, help="The run whose model guesses, or last (default: the best finished "
                             "classifier).", min=1, metavar="RUN")
    name: str | None = option(None, help="Who is drawing (default: your login name).")
    game: bool = option(False, help="Start a game at once: six categories, 20 seconds each.", negatable=False)
