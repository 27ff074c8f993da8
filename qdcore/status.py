"""Status lines for slow steps: a step that runs longer than SLOW seconds says what it is doing, then how long it took.

Front ends pass `say` (the CLI prints a line on stderr; the app puts it beside its spinner); quick steps print
nothing, so a fast command stays quiet and a slow one is never silent for more than about SLOW seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from qdcore.fmt import duration

SLOW = 2.0
Say = Callable[[str], None]


@contextmanager
def step(say: Say | None, what: str, slow: float = SLOW) -> Iterator[None]:
    """Run the body; past `slow` seconds `say('what…')`, and at its end `say('what: done in 12.3s')`."""
    if say is None:
        yield
        return
    t0 = time.perf_counter()
    lock = threading.Lock()
    said = [False]

    def announce() -> None:
        with lock:
            if not said[0]:
                said[0] = True
                say(f"{what}…")

    timer = threading.Timer(slow, announce)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            if said[0]:
                say(f"{what}: done in {duration(time.perf_counter() - t0)}")
            said[0] = True  # a timer that fires now says nothing
