"""User-facing errors: one line, exit code 2, never a traceback."""


class QDError(Exception):
    """A mistake in the user's input or environment; the message says what to do."""

    exit_code = 2


class DataError(QDError):
    """Bad, missing or corrupt data (files, categories, selections)."""


class StoreError(QDError):
    """Missing run, locked or corrupt store."""


class ConfigError(QDError):
    """An invalid option or configuration value."""


class TrainingError(QDError):
    """A run that cannot go on (e.g. its loss stopped being a finite number); the run is marked failed."""
