"""Thread workers deliver nothing once cancelled, and one store serves every screen (qdtui.workers, store_gateway)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from textual import work
from textual.app import App
from textual.message import Message
from tui_helpers import settle, sync, wait_for

from qdtui.store_gateway import StoreGateway, stores
from qdtui.workers import post


@dataclass
class Result(Message):
    """What the worker computed."""

    value: int


class Host(App[None]):
    """A bare app whose exclusive thread worker waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[int] = []
        self.gates: dict[int, threading.Event] = {}
        self.started: list[int] = []

    @work(thread=True, exclusive=True, group="compute", exit_on_error=False)
    def compute(self, value: int) -> None:
        self.started.append(value)
        self.gates[value].wait(30)
        post(self, Result(value))

    def on_result(self, message: Result) -> None:
        self.got.append(message.value)


@sync
async def test_a_replaced_worker_posts_nothing():
    app = Host()
    async with app.run_test() as pilot:
        app.gates = {1: threading.Event(), 2: threading.Event()}
        app.compute(1)
        await wait_for(pilot, lambda: app.started == [1], what="the first worker")
        app.compute(2)  # exclusive: the first is cancelled while it still computes
        await wait_for(pilot, lambda: app.started == [1, 2], what="the second worker")
        app.gates[2].set()
        await wait_for(pilot, lambda: app.got == [2], what="the second result")
        app.gates[1].set()  # the stale result comes last and must not overwrite the fresh one
        await settle(app, pilot)
        assert app.got == [2]


@sync
async def test_every_screen_shares_one_store_per_directory(tmp_path):
    app = Host()
    async with app.run_test():
        gateway = stores(app.screen)
        assert isinstance(gateway, StoreGateway) and stores(app) is gateway
        a, b = gateway.open(tmp_path / "h"), gateway.open(tmp_path / "h", reap=False)
        assert a is b and gateway.home(tmp_path / "h") == a.home
        assert gateway.open(tmp_path / "other") is not a
        rid = a.create_run("x", "classifier", {})
        gateway.close()
        assert gateway.open(tmp_path / "h").get_run(rid).name == "x"  # a closed gateway opens afresh
        gateway.close()
