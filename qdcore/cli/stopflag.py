"""StopFlag: what asks a foreground run to stop after its step with a checkpoint (signals, and output that is gone)."""

from __future__ import annotations

import errno
import os
import select
import signal
from collections.abc import Callable
from typing import Any

from qdcore.cli.common import err_console

# A dropped SSH session hangs up the terminal (SIGHUP, then EIO on writes); `qd train | head` closes the pipe (EPIPE).
GONE = (errno.EPIPE, errno.EIO)


def _gone(fd: int) -> bool:
    """Whether nobody reads `fd` any more: a pipe whose reader closed, a hung-up terminal (poll says so at once)."""
    try:
        p = select.poll()
        p.register(fd, 0)
        return any(ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _, ev in p.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll (Windows), or fd closed
        return True


class StopFlag:
    """SIGINT/SIGTERM/SIGHUP ask the engine to stop after the current step; a second Ctrl-C aborts at once.

    Output nobody reads any more stops the run the same way (a checkpoint, status interrupted), not as a failure."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.requested

    def _say(self, text: str) -> None:
        try:
            err_console.print(text, highlight=False)
        except OSError as e:
            if e.errno not in GONE:
                raise
            self.silence()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self.requested:  # a repeated SIGTERM (a rank told by the launcher and by its death): said already
            return
        self.requested = True
        if signum == getattr(signal, "SIGHUP", None):
            self.silence()  # the terminal is gone: nothing more can be shown
            return
        self._say("[yellow]qd: stopping after this step and saving a checkpoint (Ctrl-C again to abort now)[/]")

    @staticmethod
    def silence() -> None:
        """Send what would go to a standard stream nobody reads to /dev/null (no error at every later print)."""
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in (1, 2):
                if _gone(fd):
                    os.dup2(null, fd)
        finally:
            os.close(null)

    def guard(self, sink: Callable[[Any], None]) -> Callable[[Any], None]:
        """`sink` that, when its output is gone, asks the run to stop (with a checkpoint) instead of failing it."""

        def forward(event: Any) -> None:
            try:
                sink(event)
            except OSError as e:
                if e.errno not in GONE:
                    raise
                self.silence()
                if not self.requested:
                    self.requested = True
                    self._say("[yellow]qd: output closed; stopping after this step and saving a checkpoint[/]")

        return forward

    def __enter__(self) -> StopFlag:
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: the caller's should_stop is all we get
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
