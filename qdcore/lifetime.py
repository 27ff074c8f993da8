"""Child processes that end with their parent: the kernel's parent-death signal (Linux), for everything qd starts.

A study's workers, torchrun's ranks and `qdtui serve`'s app sessions are not meant to outlive the process that
started them: killed with it (kill -9 included), they get SIGTERM, stop after their step with a checkpoint and
exit, instead of training on as orphans that the store already calls interrupted. Runs launched detached on
purpose (`qd train` from the app, `qd study run --detach`) do not use this.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from functools import partial
from typing import Any, TypedDict

PR_SET_PDEATHSIG = 1
_prctl: Any = None


def _resolve() -> Any:
    """libc's prctl, looked up in the parent (a forked child must not load libraries); None off Linux."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        import ctypes  # lazy: keeps ctypes out of qd --help

        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):  # no prctl in this libc: children may outlive their parent, as before
            _prctl = False
    return _prctl or None


def die_with_parent(sig: int = signal.SIGTERM, parent: int | None = None) -> bool:
    """Have the kernel send this process `sig` when its parent dies; if `parent` (the pid expected) is already
    gone, send it now. Whether the kernel will (False off Linux)."""
    prctl = _resolve()
    if prctl is None:
        return False
    prctl(PR_SET_PDEATHSIG, int(sig))
    if parent is not None and os.getppid() != parent:  # the parent died before the signal was asked for
        os.kill(os.getpid(), sig)
    return True


class ChildOptions(TypedDict, total=False):
    """subprocess.Popen's keyword arguments that child_options sets."""

    preexec_fn: Callable[[], Any]


def child_options(sig: int = signal.SIGTERM) -> ChildOptions:
    """Keyword arguments for subprocess.Popen (or asyncio's) whose child gets `sig` when this process dies.

    The kernel ties the signal to the thread that forks: call it from a thread that lives as long as the child
    (the main thread, or the one waiting for the child)."""
    if _resolve() is None:
        return {}
    return {"preexec_fn": partial(die_with_parent, sig, os.getpid())}
