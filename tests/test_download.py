"""The downloader against a real HTTP server on 127.0.0.1 serving Google's layout."""

from __future__ import annotations

import hashlib
import io
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from qdcore.data.categories import OfficialFile
from qdcore.data.download import DEFAULT_MIRROR, download, resolve_mirror, url_for
from qdcore.data.local import NpyFolderSource
from qdcore.errors import DataError
from qdcore.paths import shared_quickdraw


def npy_bytes(n: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.save(buf, rng.integers(0, 256, size=(n, 784), dtype=np.uint8))
    return buf.getvalue()


def known_for(name: str, data: bytes) -> dict[str, OfficialFile]:
    return {name: OfficialFile(name, len(data), (len(data) - 128) // 784, hashlib.md5(data).hexdigest())}


class Mirror:
    """A threaded HTTP server serving `/<category>.npy` from a dict, with Range and failure modes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.mode = "normal"  # normal | cut | error500 | norange
        self.requests: list[tuple[str, str | None]] = []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                name = urllib.parse.unquote(self.path.lstrip("/"))
                rng = self.headers.get("Range")
                mirror.requests.append((name, rng))
                if mirror.mode == "error500":
                    return self._send(500, b"boom")
                data = mirror.files.get(name)
                if data is None:
                    return self._send(404, b"not found")
                start = 0
                if rng and mirror.mode != "norange":
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mirror.mode == "cut" and len([r for r in mirror.requests if r[0] == name]) == 1:
                    # First request: promise the whole file, send half, drop the connection.
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _send(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror():
    m = Mirror()
    yield m
    m.close()


def test_urls_quote_names_and_mirror_env(monkeypatch):
    monkeypatch.delenv("QD_MIRROR", raising=False)
    assert resolve_mirror() == DEFAULT_MIRROR
    assert url_for("sea turtle") == DEFAULT_MIRROR + "/sea%20turtle.npy"
    monkeypatch.setenv("QD_MIRROR", "http://example.invalid/qd/")
    assert url_for("The Eiffel Tower") == "http://example.invalid/qd/The%20Eiffel%20Tower.npy"
    assert url_for("cat", "http://x/y") == "http://x/y/cat.npy"


def test_unknown_name_fails_before_any_request(mirror, tmp_path):
    with pytest.raises(DataError, match=r"unknown category 'aple'.*did you mean 'apple'"):
        download(["cat", "aple"], dest=tmp_path / "cache", mirror=mirror.url)
    assert mirror.requests == []
    assert not (tmp_path / "cache").exists()


def test_normal_download_verifies_and_renames(mirror, tmp_path):
    data = npy_bytes(50)
    mirror.files["sea turtle.npy"] = data
    seen = []
    res = download(["Sea Turtle"], dest=tmp_path, mirror=mirror.url, known=known_for("sea turtle", data),
                   progress=seen.append)
    assert res[0].category == "sea turtle" and res[0].verified == "md5" and res[0].n_drawings == 50
    assert (tmp_path / "sea turtle.npy").read_bytes() == data
    assert not list(tmp_path.glob("*.part"))
    assert mirror.requests == [("sea turtle.npy", None)]
    assert seen[-1].status == "done" and any(p.status == "data" for p in seen)
    src = NpyFolderSource(tmp_path)
    assert src.categories() == ["sea turtle"] and src.count("sea turtle") == 50


def test_cut_connection_resumes_with_range(mirror, tmp_path):
    data = npy_bytes(300, seed=1)
    mirror.files["cat.npy"] = data
    mirror.mode = "cut"
    res = download(["cat"], dest=tmp_path, mirror=mirror.url, known=known_for("cat", data), backoff=0.01)
    assert res[0].verified == "md5"
    assert (tmp_path / "cat.npy").read_bytes() == data
    assert len(mirror.requests) == 2
    assert mirror.requests[0][1] is None
    assert mirror.requests[1][1] == f"bytes={len(data) // 2}-"


def test_resume_from_part_left_by_earlier_run(mirror, tmp_path):
    data = npy_bytes(100, seed=2)
    mirror.files["dog.npy"] = data
    (tmp_path / "dog.npy.part").write_bytes(data[:1000])
    download(["dog"], dest=tmp_path, mirror=mirror.url, known=known_for("dog", data))
    assert mirror.requests == [("dog.npy", "bytes=1000-")]
    assert (tmp_path / "dog.npy").read_bytes() == data  # md5 matched, so the old part was re-hashed


def test_complete_part_gets_416_and_is_kept(mirror, tmp_path):
    data = npy_bytes(10, seed=3)
    mirror.files["dog.npy"] = data
    (tmp_path / "dog.npy.part").write_bytes(data)
    res = download(["dog"], dest=tmp_path, mirror=mirror.url, known=known_for("dog", data))
    assert res[0].verified == "md5" and (tmp_path / "dog.npy").read_bytes() == data


def test_server_ignoring_range_restarts_the_file(mirror, tmp_path):
    data = npy_bytes(100, seed=4)
    mirror.files["dog.npy"] = data
    mirror.mode = "norange"
    (tmp_path / "dog.npy.part").write_bytes(b"x" * 500)  # garbage: must not survive
    download(["dog"], dest=tmp_path, mirror=mirror.url, known=known_for("dog", data))
    assert (tmp_path / "dog.npy").read_bytes() == data


def test_wrong_md5_deletes_the_part(mirror, tmp_path):
    data = npy_bytes(40, seed=5)
    bad = bytearray(data)
    bad[-1] ^= 0xFF
    mirror.files["cat.npy"] = bytes(bad)
    with pytest.raises(DataError, match=r"md5 of the file downloaded from .*cat\.npy"):
        download(["cat"], dest=tmp_path, mirror=mirror.url, known=known_for("cat", data))
    assert list(tmp_path.iterdir()) == []


def test_bad_header_deletes_the_part(mirror, tmp_path):
    mirror.files["cat.npy"] = b"<html>not here</html>" * 10
    with pytest.raises(DataError, match="is corrupt"):
        download(["cat"], dest=tmp_path, mirror=mirror.url)
    assert list(tmp_path.iterdir()) == []


def test_wrong_shape_is_corrupt(mirror, tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.zeros((5, 28, 28), np.uint8))
    mirror.files["cat.npy"] = buf.getvalue()
    with pytest.raises(DataError, match=r"corrupt .*uint8 \(5, 28, 28\)"):
        download(["cat"], dest=tmp_path, mirror=mirror.url)
    assert list(tmp_path.iterdir()) == []


def test_server_errors_retry_then_fail(mirror, tmp_path):
    mirror.mode = "error500"
    with pytest.raises(DataError, match=r"network failure downloading 'cat' from .*cat\.npy after 3 tries: HTTP 500.*re-run to resume"):
        download(["cat"], dest=tmp_path, mirror=mirror.url, retries=3, backoff=0.01)
    assert len(mirror.requests) == 3
    assert not (tmp_path / "cat.npy").exists()


def test_refused_connection_is_a_network_failure(tmp_path):
    with pytest.raises(DataError, match=r"network failure downloading 'cat' .* after 2 tries"):
        download(["cat"], dest=tmp_path, mirror="http://127.0.0.1:9", retries=2, backoff=0.01, timeout=2)


def test_missing_file_is_404(mirror, tmp_path):
    with pytest.raises(DataError, match=r"not found \(HTTP 404\)"):
        download(["cat"], dest=tmp_path, mirror=mirror.url)


def test_batch_goes_on_after_a_missing_file(mirror, tmp_path):
    data = npy_bytes(10, seed=8)
    mirror.files["dog.npy"] = data
    with pytest.raises(DataError, match=r"1 of 2 downloads failed \(cat\); first: .*cat\.npy was not found") as e:
        download(["cat", "dog"], dest=tmp_path, mirror=mirror.url)
    assert [r.category for r in e.value.results] == ["dog"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["dog.npy"]


def test_complete_file_is_not_downloaded_again(mirror, tmp_path):
    data = npy_bytes(20, seed=6)
    (tmp_path / "cat.npy").write_bytes(data)
    res = download(["cat"], dest=tmp_path, mirror=mirror.url)
    assert res[0].skipped and res[0].n_drawings == 20
    assert mirror.requests == []


def test_damaged_complete_file_is_fetched_again(mirror, tmp_path):
    data = npy_bytes(20, seed=7)
    mirror.files["cat.npy"] = data
    (tmp_path / "cat.npy").write_bytes(data[:-100])
    res = download(["cat"], dest=tmp_path, mirror=mirror.url)
    assert not res[0].skipped and (tmp_path / "cat.npy").read_bytes() == data


def test_unwritable_cache_is_one_clear_error(mirror, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match=r"cannot create the data cache .*file/cache.*QD_DATA or --cache"):
        download(["cat"], dest=blocker / "cache", mirror=mirror.url)
    assert mirror.requests == []


def test_disk_full_is_one_clear_error(mirror, tmp_path):
    # /dev/full answers every write with ENOSPC: a real full disk, without filling one.
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    mirror.files["cat.npy"] = npy_bytes(10)
    (tmp_path / "cat.npy.part").symlink_to("/dev/full")
    with pytest.raises(DataError, match=r"disk full while writing .*cat\.npy\.part; free some space .*re-run to resume"):
        download(["cat", "dog"], dest=tmp_path, mirror=mirror.url)
    assert [r[0] for r in mirror.requests] == ["cat.npy"]  # no point trying dog
    assert not (tmp_path / "cat.npy").exists()


def test_needs_names_or_all(tmp_path):
    with pytest.raises(DataError, match="--all"):
        download([], dest=tmp_path)


def test_mirror_of_real_files(mirror, tmp_path):
    root = shared_quickdraw()
    if root is None:
        pytest.skip("../shared/quickdraw is absent")
    for name in ("cat", "sea turtle"):
        mirror.files[f"{name}.npy"] = (root / "numpy_bitmap" / f"{name}.npy").read_bytes()
    res = download(["cat", "sea turtle"], dest=tmp_path, mirror=mirror.url)
    # A mirror's subset is not Google's full file: header and size are checked, md5 cannot be.
    assert [r.verified for r in res] == ["header", "header"]
    for name in ("cat", "sea turtle"):
        assert (tmp_path / f"{name}.npy").read_bytes() == (root / "numpy_bitmap" / f"{name}.npy").read_bytes()
    src = NpyFolderSource(tmp_path)
    assert src.count("cat") == 3000
    ref = np.load(root / "numpy_bitmap" / "sea turtle.npy")
    assert np.array_equal(src.read("sea turtle", np.array([0, 7, 999])), ref[[0, 7, 999]])


def test_cached_subset_is_not_taken_for_googles_full_file(mirror, tmp_path):
    """A 5-drawing sample from some mirror is cached; Google's file has 20: the full one is fetched over it."""
    full = npy_bytes(20, seed=3)
    mirror.files["cat.npy"] = full
    (tmp_path / "cat.npy").write_bytes(npy_bytes(5, seed=3))
    (tmp_path / ".cat.npy.source").write_text("https://example.org/sample/cat.npy\n")
    notes = []
    res = download(["cat"], dest=tmp_path, mirror=mirror.url, known=known_for("cat", full),
                   progress=lambda p: notes.append(p.message))
    assert not res[0].skipped and res[0].n_drawings == 20 and (tmp_path / "cat.npy").read_bytes() == full
    assert any("5 of Google's 20 drawings (from https://example.org/sample/cat.npy)" in n for n in notes), notes


def test_cached_subset_from_a_mirror_is_named_as_such(mirror, tmp_path):
    """With a mirror (not Google's bucket) the subset is kept, but the note says what it is and where it came from."""
    (tmp_path / "cat.npy").write_bytes(npy_bytes(5, seed=3))
    notes = []
    res = download(["cat"], dest=tmp_path, mirror=mirror.url, progress=lambda p: notes.append(p.message))
    assert res[0].skipped and mirror.requests == []
    assert any("5 of Google's" in n and "unknown source" in n for n in notes), notes


def test_all_345_files_in_parallel_then_only_the_missing_ones(mirror, tmp_path):
    from qdcore.data.categories import official_categories

    cats = official_categories()
    assert len(cats) == 345
    files = {c: npy_bytes(3, seed=i) for i, c in enumerate(cats)}
    known = {k: v for c, d in files.items() for k, v in known_for(c, d).items()}
    held_back = cats[::70]  # five files the mirror does not have yet
    mirror.files.update({f"{c}.npy": d for c, d in files.items() if c not in held_back})
    with pytest.raises(DataError, match=r"5 of 345 downloads failed") as e:
        download(dest=tmp_path, mirror=mirror.url, all_categories=True, known=known, workers=8)
    assert len(e.value.results) == 340 and not list(tmp_path.glob("*.part"))
    # A second --all fetches only what is missing; every file is checked against its md5.
    mirror.files.update({f"{c}.npy": files[c] for c in held_back})
    mirror.requests.clear()
    res = download(dest=tmp_path, mirror=mirror.url, all_categories=True, known=known, workers=8)
    assert sorted(name for name, _ in mirror.requests) == sorted(f"{c}.npy" for c in held_back)
    assert [r.category for r in res] == cats and sum(not r.skipped for r in res) == 5
    assert all((tmp_path / f"{c}.npy").read_bytes() == files[c] for c in cats)
