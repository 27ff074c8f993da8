"""Registers the test kind `centroid` when imported (named in $QD_KINDS for the launcher's children)."""

from centroid_kind import CENTROID

from qdcore.runs.kinds import register

register(CENTROID)
