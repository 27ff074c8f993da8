"""What thread workers share: their results reach the UI only while the worker is still wanted.

A thread worker cannot be stopped, only marked cancelled (its screen closed, or a newer run of an exclusive
worker replaced it); it checks before it delivers, so a stale result never overwrites a fresh one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.worker import get_current_worker


def wanted() -> bool:
    """Whether the current worker's result is still wanted (call in a thread worker, e.g. between long steps)."""
    return not get_current_worker().is_cancelled


def post(node: Any, message: Message) -> bool:
    """Post `message` to `node` from a thread worker, unless the worker was cancelled; whether it was posted."""
    return wanted() and node.post_message(message)


def deliver(node: Any, fn: Callable[..., Any], *args: Any) -> None:
    """Run fn(*args) on the UI thread from a worker, unless the worker was cancelled, the node has left the
    screen (the user went back) or the app is closing."""
    if not wanted():
        return

    def apply() -> None:
        if node.is_attached:
            fn(*args)

    try:
        node.app.call_from_thread(apply)
    except RuntimeError:  # the app has stopped
        pass
