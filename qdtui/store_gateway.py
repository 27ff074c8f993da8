"""The app's one way to the run store: opened on first use, shared by every screen and worker, closed on exit.

Screens and workers never build `Store(home)` themselves: they ask `stores(self).open(self.home)`. A store is
opened once per directory (it is safe to share between threads: each thread gets its own connection), a
failed open is not remembered (the next read tries again), and the app closes every store when it ends.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from qdcore.store import Store


def _default_home() -> Path:
    from qdcore.paths import qd_home

    return qd_home()


class StoreGateway:
    """The run stores of one app, one per directory."""

    def __init__(self, default_home: Callable[[], Path] = _default_home) -> None:
        self._default_home = default_home
        self._stores: dict[Path, Store] = {}
        self._lock = threading.Lock()  # workers open stores from their own threads

    def home(self, home: str | Path | None = None) -> Path:
        """The store directory in use: the one given (a screen opened on another store), else the app's."""
        from qdcore.paths import qd_home

        return qd_home(home) if home is not None else Path(self._default_home())

    def open(self, home: str | Path | None = None, *, reap: bool = True) -> "Store":
        """The store at `home` (the app's by default); `reap` first marks runs whose process died as interrupted.

        Raises what qdcore.store raises (a StoreError for a bad or locked store): callers turn it into their line.
        """
        from qdcore.store import Store

        path = self.home(home)
        with self._lock:
            store = self._stores.get(path)
            if store is None:
                store = Store(path, reap=False)
                self._stores[path] = store
        if reap:
            store.reap()
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
        gateway = StoreGateway(lambda: state.store_home) if hasattr(state, "store_home") else StoreGateway()
        app.stores = gateway
    return gateway
