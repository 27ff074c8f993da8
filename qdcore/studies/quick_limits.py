"""What --quick cannot show: the note a named study's quick run prints first, with the smallest protocol that
can show its effect and that protocol's projected time on this machine."""

from __future__ import annotations

from qdcore.errors import QDError
from qdcore.fmt import duration
from qdcore.studies.estimate import estimate
from qdcore.studies.named import named_spec, named_study

SEEDS = 3  # the smallest protocol's seeds: an interval over seeds needs at least 2


def cannot_quick_note(name: str, data: str | None, workers: int | None = None, device: str = "cpu",
                      project: bool = True) -> str | None:
    """One line for `qd study run NAME --quick` to print before it starts, or None where --quick can show the
    paper's effect. The projection (`project`) times the engine here (a few steps per model shape); without
    it the line names 'qd study estimate' instead."""
    st = named_study(name)
    if not st.quick_cannot:
        return None
    line = f"{st.quick_cannot}. The smallest protocol that can: 'qd study run {st.smallest} --seeds {SEEDS}'"
    if not project:
        return f"{line} (its time: 'qd study estimate {st.smallest} --seeds {SEEDS}')"
    try:
        spec, _ = named_spec(st.smallest, data=data, seeds=SEEDS)
        est = estimate(spec, device, workers)
    except QDError as e:
        return f"{line} (no projection here: {e})"
    return (f"{line}: {len(est.work)} trials, {est.train_images:,} training images, projected "
            f"{duration(est.wall_hours * 3600)} on this {est.device} with {est.workers} worker"
            f"{'s' if est.workers != 1 else ''} (timed here)")
