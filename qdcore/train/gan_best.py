"""The best generator of a GAN run: per epoch, the one that scores best on a declared criterion is kept.

Quality swings from epoch to epoch (a late epoch can be worse than an earlier one), so the run keeps the
generator (its moving average under --g-ema) of the epoch that scored best: the lowest Frechet distance
by default, or the highest judged share. `qd gan sample/gif` use it unless told otherwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

# criterion -> (metric key, True when higher is better)
CRITERIA: dict[str, tuple[str, bool]] = {"fid": ("quality/fid", False), "judged": ("quality/recognised", True)}


@dataclass
class BestGenerator:
    """Which epoch scored best so far on `criterion`, and its score (None before a judged epoch)."""

    criterion: str = "fid"
    epoch: int | None = None
    score: float | None = None

    @property
    def metric(self) -> str:
        """The metric key the criterion reads."""
        return CRITERIA[self.criterion][0]

    def better(self, value: float) -> bool:
        """Whether `value` beats the best so far (NaN never does; ties keep the earlier epoch)."""
        if not math.isfinite(value):
            return False
        if self.score is None:
            return True
        return value > self.score if CRITERIA[self.criterion][1] else value < self.score

    def offer(self, epoch: int, metrics: dict[str, float]) -> bool:
        """Take this epoch's metrics; True when its generator is the new best (the caller then keeps it)."""
        value = metrics.get(self.metric)
        if value is None or not self.better(float(value)):
            return False
        self.epoch, self.score = int(epoch), float(value)
        return True

    def state(self) -> dict[str, Any]:
        """A JSON-able state (for the resume checkpoint and the run's summary)."""
        return asdict(self)

    @classmethod
    def from_state(cls, criterion: str, saved: dict[str, Any] | None) -> BestGenerator:
        """A keeper for `criterion`, continuing a saved state of the same criterion."""
        if saved and saved.get("criterion") == criterion:
            return cls(criterion, saved.get("epoch"), saved.get("score"))
        return cls(criterion)

    def summary(self) -> dict[str, Any]:
        """Summary keys: best_epoch, best_by and the best score (absent before a judged epoch)."""
        if self.epoch is None:
            return {}
        return {"best_epoch": self.epoch, "best_by": self.criterion, "best_score": self.score}

