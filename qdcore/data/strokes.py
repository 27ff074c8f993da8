"""Stroke files: Google's simplified and raw ndjson and its binary format, read as 28x28 bitmaps.

Files are indexed once (line or record offsets, cached per file) so counting drawings
never parses every line; reading parses only the rows asked for. Raw drawings go
through Google's simplification first, then everything through the rasteriser.
Files of any size are read through a memory map in bounded chunks; a drawing is
bounded too (MAX_LINE_BYTES, MAX_STROKES, MAX_POINTS), so one hostile line costs
milliseconds. Malformed lines are skipped, counted and remembered with their line
numbers; every command reports them with `bad_lines_note` (or refuses the file: strict).
"""

from __future__ import annotations

import json
import math
import mmap
import os
import re
import struct
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qdcore.data.categories import category_from_stem
from qdcore.data.raster import rasterize_many
from qdcore.data.simplify import simplify
from qdcore.data.sources import FileSource, files_by_category
from qdcore.errors import DataError
from qdcore.paths import atomic_write_bytes, regular_file

KIND_SIMPLIFIED = "ndjson-simplified"
KIND_RAW = "ndjson-raw"
KIND_BINARY = "google-binary"
SUFFIXES = (".ndjson", ".bin")
# Google's cloud folders name files plainly; other mirrors prefix them.
PREFIXES = ("full_simplified_", "full_raw_", "full_binary_", "full-simplified-", "full-raw-", "full-binary-")
# Small files are fully validated when indexed, so count() is exact; larger ones get a cheap
# check in numpy ('{' ... '}', the line's length, its '[' count; lines with NaN or Infinity are parsed),
# and a line that still fails to parse on reading (a ragged stroke) is drawn blank and recorded.
FULL_CHECK_BYTES = 8 << 20
CHUNK_BYTES = 64 << 20  # newline scans and word counts walk a file in chunks of this size
# One drawing's bounds: Google's raw files peak at 55 strokes, 1,174 points and 37 KB a line.
MAX_LINE_BYTES = 2 << 20
MAX_STROKES = 1_000
MAX_POINTS = 100_000

_HEAD = struct.Struct("<Q2sBIH")  # key_id, countrycode, recognized, timestamp, n_strokes
_U16 = struct.Struct("<H")


@dataclass
class Drawing:
    """One Quick, Draw! drawing: strokes as (xs, ys) plus Google's metadata."""

    strokes: list[tuple[list, list]]
    word: str = ""
    countrycode: str = ""
    timestamp: str | int | None = None  # ndjson: '2017-03-10 22:17:57.57466 UTC'; binary: epoch seconds
    recognized: bool | None = None
    key_id: str = ""
    raw: bool = False  # screen coordinates (raw ndjson): simplify before rasterising
    times: list[list] | None = None  # per stroke, each point's time in ms (raw ndjson, the draw canvas); None: unknown

    def simplified(self) -> list[tuple[list, list]]:
        """Strokes in Google's 0..255 simplified space (simplifying raw strokes first)."""
        if not self.raw:
            return self.strokes

        return simplify(self.strokes)


# ---------------------------------------------------------------- ndjson


def parse_drawing(obj: object) -> Drawing:
    """A Drawing from one parsed ndjson object; ValueError saying what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    if "drawing" not in obj:
        raise ValueError("no 'drawing' field")
    raw_strokes = obj["drawing"]
    if not isinstance(raw_strokes, list):
        raise ValueError("'drawing' is not a list of strokes")
    if "word" in obj and not isinstance(obj["word"], str):
        raise ValueError("'word' is not a string")
    if len(raw_strokes) > MAX_STROKES:
        raise ValueError(f"{len(raw_strokes):,} strokes; a drawing has at most {MAX_STROKES:,}")
    strokes: list[tuple[list, list]] = []
    times: list[list] = []
    timed = False
    lo, hi = math.inf, -math.inf
    points = 0
    for k, s in enumerate(raw_strokes):
        if not isinstance(s, list) or len(s) not in (2, 3) or not all(isinstance(a, list) for a in s):
            raise ValueError(f"stroke {k} is not [[x...], [y...]] or [[x...], [y...], [t...]]")
        xs, ys = s[0], s[1]
        points += len(xs)
        if points > MAX_POINTS:
            raise ValueError(f"more than {MAX_POINTS:,} points; a drawing has at most {MAX_POINTS:,}")
        if len(xs) != len(ys) or (len(s) == 3 and len(s[2]) != len(xs)):
            raise ValueError(f"stroke {k} has {len(xs)} x values but {len(ys)} y values"
                             + (f" and {len(s[2])} times" if len(s) == 3 else ""))
        if not xs:
            continue
        try:
            a = np.array([xs, ys])
        except (TypeError, ValueError):
            a = np.zeros(0, object)
        if a.ndim != 2 or a.dtype.kind not in "iuf" or not np.isfinite(a).all() or not _plain_numbers(xs, ys):
            raise ValueError(f"stroke {k} holds values that are not finite numbers")
        if len(s) == 3 and not _plain_numbers(s[2]):
            raise ValueError(f"stroke {k} has times that are not numbers")
        timed |= len(s) == 3
        lo, hi = min(lo, a.min()), max(hi, a.max())
        strokes.append((xs, ys))
        times.append(list(s[2]) if len(s) == 3 else [])
    if not strokes:
        raise ValueError("the drawing has no points")
    # Untimed strokes outside 0..255 are raw-like screen coordinates: normalise them too.
    raw = timed or lo < 0 or hi > 255
    rec = obj.get("recognized")
    every_timed = all(len(t) == len(xs) for t, (xs, _) in zip(times, strokes))
    return Drawing(strokes, str(obj.get("word", "")), str(obj.get("countrycode", "")), obj.get("timestamp"),
                   rec if isinstance(rec, bool) else None, str(obj.get("key_id", "")), raw,
                   times if every_timed else None)


def _plain_numbers(*seqs: list) -> bool:
    """Every value an int or float: JSON true/false and strings are not coordinates or times."""
    return all(v.__class__ is int or v.__class__ is float for seq in seqs for v in seq)


def parse_line(line: bytes | str) -> Drawing:
    """A Drawing from one ndjson line; ValueError saying what is wrong."""
    # Each stroke opens 3 or 4 lists: far more brackets than MAX_STROKES allow is refused before parsing.
    if (line.count(b"[") if isinstance(line, bytes) else line.count("[")) > _MAX_BRACKETS:
        raise ValueError(_too_many_strokes())
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as e:
        msg = str(e).split(":")[0] if str(e) else type(e).__name__
        raise ValueError(f"not valid JSON ({msg})") from None
    return parse_drawing(obj)


def _cheap_check(line: bytes) -> str | None:
    """Why a line cannot be a drawing, judged without parsing it (None: looks fine)."""
    if not line.startswith(b"{"):
        return "not a JSON object"
    if not line.endswith(b"}"):
        return "truncated (no closing brace)"
    if b'"drawing"' not in line:
        return "no 'drawing' field"
    return None


def _line_spans(buf: memoryview | bytes | mmap.mmap, size: int) -> np.ndarray:
    """(start, end) byte offsets of line i + 1, newline excluded; newlines found in chunks to bound memory."""
    ends = []
    step = CHUNK_BYTES
    for off in range(0, size, step):
        chunk = np.frombuffer(buf[off:off + step], dtype=np.uint8)
        ends.append(np.flatnonzero(chunk == 10) + off)
    nl = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    starts = np.r_[0, nl + 1]
    stops = np.r_[nl, size]
    if starts[-1] == size:  # nothing after the final newline: not a line
        starts, stops = starts[:-1], stops[:-1]
    return np.stack([starts, stops], axis=1).astype(np.int64)


def _count(buf, size: int, pattern: bytes) -> int:
    """Occurrences of `pattern` in a buffer of any size, counted chunk by chunk (a match across a boundary once)."""
    n, step, tail = 0, CHUNK_BYTES, len(pattern) - 1
    for off in range(0, size, step):
        # A match starting in this chunk may end up to len - 1 bytes into the next one.
        n += bytes(buf[off:min(size, off + step + tail)]).count(pattern)
    return n


# ---------------------------------------------------------------- Google's binary format


def _record_head(buf, off: int, size: int) -> tuple:
    """(key_id, countrycode, recognized, timestamp, n_strokes) of the record at `off`; ValueError if it is bad."""
    if off + _HEAD.size > size:
        raise ValueError(f"truncated header ({size - off} bytes left)")
    head = _HEAD.unpack_from(buf, off)
    recognized, n_strokes = head[2], head[4]
    if recognized > 1:
        raise ValueError(f"recognized byte is {recognized}, not 0 or 1")
    if n_strokes == 0:
        raise ValueError("a drawing with no strokes")
    return head


def _parse_record(buf, off: int, size: int) -> tuple[Drawing, int]:
    """The binary record at byte `off` and the offset after it; ValueError if it does not fit."""
    key_id, cc, recognized, ts, n_strokes = _record_head(buf, off, size)
    off += _HEAD.size
    strokes = []
    for k in range(n_strokes):
        if off + 2 > size:
            raise ValueError(f"truncated in stroke {k}")
        (n,) = _U16.unpack_from(buf, off)
        off += 2
        if n == 0:
            raise ValueError(f"stroke {k} has no points")
        if off + 2 * n > size:
            raise ValueError(f"truncated in stroke {k}")
        pts = bytes(buf[off:off + 2 * n])
        strokes.append((list(pts[:n]), list(pts[n:])))
        off += 2 * n
    return Drawing(strokes, "", cc.decode("latin-1"), ts, bool(recognized), str(key_id)), off


def _skip_record(buf, off: int, size: int) -> int:
    """Offset after the record at `off`, checking only its structure (fast index scan)."""
    return _scan_record(buf, off, size)[0]


def _scan_record(buf, off: int, size: int) -> tuple[int, str | None]:
    """(offset after the record at `off`, why it is over a drawing's bounds or None); ValueError if malformed."""
    n_strokes = _record_head(buf, off, size)[4]
    off += _HEAD.size
    points = 0
    for k in range(n_strokes):
        if off + 2 > size:
            raise ValueError(f"truncated in stroke {k}")
        (n,) = _U16.unpack_from(buf, off)
        if n == 0:
            raise ValueError(f"stroke {k} has no points")
        points += n
        off += 2 + 2 * n
        if off > size:
            raise ValueError(f"truncated in stroke {k}")
    if n_strokes > MAX_STROKES:
        return off, f"{n_strokes:,} strokes; a drawing has at most {MAX_STROKES:,}"
    if points > MAX_POINTS:
        return off, f"{points:,} points; a drawing has at most {MAX_POINTS:,}"
    return off, None


def _epoch(ts: str | int | None) -> int:
    """Binary timestamps are uint32 epoch seconds; ndjson ones are 'YYYY-MM-DD HH:MM:SS.ffffff UTC'."""
    if ts is None or ts == "":
        return 0
    if isinstance(ts, (int, np.integer)):
        return int(ts)
    text = str(ts).replace(" UTC", "").strip()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


def encode_google_binary(drawings: Iterable[Drawing]) -> bytes:
    """Google's binary format for simplified drawings (coordinates must be integers in 0..255)."""
    out = bytearray()
    for i, d in enumerate(drawings):
        key = int(d.key_id) if str(d.key_id).isdigit() else i
        cc = (d.countrycode or "").encode("ascii", "replace")[:2].ljust(2, b"\0")
        out += _HEAD.pack(key, cc, 1 if d.recognized else 0, _epoch(d.timestamp) & 0xFFFFFFFF, len(d.strokes))
        for xs, ys in d.strokes:
            x = np.asarray(xs)
            y = np.asarray(ys)
            if x.size == 0 or x.size != y.size or x.size > 0xFFFF:
                raise ValueError(f"drawing {i}: a stroke with {x.size} x and {y.size} y values cannot be encoded")
            if x.min() < 0 or y.min() < 0 or x.max() > 255 or y.max() > 255:
                raise ValueError(f"drawing {i}: coordinates outside 0..255; simplify raw strokes first")
            out += _U16.pack(x.size) + x.astype(np.uint8).tobytes() + y.astype(np.uint8).tobytes()
    return bytes(out)


def write_google_binary(path: str | os.PathLike, drawings: Iterable[Drawing]) -> None:
    """Write drawings as a Google binary `.bin` file, atomically."""
    atomic_write_bytes(Path(path), encode_google_binary(drawings))


def looks_like_google_binary(path: str | os.PathLike, probe: int = 1 << 20, records: int = 16) -> bool:
    """True if the first records of a file parse as Google's binary stroke format.

    Tells a stroke `.bin` from a headerless dump of 784-byte bitmaps: bitmap bytes almost
    never form consecutive well-shaped records (letters for a country code, 0/1 for
    `recognized`, strokes that end exactly where the next record or the file begins).
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            buf = f.read(min(size, probe))
    except OSError:
        return False
    whole = len(buf) == size
    off, seen = 0, 0
    while seen < records and off < len(buf):
        cc = buf[off + 8:off + 10]
        if len(cc) == 2 and not (cc == b"\0\0" or all(48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 for c in cc)):
            return False  # country codes are two letters (Google's own files) or empty
        try:
            off = _skip_record(buf, off, len(buf))
        except ValueError:
            if whole:
                return False  # the whole file was probed, so this record really is malformed
            break  # the probe window cut a record in half
        seen += 1
    return seen > 0


# ---------------------------------------------------------------- per-file index


@dataclass
class FileIndex:
    """Where each drawing of one stroke file lies, and which lines were malformed."""

    path: Path
    kind: str
    spans: np.ndarray  # int64 (n, 2): byte start and end of each good-looking line / record
    linenos: np.ndarray  # int64 (n,): 1-based line (ndjson) or record (binary) number
    bad: list[tuple[int, str]] = field(default_factory=list)
    lines: int = 0  # non-blank lines (records) in the file, good and bad: the "of N" of the skipped note

    def __len__(self) -> int:
        return int(self.spans.shape[0])


_INDEX_CACHE: OrderedDict[tuple[str, int, int], FileIndex] = OrderedDict()
_INDEX_CACHE_FILES = 64  # an index costs ~20 bytes a drawing; keep only recently used files


def _open_buffer(path: Path, size: int):
    """A read-only buffer over the whole file (mmap; bytes for empty files)."""
    if size == 0:
        return b""
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _sniff_kind(path: Path) -> str:
    """ndjson-raw, ndjson-simplified or google-binary, from the file's first drawings."""
    if path.suffix.lower() == ".bin":
        return KIND_BINARY
    try:
        with open(path, "rb") as f:
            for _ in range(20):
                line = f.readline(MAX_LINE_BYTES + 1)  # bounded: a file of one endless line is not read whole
                if not line:
                    break
                if len(line) > MAX_LINE_BYTES:
                    while line and not line.endswith(b"\n"):
                        line = f.readline(MAX_LINE_BYTES)
                    continue
                try:
                    d = parse_line(line.strip())
                except ValueError:
                    continue
                return KIND_RAW if d.raw else KIND_SIMPLIFIED
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check the file's permissions") from None
    return KIND_SIMPLIFIED


def index_file(path: str | os.PathLike, kind: str | None = None) -> FileIndex:
    """Index a stroke file once (cached by path, size and mtime); DataError if nothing in it is a drawing.

    kind: KIND_BINARY or an ndjson kind when the name does not say (a download's `.part` file)."""
    path = Path(path)
    st = regular_file(path, "a stroke file")
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _INDEX_CACHE:
        _INDEX_CACHE.move_to_end(key)
        return _INDEX_CACHE[key]
    kind = kind if kind == KIND_BINARY else _sniff_kind(path)
    try:
        buf = _open_buffer(path, st.st_size)
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}; check the file's permissions") from None
    try:
        if kind == KIND_BINARY:
            idx = _index_binary(path, buf, st.st_size)
        else:
            idx = _index_ndjson(path, buf, st.st_size, kind)
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    idx.lines = len(idx) + len(idx.bad)
    if len(idx) == 0:
        what = "records" if kind == KIND_BINARY else "lines"
        if idx.bad:
            raise DataError(f"{path}: all {len(idx.bad):,} {what} are malformed ({_summary(idx.bad, 3)}); "
                            "it is not a Quick, Draw! stroke file or it is corrupt")
        raise DataError(f"{path} holds no drawings; remove it or point --data elsewhere")
    _INDEX_CACHE[key] = idx
    while len(_INDEX_CACHE) > _INDEX_CACHE_FILES:
        _INDEX_CACHE.popitem(last=False)
    return idx


def _index_ndjson(path: Path, buf, size: int, kind: str) -> FileIndex:
    spans = _line_spans(buf, size)
    if size > FULL_CHECK_BYTES:
        return _index_ndjson_fast(path, buf, spans, kind)
    good, linenos, bad = [], [], []
    for i, (a, b) in enumerate(spans.tolist()):
        if b - a > MAX_LINE_BYTES:
            bad.append((i + 1, _long_line(b - a)))
            continue
        line = bytes(buf[a:b]).strip()
        if not line:
            continue  # blank lines are not drawings, nor errors
        why = _cheap_check(line)
        if why is None:
            try:
                parse_line(line)
            except ValueError as e:
                why = str(e)
        if why is None:
            good.append((a, b))
            linenos.append(i + 1)
        else:
            bad.append((i + 1, why))
    arr = np.asarray(good, np.int64).reshape(-1, 2)
    return FileIndex(path, kind, arr, np.asarray(linenos, np.int64), bad)


def _index_ndjson_fast(path: Path, buf, spans: np.ndarray, kind: str) -> FileIndex:
    """Big files: judge lines by their first and last bytes and length in numpy, long lines by their '[' count,
    and parse only the lines holding a NaN or Infinity token."""
    data = np.frombuffer(buf, dtype=np.uint8)
    a, b = spans[:, 0], spans[:, 1]
    b = b - ((b > a) & (data[np.maximum(b - 1, 0)] == 13))  # CRLF line ends
    blank = b <= a
    first = np.where(blank, 0, data[np.minimum(a, data.size - 1)])
    last = np.where(blank, 0, data[np.maximum(b - 1, 0)])
    shaped = (first == ord("{")) & (last == ord("}"))
    short = (b - a) <= MAX_LINE_BYTES
    few = np.ones(a.size, bool)
    for i in np.flatnonzero(short & (b - a > _MAX_BRACKETS)).tolist():  # only a line this long can hold so many
        few[i] = bytes(buf[a[i]:b[i]]).count(b"[") <= _MAX_BRACKETS
    tokens = _token_lines(buf, data.size, a)
    good = ~blank & shaped & short & few
    reasons: dict[int, str] = {}
    for i in np.flatnonzero(good & tokens).tolist():  # NaN or Infinity somewhere: parse to be sure
        try:
            parse_line(bytes(buf[a[i]:b[i]]))
        except ValueError as e:
            good[i] = False
            reasons[i] = str(e)
    bad_at = np.flatnonzero(~blank & ~good)
    bad = [(int(i) + 1, reasons.get(int(i)) or (_long_line(int(b[i] - a[i])) if not short[i] else
            "not a JSON object" if first[i] != ord("{") else "truncated (no closing brace)" if not shaped[i] else
            _too_many_strokes())) for i in bad_at]
    keep = np.flatnonzero(good)
    return FileIndex(path, kind, np.stack([a[keep], b[keep]], axis=1), keep.astype(np.int64) + 1, bad)


_TOKENS = (b"NaN", b"Infinity")  # JSON has neither: Python's json reads them, parse_drawing refuses them
_MAX_BRACKETS = 4 * MAX_STROKES + 64  # each stroke opens 3 or 4 lists


def _too_many_strokes() -> str:
    return f"more than {MAX_STROKES:,} strokes; a drawing has at most {MAX_STROKES:,}"


def _token_lines(buf, size: int, starts: np.ndarray) -> np.ndarray:
    """Per line starting at `starts`: whether a NaN or Infinity token is in it (found chunk by chunk, each line
    searched once per token however many it holds)."""
    tokens = np.zeros(starts.size, bool)
    step = CHUNK_BYTES
    for off in range(0, size if starts.size else 0, step):
        chunk = bytes(buf[off:min(size, off + step + 7)])  # 7: a token cut by the boundary is found whole
        for tok in _TOKENS:
            i = chunk.find(tok)
            while 0 <= i < step:
                line = int(np.searchsorted(starts, off + i, "right")) - 1
                tokens[line] = True
                after = int(starts[line + 1]) - off if line + 1 < starts.size else len(chunk)
                i = chunk.find(tok, max(after, i + 1))
    return tokens


def _long_line(n: int) -> str:
    return f"a line of {n:,} bytes; a drawing's line has at most {MAX_LINE_BYTES:,}"


def _index_binary(path: Path, buf, size: int) -> FileIndex:
    good: list[tuple[int, int]] = []
    linenos: list[int] = []
    off = 0
    bad: list[tuple[int, str]] = []
    while off < size:
        record = len(good) + len(bad) + 1
        try:
            end, over = _scan_record(buf, off, size)
        except ValueError as e:
            # Records have no separator: after a broken one the rest cannot be trusted.
            bad.append((record, f"{e} at byte {off:,}; the remaining {size - off:,} bytes were skipped"))
            break
        if over is None:
            good.append((off, end))
            linenos.append(record)
        else:
            bad.append((record, over))  # well formed but too big: skipped, and the next record read
        off = end
    arr = np.asarray(good, np.int64).reshape(-1, 2)
    return FileIndex(path, KIND_BINARY, arr, np.asarray(linenos, np.int64), bad)


def _mark_bad(idx: FileIndex, lineno: int, reason: str) -> None:
    """Remember a line that failed only when parsed (once, kept in line order)."""
    if all(n != lineno for n, _ in idx.bad):
        idx.bad.append((lineno, reason))
        idx.bad.sort(key=lambda t: t[0])


def _summary(bad: Sequence[tuple[int, str]], limit: int = 5) -> str:
    """'line 3: not valid JSON; line 9: ...' for the first few malformed lines."""
    parts = [f"line {n}: {why}" for n, why in bad[:limit]]
    more = len(bad) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def bad_lines_note(path: Path | str, bad: Sequence[tuple[int, str]], lines: int | None = None) -> str:
    """The one note every command gives for a stroke file's skipped lines: 'skipped 3 of 1,204 lines in F: ...'."""
    of = f" of {lines:,}" if lines else ""
    what = "line" if len(bad) == 1 and not lines else "lines"
    return f"skipped {len(bad):,}{of} {what} in {path}: {_summary(bad)}"


def refuse_bad_lines(path: Path | str, bad: Sequence[tuple[int, str]], lines: int | None = None) -> DataError:
    """--strict: the error for a stroke file with any malformed line."""
    return DataError(f"{bad_lines_note(path, bad, lines)}; --strict refuses files with malformed lines: fix them "
                     "or leave out --strict")


def category_of(path: Path) -> str:
    """'full_simplified_sea turtle.ndjson' -> 'sea turtle' (official names matched case-insensitively)."""
    stem = path.stem
    for p in PREFIXES:
        if stem.lower().startswith(p):
            stem = stem[len(p):]
            break
    return category_from_stem(stem)


# ---------------------------------------------------------------- reading


def _read_drawings(idx: FileIndex, rows: np.ndarray, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, size, size), ok bool (n,)) of the given index rows; failures stay blank."""
    drawings = read_rows(idx, rows)
    ok = np.array([d is not None for d in drawings], bool)
    return rasterize_many([d.simplified() if d is not None else [] for d in drawings], size), ok


def read_rows(idx: FileIndex, rows: np.ndarray) -> list[Drawing | None]:
    """The Drawings (strokes, times where the file has them) at the given index rows; None where one fails."""
    out: list[Drawing | None] = []
    try:
        st = idx.path.stat()
        buf = _open_buffer(idx.path, st.st_size)
    except OSError as e:
        raise DataError(f"cannot read {idx.path}: {e.strerror or e}; check the file's permissions") from None
    try:
        for r in np.asarray(rows, np.int64).ravel().tolist():
            a, b = idx.spans[r]
            try:
                if idx.kind == KIND_BINARY:
                    d, _ = _parse_record(buf, int(a), int(b))
                else:
                    d = parse_line(bytes(buf[a:b]))
                out.append(d)
            except (ValueError, IndexError) as e:
                out.append(None)
                _mark_bad(idx, int(idx.linenos[r]), f"{e} (found when read; drawn blank)")
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    return out


def load_drawings(path: str | os.PathLike, bad: list[tuple[int, str]] | None = None) -> list[Drawing]:
    """Every readable Drawing (with metadata) of one .ndjson/.bin stroke file, in file order."""
    idx = index_file(Path(path).expanduser())
    out: list[Drawing] = []
    word = category_of(idx.path)  # the binary format does not store the word
    buf = _open_buffer(idx.path, idx.path.stat().st_size)
    try:
        for r, (a, b) in enumerate(idx.spans.tolist()):
            try:
                if idx.kind == KIND_BINARY:
                    d = _parse_record(buf, a, b)[0]
                    d.word = word
                else:
                    d = parse_line(bytes(buf[a:b]))
                out.append(d)
            except ValueError as e:
                _mark_bad(idx, int(idx.linenos[r]), str(e))
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    if bad is not None:
        bad.extend(idx.bad)
    return out


def read_drawings_file(path: str | os.PathLike, size: int = 28, bad: list[tuple[int, str]] | None = None,
                       strict: bool = False) -> tuple[np.ndarray, list[str]]:
    """All drawings of one .ndjson/.bin stroke file: (images uint8 (N, size, size), ['file#row', ...]).

    Malformed lines are skipped (appended to `bad` as (line number, reason) when given); strict: refused.
    """
    path = Path(path).expanduser()
    if path.suffix.lower() not in SUFFIXES:
        raise DataError(f"{path} is not a .ndjson or .bin stroke file")
    regular_file(path, "a stroke file")
    if path.suffix.lower() == ".bin" and not looks_like_google_binary(path):
        raise DataError(f"{path} is not in Google's binary stroke format; for 784-byte bitmap dumps use --data")
    idx = index_file(path)
    if strict and idx.bad:
        raise refuse_bad_lines(path, idx.bad, idx.lines)
    images, ok = _read_drawings(idx, np.arange(len(idx)), size)
    if strict and idx.bad:
        raise refuse_bad_lines(path, idx.bad, idx.lines)
    if bad is not None:
        bad.extend(idx.bad)
    if not ok.any():
        raise DataError(f"{path}: no drawing in it could be read ({_summary(idx.bad, 3)})")
    keep = np.flatnonzero(ok)
    return images[keep], [f"{path}#{int(r)}" for r in keep]


_WORD = re.compile(rb'"word"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _word(m: re.Match) -> str:
    """The text of a matched "word" field; ValueError for an escape JSON does not allow."""
    word = json.loads(b'"' + m.group(1) + b'"')
    if not word:
        raise ValueError("'word' is empty")
    return word


def word_rows(idx: FileIndex) -> dict[str, np.ndarray]:
    """word -> index rows of an ndjson file's drawings (one entry when every line has the same word).

    Lines whose word is not a string (or not valid JSON text) are recorded as bad and left out."""
    if idx.kind == KIND_BINARY or len(idx) == 0:
        return {}
    size = idx.path.stat().st_size
    buf = _open_buffer(idx.path, size)
    try:
        a, b = (int(v) for v in idx.spans[0])
        first = _WORD.search(buf, a, b)
        if first is None:
            return {}
        # Google's files hold one word: counting its exact field settles that without a per-line scan.
        if _count(buf, size, first.group(0)) == len(idx):
            try:
                return {_word(first): np.arange(len(idx))}
            except ValueError:
                pass  # judged line by line below
        words: dict[str, list[int]] = {}
        for r, (a, b) in enumerate(idx.spans.tolist()):
            m = _WORD.search(buf, a, b)
            try:
                if m is None and b'"word"' in bytes(buf[a:b]):
                    raise ValueError("'word' is not a string")
                word = _word(m) if m else category_of(idx.path)
            except ValueError as e:
                _mark_bad(idx, int(idx.linenos[r]), str(e).split(":")[0])
                continue
            words.setdefault(word, []).append(r)
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()
    return {w: np.asarray(rows, np.int64) for w, rows in words.items()}


class NdjsonSource(FileSource):
    """A folder of `<category>.ndjson` (simplified or raw) or Google `.bin` stroke files, or one such file."""

    kind = KIND_SIMPLIFIED

    def __init__(self, path: str | os.PathLike, strict: bool = False) -> None:
        path = Path(path).expanduser()
        super().__init__(str(path))
        self.path = path
        self.strict = strict  # refuse a file with any malformed line instead of skipping it
        if not path.exists():
            raise DataError(f"{path} does not exist; point --data at a folder of .ndjson files")
        self.notes: list[str] = []
        if path.is_file():
            if path.suffix.lower() not in SUFFIXES:
                raise DataError(f"{path} is not a .ndjson or .bin stroke file")
            files = [path]
        else:
            try:
                files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                               and p.suffix.lower() in SUFFIXES)
            except OSError as e:
                raise DataError(f"cannot list {path}: {e.strerror or e}; check its permissions") from None
        bins = [p for p in files if p.suffix.lower() == ".bin"]
        dumps = [p for p in bins if not looks_like_google_binary(p)]
        if dumps:
            if len(dumps) == len(files):
                raise DataError(f"{dumps[0]} is not in Google's binary stroke format; "
                                "open 784-byte bitmap dumps with --data pointing at them alone")
            self.notes.append(f"ignored {len(dumps)} .bin files that are not stroke files ({dumps[0].name}, ...)")
            files = [p for p in files if p not in dumps]
        if not files:
            raise DataError(f"no .ndjson or .bin stroke files in {path}")
        # One file given alone (such as qd's export of people's drawings): a category per word it holds.
        self._rows: dict[str, np.ndarray] = {}
        if path.is_file() and path.suffix.lower() == ".ndjson":
            self._rows = word_rows(index_file(path))
        if self._rows:
            self._files = {w: path for w in self._rows}
            self._note(index_file(path))
        else:
            self._files = files_by_category(files, path, category_of)
        self._kinds = {c: _sniff_kind(p) for c, p in self._files.items()}
        kinds = sorted(set(self._kinds.values()))
        self.kind = kinds[0] if len(kinds) == 1 else "+".join(kinds)

    def _index(self, category: str) -> FileIndex:
        idx = index_file(self._file(category))
        rows = self._rows.get(category)
        if rows is None:
            return idx
        return FileIndex(idx.path, idx.kind, idx.spans[rows], idx.linenos[rows], idx.bad, idx.lines)

    def count(self, category: str) -> int:
        if category in self._rows:
            self._file(category)
            return int(self._rows[category].size)
        idx = self._index(category)
        self._note(idx)
        return len(idx)

    def _note(self, idx: FileIndex) -> None:
        """One note per file with malformed lines, refreshed as reading finds more (every command shows it);
        strict: a DataError instead."""
        if idx.bad:
            if self.strict:
                raise refuse_bad_lines(idx.path, idx.bad, idx.lines)
            note = bad_lines_note(idx.path, idx.bad, idx.lines)
            self.notes = [s for s in self.notes if f" in {idx.path}: " not in s] + [note]

    def bad_lines(self, category: str) -> list[tuple[int, str]]:
        """(line number, reason) of every malformed line met so far in a category's file."""
        return list(self._index(category).bad)

    def kind_of(self, category: str) -> str:
        """ndjson-simplified, ndjson-raw or google-binary for one category's file."""
        self._file(category)
        return self._kinds[category]

    def drawings(self, category: str, rows: np.ndarray) -> list[Drawing | None]:
        return read_rows(self._index(category), np.asarray(rows, np.int64))

    def read(self, category: str, rows: np.ndarray | None = None) -> np.ndarray:
        idx = self._index(category)
        n = len(idx)
        if rows is None:
            rows = np.arange(n)
        rows = np.asarray(rows, dtype=np.int64).ravel()
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            r = int(rows.max() if rows.max() >= n else rows.min())
            raise DataError(f"row {r} is out of range for {idx.path} ({n:,} drawings)")
        images, _ = _read_drawings(idx, rows)
        self._note(idx)
        return images.reshape(rows.size, -1)

    def describe(self) -> str:
        return f"{self.kind}: {self.location}"
