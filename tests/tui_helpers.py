"""Helpers for the Pilot tests of qdtui: run async tests, wait for workers or for a condition."""

from __future__ import annotations

import asyncio
import functools
import time


def sync(fn):
    """Run an async test without an asyncio pytest plugin."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


async def settle(app, pilot) -> None:
    """Let workers finish and their messages land."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def wait_for(pilot, cond, timeout: float = 30.0, what: str = "condition") -> None:
    """Pause the app until cond() holds; fail after timeout seconds.

    A widget the condition queries may not be composed yet right after a push_screen: that counts as not yet.
    """
    from textual.css.query import NoMatches

    def holds() -> bool:
        try:
            return bool(cond())
        except NoMatches:
            return False

    from helpers import scaled_timeout

    end = time.monotonic() + scaled_timeout(timeout)
    while not holds():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def open_train_form(app, pilot):
    """Press t on the home screen and return the Train form once it is up."""
    from qdtui.screens.train import TrainScreen

    await pilot.pause()
    await pilot.press("t")
    await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen), what="the train form")
    return app.screen


def pressing(*keys: str, settle_with=settle):
    """A snap_compare `run_before`: settle, then press each key and settle again (settle_with(app, pilot))."""

    async def run_before(pilot) -> None:
        await settle_with(pilot.app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle_with(pilot.app, pilot)

    return run_before
