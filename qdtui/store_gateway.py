"""The app's one way to the run store: opened on first use, shared by every screen and worker, closed on exit.

Screens and workers never build `Store(home)` themselves: they ask `stores(self).open(self.home)`. A store is
opened once per directory (it is safe to share between threads: each thread gets its own connection), a
failed open is not remembered (the next read tries again), and the app closes every store when it ends.

A store that cannot be used (corrupt, locked, unreadable: qdcore.errors.StoreUnavailable, at open or at any
read later) is reported here, once for every screen and worker that meets it (again only after
NOTICE_AGAIN_S): one notice with the reason and what to do, while each screen's own line says only that it
could not read (loaders.user_message).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdcore.errors import StoreUnavailable

if TYPE_CHECKING:
    from qdcore.store import Store

NOTICE_AGAIN_S = 60.0  # the same store trouble is told again after this long (it may have been fixed meanwhile)


def _default_home() -> Path:
    from qdcore.paths import qd_home

    return qd_home()


class StoreGateway:
    """The run stores of one app, one per directory."""

    def __init__(self, default_home: Callable[[], Path] = _default_home,
                 notify: Callable[[str], None] | None = None) -> None:
        self._default_home = default_home
        self._stores: dict[Path, Store] = {}
        self._lock = threading.Lock()  # workers open stores from their own threads
        self.notify = notify  # how the app shows one notice (thread-safe)
        self._told: dict[str, float] = {}  # trouble reported -> when

    def report(self, error: StoreUnavailable) -> None:
        """Tell the user once why the store cannot be used; the error is marked reported for user_message."""
        error.reported = True
        now, text = time.monotonic(), str(error)
        with self._lock:
            if now - self._told.get(text, -math.inf) < NOTICE_AGAIN_S:
                return
            self._told[text] = now
        if self.notify is not None:
            self.notify(text)

    def home(self, home: str | Path | None = None) -> Path:
        """The store directory in use: the one given (a screen opened on another store), else the app's."""
        from qdcore.paths import qd_home

        return qd_home(home) if home is not None else Path(self._default_home())

    def open(self, home: str | Path | None = None, *, reap: bool = True) -> Store:
        """The store at `home` (the app's by default); `reap` first marks runs whose process died as interrupted.

        Raises what qdcore.store raises (a StoreError for a bad or locked store): callers turn it into their line.
        """
        from qdcore.store import Store

        path = self.home(home)
        try:
            with self._lock:
                store = self._stores.get(path)
                if store is None:
                    store = Store(path, reap=False)
                    store.on_unavailable = self.report  # trouble met later, in any read, is reported here too
                    self._stores[path] = store
            if reap:
                store.reap()
        except StoreUnavailable as e:
            self.report(e)
            raise
        return store

    def close(self) -> None:
        """Close every store's connections (the app is ending)."""
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()


def stores(node: Any) -> StoreGateway:
    """The gateway of the app `node` belongs to (a bare app hosting one screen, as in tests, gets one too)."""
    app = node.app
    gateway = getattr(app, "stores", None)
    if not isinstance(gateway, StoreGateway):
        state = getattr(app, "state", None)
        home = (lambda: state.store_home) if hasattr(state, "store_home") else _default_home
        gateway = StoreGateway(home, lambda text: store_notice(app, text))
        app.stores = gateway
    return gateway


def store_notice(app: Any, text: str) -> None:
    """The one notice of a store that cannot be used (App.notify is thread-safe; names and paths shown literally)."""
    app.notify(text, title="Run store unavailable", severity="error", timeout=20)
