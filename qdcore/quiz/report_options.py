"""The options of `qd quiz report` and `qd quiz list`, declared once (flags, checks and --help come from here);
light to import."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.options import option


@dataclass
class AnswerFilter:
    """Whose answers count."""

    # Text, not None-able: " " reaches the store, which refuses an empty name (parse_text reads a blank as unset).
    participant: str = option("", help="Only this participant's answers.", short="-p")


@dataclass
class ReportFilter(AnswerFilter):
    """Which answers `qd quiz report` counts and which model it compares with."""

    run: int | None = option(None, help="Compare people with this run's model on the same drawings (default: the "
                             "run the sessions quizzed on).", short="-r", min=1)
    session: int | None = option(None, help="Only this quiz session.", short="-s", min=1)


@dataclass
class SessionFilter(AnswerFilter):
    """Which sessions `qd quiz list` shows."""

    open_only: bool = option(False, help="Only sessions that can be resumed.", flag="--open", negatable=False)
