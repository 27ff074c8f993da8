"""The run store: runs, metrics and quiz answers in SQLite, artifacts in runs/<id>/."""

from qdcore.store.db import Store
from qdcore.store.records import KINDS, STATUSES, ArtifactRow, MetricRow, QuizAnswer, QuizSession, RunRecord
from qdcore.store.sink import StoreSink

__all__ = ["Store", "RunRecord", "MetricRow", "QuizSession", "QuizAnswer", "StoreSink", "KINDS", "STATUSES", "ArtifactRow"]
