"""Where a study's trials run: local worker processes (the default) or Ray tasks."""

from __future__ import annotations

from collections.abc import Callable

from qdcore.errors import ConfigError
from qdcore.studies.runner import Progress, StopFn, run_study

EXECUTORS = ("local", "ray")


def execute(store, study: int, executor: str = "local", workers: int | None = 1, per_gpu: int | None = None,
            should_stop: StopFn = lambda: False, on_progress: Callable[[Progress], None] | None = None,
            ray_plan=None) -> Progress:
    """Run a study's queued trials with local worker processes (default) or as Ray tasks (`ray_plan`)."""
    if executor not in EXECUTORS:
        raise ConfigError(f"--executor {executor!r} must be one of {', '.join(EXECUTORS)}")
    if executor == "ray":
        # lazy: keeps qdcore.studies.ray_executor out of qd --help
        from qdcore.studies.ray_executor import RayPlan, run_study_ray

        return run_study_ray(store, study, ray_plan or RayPlan(), should_stop, on_progress)
    return run_study(store, study, workers, per_gpu, should_stop, on_progress)
