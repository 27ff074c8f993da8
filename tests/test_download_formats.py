"""`qd data download --format simplified|binary|raw`: Google's layout from a real HTTP server on 127.0.0.1.

The mirror serves the real stroke files of ../shared/quickdraw under Google's folders
(`<mirror>/simplified/<category>.ndjson`, `/raw/...`, `/binary/<category>.bin`), or files made here when it is absent.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from test_download import Mirror
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.data.categories import OfficialFile, official_files
from qdcore.data.download import GOOGLE_BUCKET, download, format_dest, url_for
from qdcore.data.strokes import Drawing, encode_google_binary, load_drawings
from qdcore.errors import DataError
from qdcore.paths import shared_quickdraw


@pytest.fixture
def mirror():
    m = Mirror()
    yield m
    m.close()


def _drawings(n: int, seed: int, timed: bool) -> list[Drawing]:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        xs = sorted(rng.integers(0, 255, 6).tolist())
        ys = rng.integers(0, 255, 6).tolist()
        t = list(range(0, 60, 10)) if timed else None
        out.append(Drawing([(xs, ys)], "cat", "GB", "2017-03-01 10:00:00.0 UTC", True, str(1000 + i),
                           raw=timed, times=[t] if t else None))
    return out


def _ndjson(drawings: list[Drawing]) -> bytes:
    lines = []
    for d in drawings:
        strokes = [[xs, ys] + ([t] if d.times else []) for (xs, ys), t in zip(d.strokes, d.times or [None] * len(d.strokes))]
        lines.append(json.dumps({"word": d.word, "countrycode": d.countrycode, "timestamp": d.timestamp,
                                 "recognized": d.recognized, "key_id": d.key_id, "drawing": strokes}))
    return ("\n".join(lines) + "\n").encode()


def _stroke_files(category: str) -> dict[str, bytes]:
    """Google's three stroke formats for one category: the shared real files where present."""
    root = shared_quickdraw()
    if root is not None and (root / "raw" / f"{category}.ndjson").exists():
        simplified = (root / "simplified" / f"{category}.ndjson").read_bytes()
        raw = (root / "raw" / f"{category}.ndjson").read_bytes()
        binary = encode_google_binary(load_drawings(root / "simplified" / f"{category}.ndjson"))
    else:
        simplified, raw = _ndjson(_drawings(25, 0, False)), _ndjson(_drawings(30, 1, True))
        binary = encode_google_binary(_drawings(25, 0, False))
    return {"simplified": simplified, "raw": raw, "binary": binary}


def _known(category: str, data: bytes) -> dict[str, OfficialFile]:
    return {category: OfficialFile(category, len(data), 0, hashlib.md5(data).hexdigest())}


SUFFIX = {"simplified": ".ndjson", "raw": ".ndjson", "binary": ".bin"}


def test_googles_layout_and_md5_table():
    assert url_for("sea turtle", fmt="raw") == GOOGLE_BUCKET.format(folder="raw") + "/sea%20turtle.ndjson"
    assert url_for("cat", "http://m/{folder}/", fmt="binary") == "http://m/binary/cat.bin"
    assert url_for("cat", "http://m/x", fmt="simplified") == "http://m/x/cat.ndjson"
    # Google publishes an md5 and size for every file of every format (checked against ../shared's reference).
    for folder in ("numpy_bitmap", "simplified", "binary", "raw"):
        files = official_files(folder)
        assert len(files) == 345 and all(len(f.md5) == 32 and f.bytes > 0 for f in files.values())
    assert official_files("raw")["cat"].md5 == "36b9a64afde437be78ce07c73c549520"
    root = shared_quickdraw()
    if root is not None:
        ref = (root / "reference" / "official_files.tsv").read_text().splitlines()[1:]
        for line in ref:
            cat, folder, _, size, _, md5 = line.split("\t")
            assert (official_files(folder)[cat].bytes, official_files(folder)[cat].md5) == (int(size), md5)


@pytest.mark.parametrize("fmt", ["simplified", "raw", "binary"])
def test_each_stroke_format_lands_in_its_folder_verified_and_readable(mirror, tmp_path, fmt):
    files = _stroke_files("sea turtle")
    mirror.files[f"{fmt}/sea turtle{SUFFIX[fmt]}"] = files[fmt]
    res = download(["sea turtle"], dest=tmp_path, mirror=mirror.url + "/{folder}", fmt=fmt,
                   known=_known("sea turtle", files[fmt]))
    final = tmp_path / fmt / f"sea turtle{SUFFIX[fmt]}"
    assert res[0].path == final and res[0].verified == "md5" and final.read_bytes() == files[fmt]
    assert mirror.requests == [(f"{fmt}/sea turtle{SUFFIX[fmt]}", None)]
    assert format_dest(tmp_path, fmt) == tmp_path / fmt and not list(tmp_path.rglob("*.part"))
    want = len(load_drawings(final))
    assert res[0].n_drawings == want > 0
    # Again: nothing fetched.
    again = download(["sea turtle"], dest=tmp_path, mirror=mirror.url + "/{folder}", fmt=fmt)
    assert again[0].skipped and len(mirror.requests) == 1


def test_a_cut_raw_file_resumes_with_range_and_matches_md5(mirror, tmp_path):
    data = _stroke_files("cat")["raw"]
    mirror.files["raw/cat.ndjson"] = data
    mirror.mode = "cut"
    res = download(["cat"], dest=tmp_path, mirror=mirror.url + "/raw", fmt="raw", known=_known("cat", data), backoff=0.01)
    assert res[0].verified == "md5" and (tmp_path / "raw" / "cat.ndjson").read_bytes() == data
    assert [r[1] for r in mirror.requests] == [None, f"bytes={len(data) // 2}-"]


def test_a_part_left_by_an_earlier_run_is_resumed(mirror, tmp_path):
    data = _stroke_files("cat")["binary"]
    mirror.files["binary/cat.bin"] = data
    (tmp_path / "binary").mkdir()
    (tmp_path / "binary" / "cat.bin.part").write_bytes(data[:100])
    download(["cat"], dest=tmp_path, mirror=mirror.url + "/{folder}", fmt="binary", known=_known("cat", data))
    assert mirror.requests == [("binary/cat.bin", "bytes=100-")]
    assert (tmp_path / "binary" / "cat.bin").read_bytes() == data


def test_wrong_contents_are_refused_and_deleted(mirror, tmp_path):
    files = _stroke_files("cat")
    mirror.files["simplified/cat.ndjson"] = files["raw"]  # a mirror serving raw drawings as simplified ones
    mirror.files["binary/cat.bin"] = b"<html>not here</html>" * 10
    with pytest.raises(DataError, match=r"cat\.ndjson is corrupt .*raw drawings \(with times\), not simplified"):
        download(["cat"], dest=tmp_path, mirror=mirror.url + "/{folder}", fmt="simplified")
    with pytest.raises(DataError, match=r"cat\.bin is corrupt"):
        download(["cat"], dest=tmp_path, mirror=mirror.url + "/{folder}", fmt="binary")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    bad = bytearray(files["raw"])
    bad[5] ^= 1
    mirror.files["raw/cat.ndjson"] = bytes(bad)
    with pytest.raises(DataError, match=r"md5 of the file downloaded from .*raw/cat\.ndjson"):
        download(["cat"], dest=tmp_path, mirror=mirror.url + "/{folder}", fmt="raw", known=_known("cat", files["raw"]))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_downloaded_strokes_read_by_data_info_and_train(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("QD_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("QD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QD_MIRROR", raising=False)
    cats = ("cat", "sea turtle")
    for c in cats:
        mirror.files[f"raw/{c}.ndjson"] = _stroke_files(c)["raw"]
    r = CliRunner().invoke(app, ["data", "download", "cat,sea turtle", "--format", "raw", "--mirror", mirror.url + "/{folder}"])
    assert r.exit_code == 0, r.output
    where = tmp_path / "cache" / "raw"
    assert "2 downloaded" in r.output and f"read them with --data {where}" in r.output
    r = CliRunner().invoke(app, ["data", "info", "--data", str(where), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert [(c["name"], c["count"]) for c in info["categories"]] == [
        (c, len(load_drawings(where / f"{c}.ndjson"))) for c in cats]
    r = CliRunner().invoke(app, ["train", "--model", "widthk", "--width", "2", "--data", str(where), "--epochs", "1",
                                 "--val", "0.2", "--test", "0.2", "--json"])
    assert r.exit_code == 0, r.output


def test_unknown_format_is_one_line_exit_2():
    r = CliRunner().invoke(app, ["data", "download", "cat", "--format", "svg"])
    assert r.exit_code == 2 and "unknown download format 'svg'; use one of numpy, simplified, binary, raw" in r.output and "Traceback" not in r.output
