"""The store's drawings table: what people drew on the draw screen, with the model's guesses."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qdcore.errors import ConfigError
from qdcore.store.sql import inserted_id
from qdcore.store.sql import where as _where

_COLS = ("id, participant, word, run_id, game, round, strokes, guesses, recognized, recognized_ms, ms, t, knew_ink, "
         "knew_time")


@dataclass(frozen=True)
class DrawnRecord:
    """One stored drawing."""

    id: int
    participant: str
    word: str
    run_id: int | None
    game: str | None
    round: int | None
    strokes: list  # Google's raw [[x...], [y...], [t...]] per stroke
    guesses: list = field(default_factory=list)  # [[class, prob], ...] most probable first
    recognized: bool = False
    recognized_ms: float | None = None
    ms: float = 0.0
    t: float = 0.0
    knew_ink: float | None = None  # share of ink when the model knew (right and stayed right); inf: never; None: not replayed
    knew_time: float | None = None  # the same in drawing time


class DrawnStore:
    """Store methods for the drawings table (mixed into qdcore.store.Store)."""

    def add_drawing(self, participant: str, word: str, strokes: Sequence, *, run_id: int | None = None,
                    guesses: Sequence = (), recognized: bool = False, recognized_ms: float | None = None,
                    ms: float = 0.0, game: str | None = None, round: int | None = None,
                    knew_ink: float | None = None, knew_time: float | None = None) -> int:
        """Store one submitted drawing the moment it is made; returns its id."""
        participant = (participant or "").strip()
        if not participant:
            raise ConfigError("the drawer's name is empty: pass --name NAME")
        if not word:
            raise ConfigError("a drawing needs the category it was asked for")
        strokes = checked_strokes(strokes)
        if run_id is not None and not self.has_run(run_id):  # type: ignore[attr-defined]
            raise self._missing(run_id)  # type: ignore[attr-defined]
        row = (participant, word, run_id, game, round, json.dumps(strokes, allow_nan=False),
               json.dumps([[str(c), float(p)] for c, p in guesses]), int(bool(recognized)),
               None if recognized_ms is None else float(recognized_ms), float(ms), time.time(),
               _share(knew_ink), _share(knew_time))
        with self._errors(), self._write() as c:  # type: ignore[attr-defined]
            cur = c.execute("INSERT INTO drawings (participant, word, run_id, game, round, strokes, guesses, recognized,"
                            " recognized_ms, ms, t, knew_ink, knew_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return inserted_id(cur)

    def drawings(self, run_id: int | None = None, participant: str | None = None, word: str | None = None,
                 game: str | None = None) -> list[DrawnRecord]:
        """Stored drawings in the order they were made, optionally filtered."""

        where, args = _where(("run_id = ?", None if run_id is None else int(run_id)),
                             ("participant = ?", participant), ("word = ?", word), ("game = ?", game))
        rows = self._read(f"SELECT {_COLS} FROM drawings" + where + " ORDER BY id", args)  # type: ignore[attr-defined]
        return [_record(r) for r in rows]


def checked_strokes(strokes: Sequence) -> list:
    """Google's raw stroke lists, plain and checked as every stroke reader checks them: x, y (and t) of one
    length, finite numbers, a drawing's bounds; ConfigError saying what is wrong."""
    from qdcore.data.strokes import parse_drawing  # lazy: numpy (~0.1 s) is not needed to list runs or studies

    try:
        plain = [[[_plain(v) for v in axis] for axis in s] for s in strokes]
    except (TypeError, ValueError, OverflowError):
        raise ConfigError("a drawing's strokes must be lists of [x...], [y...] (and [t...]) numbers") from None
    if not any(s and len(s[0]) for s in plain):
        raise ConfigError("an empty drawing cannot be saved: draw something first")
    try:
        parse_drawing({"drawing": plain})
    except ValueError as e:
        raise ConfigError(f"the drawing cannot be saved: {e}") from None
    return plain


def _plain(v: Any) -> int | float:
    """A coordinate or time as a plain int or float (numpy scalars too; text and bools are refused)."""
    if isinstance(v, bool) or not hasattr(v, "__float__"):
        raise TypeError("not a number")
    return int(v) if float(v).is_integer() and not isinstance(v, float) else float(v)


def _loads(text: str | None, empty: Any) -> Any:
    """A stored JSON cell, or `empty` where it was tampered with (not JSON, or nested past any recursion limit)."""
    try:
        return json.loads(text) if text else empty
    except (ValueError, RecursionError):
        return empty


def _stored_strokes(text: str | None) -> list:
    """A row's strokes read defensively: [] (shown as no drawing) unless they pass the checks they were saved with."""
    try:
        return checked_strokes(_loads(text, []))
    except ConfigError:
        return []


def _guesses(text: str | None) -> list[tuple[str, float]]:
    try:
        return [(str(c), float(p)) for c, p in _loads(text, [])]
    except (TypeError, ValueError):
        return []


def _record(r: Any) -> DrawnRecord:
    return DrawnRecord(id=r["id"], participant=r["participant"], word=r["word"], run_id=r["run_id"], game=r["game"],
                       round=r["round"], strokes=_stored_strokes(r["strokes"]), guesses=_guesses(r["guesses"]),
                       recognized=bool(r["recognized"]), recognized_ms=r["recognized_ms"], ms=r["ms"], t=r["t"],
                       knew_ink=_share(r["knew_ink"]), knew_time=_share(r["knew_time"]))


def _share(v: Any) -> float | None:
    """A share in 0..1 or inf (never), else None (NULL, NaN, or another value written by something else)."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if 0.0 <= f <= 1.0 or f == math.inf else None
