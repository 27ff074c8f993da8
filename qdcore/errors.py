"""User-facing errors: one line, exit code 2, never a traceback."""

import difflib


class QDError(Exception):
    """A mistake in the user's input or environment; the message says what to do."""

    exit_code = 2


class DataError(QDError):
    """Bad, missing or corrupt data (files, categories, selections)."""


class StoreError(QDError):
    """Missing run, locked or corrupt store."""


class StoreUnavailable(StoreError):
    """The store itself cannot be used (corrupt, locked, unreadable, full, not a folder): no run of it can be read."""

    reported = False  # set once a front end has shown the reason (the app's gateway), so screens need not repeat it


class ConfigError(QDError):
    """An invalid option or configuration value."""


class TrainingError(QDError):
    """A run that cannot go on (e.g. its loss stopped being a finite number); the run is marked failed."""


class RankLost(QDError):
    """A collective failed because another rank of a distributed run ended or stopped answering: the run is
    interrupted at its last checkpoint (resumable), not failed. Under qd's own launcher the ranks say nothing
    and the launcher says it once (`quiet`)."""

    exit_code = 130  # like a stop: the run is incomplete but resumable

    def __init__(self, message: str, quiet: bool = False) -> None:
        super().__init__(message)
        self.quiet = quiet


def suggest(name: str, choices: list[str]) -> str:
    """A ' (did you mean ...?)' hint for a mistyped name, or ''."""
    close = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=3, cutoff=0.6)
    if not close:
        return ""
    lookup = {c.lower(): c for c in choices}
    return " (did you mean " + ", ".join(repr(lookup[c]) for c in close) + "?)"
