"""`qd data ...` through Typer's CliRunner, and bad input through the real `qd` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import scaled_timeout
from test_download import Mirror, npy_bytes
from typer.testing import CliRunner

from qdcore.cli.data import render_grid
from qdcore.cli.main import app
from qdcore.paths import shared_quickdraw

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("QD_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("QD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QD_MIRROR", raising=False)


@pytest.fixture
def folder(tmp_path) -> Path:
    d = tmp_path / "npy"
    d.mkdir()
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, size=(12, 784), dtype=np.uint8)
    a[3] = 0  # a blank drawing
    a[7] = a[1]  # a duplicate
    np.save(d / "full_numpy_bitmap_cat.npy", a)
    np.save(d / "sea turtle.npy", rng.integers(0, 256, size=(5, 784), dtype=np.uint8))
    return d


def invoke(*args: str):
    res = runner.invoke(app, list(args))
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    return res


def fails(*args: str) -> str:
    """Run a command that must fail as a user error: exit 2 and one line on stderr."""
    res = runner.invoke(app, list(args))
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qd: error: "), res.stderr
    return lines[0]


def test_list_json_sections(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    np.save(cache / "apple.npy", np.zeros((4, 784), np.uint8))
    (cache / "cat.npy.part").write_bytes(b"half")
    d = json.loads(invoke("data", "list", "--json").stdout)
    assert len(d["demo"]["categories"]) >= 10 and d["demo"]["synthetic"] is True
    assert d["cached"]["categories"] == [{"name": "apple", "count": 4, "bytes": (cache / "apple.npy").stat().st_size,
                                          "file": str(cache / "apple.npy")}]
    down = {r["name"]: r for r in d["downloadable"]}
    assert len(down) == 345 and down["apple"]["cached"] and not down["cat"]["cached"]
    assert down["cat"]["count"] == 123202
    text = invoke("data", "list").stdout
    assert "synthetic" in text and "345 categories" in text and "apple" in text


def test_list_and_info_of_a_folder(folder):
    d = json.loads(invoke("data", "list", "--data", str(folder), "--json").stdout)
    assert [(r["name"], r["count"]) for r in d["categories"]] == [("cat", 12), ("sea turtle", 5)]
    info = json.loads(invoke("data", "info", "--data", str(folder), "--json").stdout)
    assert info["kind"] == "npy" and info["total"] == 17 and not info["synthetic"]
    cat = info["categories"][0]
    assert cat["bytes"] == (folder / "full_numpy_bitmap_cat.npy").stat().st_size
    assert cat["google_count"] == 123202 and cat["file"].endswith("full_numpy_bitmap_cat.npy")
    out = invoke("data", "info", "--data", str(folder), "--categories", "sea turtle").stdout
    assert "sea turtle" in out and "cat " not in out


def test_info_demo_is_synthetic():
    d = json.loads(invoke("data", "info", "--json").stdout)
    assert d["synthetic"] and "synthetic" in d["source"] and all(r["bytes"] is None for r in d["categories"])


def test_show_grid_plain_when_not_a_terminal(folder):
    out = invoke("data", "show", "cat", "--data", str(folder), "--n", "3", "--start", "2").stdout
    lines = out.splitlines()
    assert lines[0].startswith("cat: 3 of 12 drawings from npy: ")
    assert "\x1b[" not in out  # no escape codes into a pipe
    assert all(w in lines[15] for w in ("#2", "#3", "#4"))
    grid = lines[1:15]
    assert all(set(line) <= set(" ▀▄█") for line in grid)
    assert "CC BY 4.0" in lines[-1]


def test_show_demo_says_synthetic_and_random_rows():
    out = invoke("data", "show", "star", "--n", "4", "--random", "--seed", "3").stdout
    assert "synthetic" in out.splitlines()[0]
    assert out.count("#") == 4


def test_half_blocks_carry_both_pixels_as_colours():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 0, 0], img[0, 1, 0] = 200, 50
    lines = render_grid(img, ["#0"], cols=1, color=True)
    assert len(lines) == 15 and lines[-1].plain.strip() == "#0"
    first = lines[0]
    span = first.spans[0]
    assert first.plain[span.start:span.end] == "▀"
    style = span.style
    assert style.color.triplet == (200, 200, 200) and style.bgcolor.triplet == (50, 50, 50)
    assert first.plain == "▀" * 28


def test_show_unknown_category_suggests(folder):
    assert "did you mean 'cat'" in fails("data", "show", "caat", "--data", str(folder))
    assert "qd data download apple" in fails("data", "show", "apple")
    assert "--n=0 must be a whole number >= 1" in fails("data", "show", "star", "--n", "0")


def test_quality_json(folder):
    d = json.loads(invoke("data", "quality", "--data", str(folder), "--json").stdout)
    assert d["n"] == 17 and d["blank"] == [3] and d["duplicate_groups"] == [[1, 7]]
    assert d["provenance"]["7"].endswith("full_numpy_bitmap_cat.npy#7")
    text = invoke("data", "quality", "--data", str(folder)).stdout
    assert "duplicates:" in text and "#1 = cat" in text


def test_export_keeps_source_order_and_counts(folder, tmp_path):
    out = tmp_path / "out" / "all.npy"
    res = invoke("data", "export", "--data", str(folder), "--out", str(out))
    a = np.load(out)
    ref = np.concatenate([np.load(folder / "full_numpy_bitmap_cat.npy"), np.load(folder / "sea turtle.npy")])
    assert a.dtype == np.uint8 and np.array_equal(a, ref)
    assert "cat 12, sea turtle 5" in res.stdout
    invoke("data", "export", "--data", str(folder), "--categories", "sea turtle", "--per-class", "3",
           "--seed", "1", "--out", str(out))
    assert np.load(out).shape == (3, 784)
    assert [p.name for p in out.parent.iterdir()] == ["all.npy"]  # no temp file left
    assert "must end in .npy" in fails("data", "export", "--data", str(folder), "--out", str(tmp_path / "x.png"))


def test_export_strokes_in_file_order(tmp_path):
    root = shared_quickdraw()
    if root is None:
        pytest.skip("../shared/quickdraw is absent")
    pytest.importorskip("qdcore.data.strokes")
    out = tmp_path / "apple.npy"
    invoke("data", "export", "--data", str(root / "simplified"), "--categories", "apple", "--out", str(out))
    a = np.load(out)
    ref = np.load(root / "numpy_bitmap" / "apple.npy")[:25]
    assert a.shape == (25, 784)
    r = [np.corrcoef(a[i].astype(float), ref[i].astype(float))[0, 1] for i in range(25)]
    assert np.mean(r) > 0.98  # same drawings in the same order


def test_download_through_the_cli(tmp_path):
    m = Mirror()
    try:
        m.files["sea turtle.npy"] = npy_bytes(30)
        m.files["cat.npy"] = npy_bytes(20, seed=1)
        res = invoke("data", "download", "sea turtle,cat", "--mirror", m.url)
        assert "2 downloaded, 0 already cached" in res.stdout
        assert "sea turtle: 30 drawings" in res.stdout
        assert (tmp_path / "cache" / "sea turtle.npy").read_bytes() == m.files["sea turtle.npy"]
        res = invoke("data", "download", "cat", "--mirror", m.url, "--cache", str(tmp_path / "cache"))
        assert "0 downloaded, 1 already cached" in res.stdout and len(m.requests) == 2
        d = json.loads(invoke("data", "info", "--data", "cache", "--json").stdout)
        assert [(r["name"], r["count"]) for r in d["categories"]] == [("cat", 20), ("sea turtle", 30)]
    finally:
        m.close()


def qd(*args: str, tmp: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QD_DATA=str(tmp / "cache"), QD_HOME=str(tmp / "home"), QD_MIRROR="http://127.0.0.1:9",
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=scaled_timeout(60))


def test_bad_input_is_one_line_exit_2(tmp_path):
    trunc = tmp_path / "trunc"
    trunc.mkdir()
    np.save(trunc / "cat.npy", np.zeros((10, 784), np.uint8))
    (trunc / "cat.npy").write_bytes((trunc / "cat.npy").read_bytes()[:-1000])
    (tmp_path / "apple.bin").write_bytes(bytes(784 * 2 + 1))
    (tmp_path / "blocker").write_text("a file, not a folder")
    cases = [
        (["data", "download", "aple"], r"unknown category 'aple' (did you mean 'apple'"),
        (["data", "info", "--data", str(trunc)], "cat.npy is truncated"),
        (["data", "show", "cat", "--data", str(tmp_path / "apple.bin")], "apple.bin is 1,569 bytes, not a multiple of 784"),
        (["data", "download", "cat", "--cache", str(tmp_path / "blocker" / "cache")], "cannot create the data cache"),
    ]
    for args, needle in cases:
        p = qd(*args, tmp=tmp_path)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert "Traceback" not in p.stderr
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("qd: error: ") and needle in lines[0], (args, p.stderr)
    assert not (tmp_path / "cache").exists()
