"""Blocking reads the app runs in worker threads: data catalogs, samples, runs. No Textual here."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qdcore.errors import QDError, StoreUnavailable

if TYPE_CHECKING:
    import numpy as np

    from qdtui.store_gateway import StoreGateway

SAMPLES_PER_CATEGORY = 24


def user_message(exc: BaseException) -> str:
    """One line for the user: QDError text as is (a store trouble the gateway reported: only that), else with its type."""
    if isinstance(exc, StoreUnavailable) and exc.reported:
        return "the store is unavailable (the notice says why)"
    if isinstance(exc, QDError):
        return str(exc)
    if isinstance(exc, ImportError):
        return f"a qd component is missing ({exc}); reinstall qd"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'unexpected error'}"


@dataclass
class CategoryInfo:
    """One category of a source."""

    name: str
    count: int
    file: str


@dataclass
class Catalog:
    """What a data source holds."""

    spec: str
    source: Any  # qdcore.data.sources.Source
    description: str
    synthetic: bool
    categories: list[CategoryInfo] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Drawings over all categories."""
        return sum(c.count for c in self.categories)

    def summary(self) -> str:
        """'10 categories · 20,000 drawings'."""
        n = len(self.categories)
        return f"{n} categor{'y' if n == 1 else 'ies'} · {self.total:,} drawings"


def load_catalog(spec: str) -> Catalog:
    """Open a source spec ('demo', 'cache' or a path) and count its categories."""
    from qdcore.data.opener import open_source

    source = open_source(spec)
    cats = [CategoryInfo(c, int(source.count(c)), str(source.file_of(c))) for c in source.categories()]
    return Catalog(str(spec), source, source.describe(), bool(source.synthetic), cats)


class CatalogCache:
    """One catalog per spec, loaded once even when several screens ask at the same time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._catalogs: dict[str, Catalog] = {}

    def get(self, spec: str) -> Catalog:
        """The catalog of a spec (blocking; call from a worker thread)."""
        with self._lock:
            cat = self._catalogs.get(spec)
            if cat is None:
                cat = self._catalogs[spec] = load_catalog(spec)
            return cat

    def peek(self, spec: str) -> Catalog | None:
        """The catalog if it is already loaded, without blocking."""
        return self._catalogs.get(spec)


@dataclass
class Samples:
    """Sample drawings of one category and the rows they came from."""

    category: str
    images: np.ndarray  # uint8 (n, 28, 28)
    rows: np.ndarray  # int64 (n,)
    file: str


def sample_rows(count: int, n: int, seed: int = 0) -> np.ndarray:
    """n distinct rows of count, sorted, the same for a seed."""
    import numpy as np

    if count <= n:
        return np.arange(count, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(count, size=n, replace=False)).astype(np.int64)


def load_samples(catalog: Catalog, category: str, n: int = SAMPLES_PER_CATEGORY, seed: int = 0) -> Samples:
    """Read n sample drawings of a category (rows chosen by seed)."""
    import numpy as np

    info = next((c for c in catalog.categories if c.name == category), None)
    count = info.count if info else int(catalog.source.count(category))
    rows = sample_rows(count, n, seed)
    images = np.asarray(catalog.source.read(category, rows)).reshape(-1, 28, 28)
    return Samples(category, images, rows, info.file if info else str(catalog.source.file_of(category)))


@dataclass
class RecentRuns:
    """Runs for a table and, when there are none or the store failed, why."""

    runs: list[Any]  # qdcore.store RunRecord
    note: str = ""
    ok: bool = True


def load_recent_runs(stores: StoreGateway, limit: int = 10) -> RecentRuns:
    """The newest runs of the app's store but study trials (the Studies screen has those), or none with a note
    saying why."""
    try:
        store = stores.open()
    except Exception as e:  # noqa: BLE001 - locked/corrupt stores become a note, not a crash
        return RecentRuns([], f"could not open the run store: {user_message(e)}", ok=False)
    try:
        runs = list(store.list_runs(limit=limit, top_level=True))
    except Exception as e:  # noqa: BLE001
        return RecentRuns([], f"could not read runs: {user_message(e)}", ok=False)
    note = "" if runs else "No runs yet: press t to train, or start `qd train` in another terminal."
    return RecentRuns(runs, note)


def find_run(stores: StoreGateway, run_id: int) -> tuple[Any | None, str]:
    """(record, '') for an existing run of the app's store, else (None, why) in one line."""
    try:
        store = stores.open()
    except Exception as e:  # noqa: BLE001
        return None, f"could not open the run store at {stores.home()}: {user_message(e)}"
    try:
        return store.get_run(run_id), ""
    except Exception as e:  # noqa: BLE001 - StoreError for a missing run
        return None, user_message(e)


ACCURACY_KEYS = ("test_top1", "top1", "val_top1", "best_val_top1")


def run_accuracy(run: Any) -> float | None:
    """The run's headline top-1 from its summary (test first, then validation), if any."""
    summary = getattr(run, "summary", None) or {}
    for key in ACCURACY_KEYS:
        v = summary.get(key)
        if isinstance(v, (int, float)):
            return float(v)
    return None
