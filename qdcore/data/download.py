"""Download Google's Quick, Draw! files into the data cache: resumable, verified, atomic.

Four formats, in Google's layout (`quickdraw_dataset/full/<folder>/<category><suffix>`):
numpy bitmaps into the cache itself, simplified/raw ndjson and binary strokes into
`<cache>/simplified`, `<cache>/raw` and `<cache>/binary` (readable with `--data` on that folder).
Each file streams into `<category><suffix>.part` (resumed with HTTP Range after a cut),
is checked (npy header or stroke records, size, md5 where Google publishes them) and only
then renamed, so the cache never holds a half-written file.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from qdcore.data.categories import OfficialFile, check_category, official_categories, official_files
from qdcore.data.local import npy_layout
from qdcore.data.strokes import KIND_BINARY, KIND_RAW, index_file
from qdcore.errors import DataError
from qdcore.paths import data_cache

GOOGLE_BUCKET = "https://storage.googleapis.com/quickdraw_dataset/full/{folder}"
DEFAULT_MIRROR = GOOGLE_BUCKET.format(folder="numpy_bitmap")
CHUNK = 1 << 20
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError, socket.timeout)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclass(frozen=True)
class Format:
    """One of Google's file formats: its folder in the bucket, its suffix, and its folder in the cache."""

    name: str
    folder: str
    suffix: str
    subdir: str  # "" = the cache itself (numpy bitmaps, as qd has always kept them)


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("numpy", "numpy_bitmap", ".npy", ""),
    Format("simplified", "simplified", ".ndjson", "simplified"),
    Format("binary", "binary", ".bin", "binary"),
    Format("raw", "raw", ".ndjson", "raw"),
)}


def get_format(name: str) -> Format:
    """The format called `name`; DataError listing the four otherwise."""
    if name not in FORMATS:
        raise DataError(f"unknown download format {name!r}; use one of {', '.join(FORMATS)}")
    return FORMATS[name]


@dataclass
class DownloadProgress:
    """One progress report: status is start, data, retry, skip or done."""

    category: str
    status: str
    done: int = 0
    total: int | None = None
    url: str = ""
    message: str = ""


@dataclass
class DownloadResult:
    """One downloaded (or already present) file."""

    category: str
    path: Path
    bytes: int
    n_drawings: int
    skipped: bool  # already complete: no request made
    verified: str  # "md5" (size and md5 matched Google's), "header" (a mirror's own file), "existing"
    url: str = ""


class CacheError(DataError):
    """The cache cannot be written (disk full, permissions): no point trying other files."""


class _Retry(Exception):
    """A transient failure worth another try; progress says whether the try moved the file forward."""

    def __init__(self, message: str, progress: bool = False) -> None:
        super().__init__(message)
        self.progress = progress


def resolve_mirror(mirror: str | None = None, fmt: str = "numpy") -> str:
    """--mirror, else $QD_MIRROR, else Google's public bucket; `{folder}` in it becomes the format's folder."""
    m = mirror or os.environ.get("QD_MIRROR") or GOOGLE_BUCKET
    return m.replace("{folder}", get_format(fmt).folder).rstrip("/")


def url_for(category: str, mirror: str | None = None, fmt: str = "numpy") -> str:
    """`<mirror>/<category><suffix>` with the name URL-quoted (spaces -> %20)."""
    return f"{resolve_mirror(mirror, fmt)}/{urllib.parse.quote(category)}{get_format(fmt).suffix}"


def format_dest(dest: str | os.PathLike | None = None, fmt: str = "numpy") -> Path:
    """Where a format's files go: the cache (numpy) or its `simplified`, `binary` or `raw` folder."""
    root = data_cache(dest)
    sub = get_format(fmt).subdir
    return root / sub if sub else root


def _disk_error(e: OSError, path: Path, dest: Path) -> DataError:
    if e.errno in _DISK_FULL:
        return CacheError(f"disk full while writing {path}; free some space or set QD_DATA/--cache to a bigger disk, "
                          "then re-run to resume")
    return CacheError(f"cannot write {path}: {e.strerror or e}; make {dest} writable or set QD_DATA/--cache to another folder")


def _prepare_dest(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CacheError(f"cannot create the data cache {dest}: {e.strerror or e}; "
                         "set QD_DATA or --cache to a writable folder") from None
    if not dest.is_dir() or not os.access(dest, os.W_OK | os.X_OK):
        raise CacheError(f"the data cache {dest} is not a writable folder; set QD_DATA or --cache to a writable folder")


def _hash_file(path: Path) -> hashlib._Hash:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h


def _content_range_total(value: str | None) -> int | None:
    # "bytes 100-199/200" or "bytes */200"
    if not value or "/" not in value:
        return None
    tail = value.rsplit("/", 1)[1].strip()
    return int(tail) if tail.isdigit() else None


def _content_range_start(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def download(categories: list[str] | None = None, dest: str | os.PathLike | None = None, mirror: str | None = None,
             progress: Callable[[DownloadProgress], None] | None = None, retries: int = 5, timeout: float = 30.0,
             backoff: float = 1.0, all_categories: bool = False,
             known: Mapping[str, OfficialFile] | None = None, workers: int = 1,
             fmt: str = "numpy") -> list[DownloadResult]:
    """Fetch `<mirror>/<category><suffix>` of format `fmt` for each category into the cache (format_dest).

    `known` overrides Google's official size/md5 per category (tests serve small files).
    Retries connection errors and 5xx `retries` times with exponential backoff from `backoff` s;
    `workers` files are fetched at once (each to its own .part file, so they never share a write).
    """
    form = get_format(fmt)
    names = official_categories() if all_categories else list(categories or [])
    if not names:
        raise DataError("name the categories to download (e.g. 'qd data download cat apple') or use --all")
    # Check every name before any URL or path is built from it.
    cats = list(dict.fromkeys(check_category(n) for n in names))
    dest = format_dest(dest, fmt)
    base = resolve_mirror(mirror, fmt)
    _prepare_dest(dest)
    report = progress or (lambda _p: None)
    out: list[DownloadResult] = []
    failed: list[tuple[str, DataError]] = []

    unusable = threading.Event()  # the cache failed: files not yet started are not tried

    def one(cat: str) -> DownloadResult:
        if unusable.is_set():
            raise CancelledError
        try:
            return _download_one(cat, dest, base, report, max(1, retries), timeout, backoff, known, form)
        except CacheError:
            unusable.set()
            raise

    with ThreadPoolExecutor(max_workers=max(1, min(int(workers), len(cats)))) as pool:
        futures = [(cat, pool.submit(one, cat)) for cat in cats]
        for cat, fut in futures:  # in the order asked, whatever order they finish in
            try:
                out.append(fut.result())
            except CacheError as e:  # the cache itself is unusable: nothing else is started
                e.results = out  # type: ignore[attr-defined]
                raise
            except CancelledError:
                continue
            except DataError as e:  # one missing or broken file should not stop the rest of a batch
                failed.append((cat, e))
    if failed:
        first = failed[0][1]
        if len(cats) == 1:
            raise first
        which = ", ".join(c for c, _ in failed[:5]) + (", ..." if len(failed) > 5 else "")
        err = DataError(f"{len(failed)} of {len(cats)} downloads failed ({which}); first: {first}")
        err.results = out  # type: ignore[attr-defined]
        raise err
    return out


def _expected(cat: str, known: Mapping[str, OfficialFile] | None, form: Format) -> tuple[OfficialFile | None, bool]:
    """(size/md5 to check, forced): forced when the caller passed it in `known`."""
    if known and cat in known:
        return known[cat], True
    return official_files(form.folder).get(cat), False


def check_file(path: Path, form: Format) -> int:
    """Drawings in a downloaded file of that format; DataError if it is not one (bad header, no records)."""
    if form.suffix == ".npy":
        return npy_layout(path)[1]

    idx = index_file(path, KIND_BINARY if form.suffix == ".bin" else None)
    if form.name == "raw" and idx.kind != KIND_RAW:
        raise DataError(f"{path} holds simplified drawings (no times), not raw ones")
    if form.name == "simplified" and idx.kind == KIND_RAW:
        raise DataError(f"{path} holds raw drawings (with times), not simplified ones")
    return len(idx)


def _holds(n: int, size: int, expected: OfficialFile) -> str:
    """What a cached subset holds against Google's file."""
    if expected.n_drawings:
        return f"{n:,} of Google's {expected.n_drawings:,} drawings"
    return f"{n:,} drawings in {size:,} of Google's {expected.bytes:,} bytes"


class _Part:
    """The `.part` file being filled and the md5 of what it holds so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.md5 = hashlib.md5()
        self.size = 0
        if path.exists() and path.stat().st_size:
            # Re-hash what is already there so the md5 covers the whole file after a resume.
            self.md5 = _hash_file(path)
            self.size = path.stat().st_size

    def reset(self) -> None:
        """Start the file again from byte 0."""
        self.path.unlink(missing_ok=True)
        self.md5 = hashlib.md5()
        self.size = 0


def _download_one(cat: str, dest: Path, base: str, report: Callable[[DownloadProgress], None], tries: int,
                  timeout: float, backoff: float, known: Mapping[str, OfficialFile] | None,
                  form: Format = FORMATS["numpy"]) -> DownloadResult:
    final = dest / f"{cat}{form.suffix}"
    url = f"{base}/{urllib.parse.quote(cat)}{form.suffix}"
    expected, forced = _expected(cat, known, form)
    # Check size and md5 against Google's when it is Google's file: the default mirror, or a mirror serving that size.
    strict = forced or base == GOOGLE_BUCKET.format(folder=form.folder)
    if final.exists():
        try:
            n = check_file(final, form)
            size = final.stat().st_size
            origin = cached_origin(final)
            fuller = expected if expected is not None and size < expected.bytes else None  # cached: a subset of it
            if fuller is None or not strict:
                note = "already complete" if fuller is None else (
                    f"cached file holds {_holds(n, size, fuller)} (from {origin})")
                report(DownloadProgress(cat, "skip", size, size, url, note))
                return DownloadResult(cat, final, size, n, True, "existing", url)
            # A subset (a mirror's sample) never counts as Google's full file: fetch it; the subset stays
            # in place until the full file has been checked and renamed over it.
            report(DownloadProgress(cat, "retry", 0, fuller.bytes, url,
                                    f"cached file holds {_holds(n, size, fuller)} "
                                    f"(from {origin}); fetching the full file"))
        except DataError:
            # A damaged complete file (not ours: ours are renamed only after checks): fetch it again.
            final.unlink()
    part = _Part(dest / f"{cat}{form.suffix}.part")
    if expected is not None and strict and part.size > expected.bytes:
        part.reset()
    failures = 0
    total: int | None = None
    while True:
        try:
            total = _fetch(url, part, cat, report, timeout, dest)
            break
        except _Retry as e:
            failures += 1
            if failures >= tries:
                raise DataError(f"network failure downloading {cat!r} from {url} after {failures} tries: {e}; "
                                "re-run to resume") from None
            delay = backoff * (2 ** (failures - 1))
            report(DownloadProgress(cat, "retry", part.size, total, url, f"{e}; retry {failures}/{tries - 1} in {delay:.1f}s"))
            time.sleep(delay)
            # A try that moved the file forward does not count against the limit: long files on flaky links finish.
            if e.progress:
                failures -= 1
    size = part.path.stat().st_size
    if expected is not None and not strict and size == expected.bytes:
        strict = True
    verified = "header"
    try:
        n = check_file(part.path, form)
    except DataError as e:
        part.reset()
        raise DataError(f"the file downloaded from {url} is corrupt ({_reason(e, part.path)}); it was deleted: "
                        "check --mirror / QD_MIRROR and re-run") from None
    if strict and expected is not None:
        if size != expected.bytes:
            part.reset()
            raise DataError(f"the file downloaded from {url} is {size:,} bytes, not Google's {expected.bytes:,}; "
                            "it was deleted: check --mirror / QD_MIRROR and re-run")
        if expected.md5 and part.md5.hexdigest() != expected.md5:
            got = part.md5.hexdigest()
            part.reset()
            raise DataError(f"md5 of the file downloaded from {url} is {got}, not {expected.md5}; "
                            "it was deleted: re-run to download it again")
        verified = "md5"
    try:
        with open(part.path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(part.path, final)
        _origin_file(final).write_text(url + "\n")
    except OSError as e:
        raise _disk_error(e, final, dest) from None
    report(DownloadProgress(cat, "done", size, size, url, verified))
    return DownloadResult(cat, final, size, n, False, verified, url)


def _origin_file(final: Path) -> Path:
    return final.with_name(f".{final.name}.source")


def cached_origin(final: Path) -> str:
    """Where a cached file was downloaded from (its URL), or 'an unknown source' for files put there by hand."""
    try:
        return _origin_file(final).read_text().strip()[:500] or "an unknown source"
    except OSError:
        return "an unknown source (not downloaded by qd)"


def _reason(e: DataError, path: Path) -> str:
    return str(e).replace(f"{path} ", "").split(";")[0]


def _fetch(url: str, part: _Part, cat: str, report: Callable[[DownloadProgress], None],
           timeout: float, dest: Path) -> int | None:
    """Append the rest of the file to the part; return the total size (None if the server did not say)."""
    headers = {"User-Agent": "qd (Quick, Draw! workbench)"}
    if part.size:
        headers["Range"] = f"bytes={part.size}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        with e:
            if e.code == 416:
                total = _content_range_total(e.headers.get("Content-Range"))
                if total is not None and total == part.size:
                    return total  # the part already holds the whole file
                part.reset()  # the part is longer than the file: start again
                raise _Retry("the server refused to resume (HTTP 416)", progress=True) from None
            if e.code >= 500 or e.code in (408, 429):
                raise _Retry(f"HTTP {e.code} {e.reason}") from None
            if e.code == 404:
                raise DataError(f"{url} was not found (HTTP 404); check --mirror / QD_MIRROR") from None
            raise DataError(f"{url} answered HTTP {e.code} {e.reason}; check --mirror / QD_MIRROR") from None
    except _NETWORK_ERRORS as e:
        raise _Retry(_net_reason(e)) from None
    with resp:
        status = getattr(resp, "status", None) or 200
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        total = length
        if status == 206:
            start = _content_range_start(resp.headers.get("Content-Range"))
            total = _content_range_total(resp.headers.get("Content-Range"))
            if start != part.size:
                part.reset()
                raise _Retry(f"the server resumed at byte {start}, not {part.size}", progress=True)
        elif part.size:
            part.reset()  # the server ignored Range and sends the whole file: take it from the start
        begin = part.size
        end = begin + length if length is not None else None
        report(DownloadProgress(cat, "start", begin, total, url))
        try:
            f = open(part.path, "ab")
        except OSError as e:
            raise _disk_error(e, part.path, dest) from None
        with f:
            while True:
                try:
                    block = resp.read(CHUNK)
                except _NETWORK_ERRORS + (OSError,) as e:
                    raise _Retry(_net_reason(e), progress=part.size > begin) from None
                if not block:
                    break
                try:
                    f.write(block)
                    f.flush()
                except OSError as e:
                    raise _disk_error(e, part.path, dest) from None
                part.md5.update(block)
                part.size += len(block)
                report(DownloadProgress(cat, "data", part.size, total, url))
        if end is not None and part.size < end:
            raise _Retry(f"connection closed after {part.size:,} of {end:,} bytes", progress=part.size > begin)
        return total if total is not None else part.size


def _net_reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    return (str(reason).splitlines() or [type(e).__name__])[0] or type(e).__name__
