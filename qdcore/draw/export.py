"""Stored drawings as Google's ndjson (raw, or simplified by Google's recipe), readable by every qd reader."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from qdcore.errors import DataError
from qdcore.paths import atomic_write_bytes

if TYPE_CHECKING:
    from qdcore.store import Store
    from qdcore.store.drawn import DrawnRecord


def google_timestamp(t: float) -> str:
    """Epoch seconds as Google writes them: '2017-03-10 22:17:57.57466 UTC'."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def ndjson_object(rec: DrawnRecord, simplified: bool = False) -> dict:
    """One drawing as Google's ndjson object, keys in Google's order."""
    from qdcore.data.simplify import simplify  # lazy: keeps numpy out of qd --help

    drawing = [list(map(list, s)) for s in simplify(rec.strokes)] if simplified else rec.strokes
    return {"word": rec.word, "countrycode": "", "timestamp": google_timestamp(rec.t),
            "recognized": bool(rec.recognized), "key_id": str(rec.id), "drawing": drawing}


def export_drawn(store: Store, out: str | os.PathLike, *, simplified: bool = False, run_id: int | None = None,
                 participant: str | None = None, skipped: list[int] | None = None) -> int:
    """Write the stored drawings to one .ndjson file atomically; returns how many.

    Rows whose strokes were tampered with (read back as no drawing) are left out, their ids added to `skipped`."""
    out = Path(out).expanduser()
    if out.suffix.lower() != ".ndjson":
        raise DataError(f"--out {str(out)!r} must end in .ndjson (Google's stroke format)")
    if out.is_dir():
        raise DataError(f"--out {str(out)!r} is a folder; give a file name ending in .ndjson")
    if not out.parent.is_dir():
        raise DataError(f"the folder of --out {str(out)!r} does not exist; create it first")
    rows = store.drawings(run_id=run_id, participant=participant)
    recs = [r for r in rows if r.strokes]
    if skipped is not None:
        skipped.extend(r.id for r in rows if not r.strokes)
    if not recs:
        which = " matching the filters" if run_id is not None or participant else ""
        raise DataError(f"there are no drawings{which} in {store.home}: draw some with 'qdtui draw'")
    text = "".join(json.dumps(ndjson_object(r, simplified), separators=(",", ":"), allow_nan=False) + "\n"
                   for r in recs)
    atomic_write_bytes(out, text.encode("utf-8"))
    return len(recs)
