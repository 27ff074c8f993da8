"""qd's own actions in the command palette (ctrl+p): train, runs, quiz, data, open run N."""

from __future__ import annotations

import asyncio
import re
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from qdtui.routes import ROUTES
from qdtui.store_gateway import stores

PALETTE = ("train", "runs", "quiz", "data")  # routes offered by name, in this order (their text: qdtui.routes)
RECENT = 10  # runs offered by name


class QdCommands(Provider):
    """Open qd's screens and its recent runs by name or number."""

    async def startup(self) -> None:
        """Read the newest runs off the UI thread (the palette opens at once)."""
        self.runs: list[Any] = []
        try:
            self.runs = await asyncio.to_thread(self._recent)
        except Exception:  # noqa: BLE001 - no store, or a locked one: the screens are still offered
            self.runs = []

    def _recent(self) -> list[Any]:
        return stores(self).open().list_runs(limit=RECENT)

    def _commands(self) -> list[tuple[str, str, Any]]:
        out = [(ROUTES[n].title, ROUTES[n].about, partial(self.app.action_open, n)) for n in PALETTE]
        for mode, name in (("halfblock", "half-blocks"), ("kitty", "kitty graphics"), ("sixel", "sixel")):
            out.append((f"Drawings as {name}", "how drawings are drawn (real pixels need a terminal that shows them)",
                        partial(self.app.set_graphics, mode)))
        for run in self.runs:
            out.append((f"Open run {run.id} {run.name}", f"{run.kind} · {run.status}",
                        partial(self.app.open_run, run.id, run.status, run.kind)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
        m = re.fullmatch(r"\s*(?:open\s+)?(?:run\s+)?#?(\d{1,9})\s*", query, re.IGNORECASE)
        if m and int(m.group(1)) not in {r.id for r in self.runs}:
            run_id = int(m.group(1))
            yield Hit(1.0, f"Open run {run_id}", partial(self._open_any, run_id), help="look it up in the store")

    def _open_any(self, run_id: int) -> None:
        """A run not among the recent ones: looked up (one row), then opened as its kind says."""
        try:
            run = stores(self).open().get_run(run_id)
        except Exception as e:  # noqa: BLE001 - no such run: a notification
            from qdtui.loaders import user_message

            self.app.notify(user_message(e), severity="warning")
            return
        self.app.open_run(run.id, run.status, run.kind)
