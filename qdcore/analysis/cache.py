"""Analysis results kept on disk in the run's folder, keyed by what they were computed from and with which parameters.

A result (clusters, Grad-CAM maps) takes tens of seconds on a CPU; the app and `qd analyze` compute it once per
run and parameters. The key covers the parameters and the size and time of the run's predictions and model
files, so re-evaluating or resuming a run makes new results. Files are .npz without pickle (arrays plus one JSON
string), written atomically; an unreadable one is recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qdcore.paths import atomic_write_bytes

FOLDER = "analysis"
_SOURCES = ("predictions.npz", "model.safetensors", "model.txt", "model.json")

T = TypeVar("T")
Arrays = dict[str, np.ndarray]


def cache_path(run_dir: Path, name: str, params: dict[str, Any]) -> Path:
    """runs/<id>/analysis/<name>-<key>.npz for these parameters and the run's current files."""
    stamp = []
    for f in _SOURCES:
        try:
            st = (Path(run_dir) / f).stat()
            stamp.append([f, st.st_size, st.st_mtime_ns])
        except OSError:
            continue
    text = json.dumps({"params": params, "files": stamp}, sort_keys=True, default=str)
    return Path(run_dir) / FOLDER / f"{name}-{hashlib.sha1(text.encode()).hexdigest()[:16]}.npz"


def save(path: Path, arrays: Arrays, meta: dict[str, Any]) -> None:
    """Arrays and a JSON-ready dict as one .npz (atomic)."""
    buf = io.BytesIO()
    text = json.dumps(meta, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    np.savez(buf, allow_pickle=True, **arrays, __meta__=np.array(text))  # numpy's default, named so the stubs know **arrays fills only the arrays
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def load(path: Path) -> tuple[Arrays, dict[str, Any]] | None:
    """(arrays, meta) of a saved result, None when missing or unreadable (it is then computed again)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
            meta = json.loads(str(z["__meta__"]))
    except (OSError, ValueError, KeyError):
        return None
    return arrays, meta


def cached(run_dir: Path | None, name: str, params: dict[str, Any], compute: Callable[[], T],
           pack: Callable[[T], tuple[Arrays, dict[str, Any]]],
           unpack: Callable[[Arrays, dict[str, Any]], T]) -> T:
    """The result for these parameters from the run's folder, else computed and kept there (best effort)."""
    if run_dir is None:
        return compute()
    path = cache_path(Path(run_dir), name, params)
    got = load(path)
    if got is not None:
        try:
            return unpack(*got)
        except (KeyError, ValueError, TypeError):
            pass  # written by another version: computed again below
    result = compute()
    try:
        save(path, *pack(result))
    except OSError:
        pass  # a read-only run folder: the result is still returned
    return result
