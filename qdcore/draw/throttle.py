"""When to ask the model again while someone draws: at most one guess in flight, at most one per interval."""

from __future__ import annotations

from dataclasses import dataclass

# A guess (simplify + rasterise + forward pass) takes a few ms on a CPU; 0.12 s between guesses
# keeps the top-5 moving during a stroke while leaving the UI thread free to paint the ink.
INTERVAL = 0.12


@dataclass
class Throttle:
    """Coalesces change notifications into guesses: request() says start now, later, or wait for done()."""

    interval: float = INTERVAL
    busy: bool = False
    pending: bool = False
    last_start: float = float("-inf")

    def request(self, now: float) -> float | None:
        """A change happened: 0.0 start a guess now, > 0 ask again after that many seconds, None wait for done()."""
        self.pending = True
        if self.busy:
            return None
        wait = self.last_start + self.interval - now
        return 0.0 if wait <= 0 else wait

    def started(self, now: float) -> None:
        """A guess was started for the latest change."""
        self.busy, self.pending, self.last_start = True, False, now

    def done(self) -> bool:
        """The guess in flight came back; True when changes arrived meanwhile (request again)."""
        self.busy = False
        return self.pending
