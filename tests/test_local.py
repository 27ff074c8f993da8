"""Local .npy folders and .bin dumps: names, memory maps, and corrupt files."""

from __future__ import annotations

import numpy as np
import pytest

from qdcore.data.categories import category_from_stem
from qdcore.data.drawingset import select
from qdcore.data.local import BinFolderSource, NpyFolderSource, open_bin
from qdcore.data.opener import open_source
from qdcore.errors import DataError
from qdcore.paths import shared_quickdraw


def rows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)


def test_category_names_from_file_names():
    assert category_from_stem("full_numpy_bitmap_sea turtle") == "sea turtle"
    assert category_from_stem("Sea_Turtle") == "sea turtle"
    assert category_from_stem("the eiffel tower") == "The Eiffel Tower"
    assert category_from_stem("angels1000") == "angels1000"  # not official: keep the stem


def test_folder_of_npy_both_naming_styles(tmp_path):
    a, b = rows(30, 1), rows(12, 2)
    np.save(tmp_path / "full_numpy_bitmap_cat.npy", a)
    np.save(tmp_path / "Sea Turtle.npy", b)
    (tmp_path / "dog.npy.part").write_bytes(b"partial download")  # ignored
    (tmp_path / ".cat.npy.abc.tmp.npy").write_bytes(b"temp")  # ignored
    src = open_source(tmp_path)
    assert isinstance(src, NpyFolderSource) and src.kind == "npy" and not src.synthetic
    assert src.categories() == ["cat", "sea turtle"]
    assert src.count("cat") == 30 and src.count("sea turtle") == 12
    assert src.file_of("cat").endswith("full_numpy_bitmap_cat.npy")
    assert np.array_equal(src.read("cat"), a)
    assert np.array_equal(src.read("cat", np.array([5, 1, 29])), a[[5, 1, 29]])  # order kept
    assert src.read("cat", np.array([], np.int64)).shape == (0, 784)
    with pytest.raises(DataError, match="out of range"):
        src.read("cat", np.array([30]))


def test_single_npy_file(tmp_path):
    np.save(tmp_path / "apple.npy", rows(5))
    src = open_source(tmp_path / "apple.npy")
    assert src.categories() == ["apple"] and src.count("apple") == 5


def test_duplicate_category_names(tmp_path):
    np.save(tmp_path / "cat.npy", rows(2))
    np.save(tmp_path / "full_numpy_bitmap_cat.npy", rows(2))
    with pytest.raises(DataError, match="hold category 'cat'; remove one"):
        NpyFolderSource(tmp_path)


def test_truncated_npy_names_the_file(tmp_path):
    np.save(tmp_path / "cat.npy", rows(10))
    data = (tmp_path / "cat.npy").read_bytes()
    (tmp_path / "cat.npy").write_bytes(data[:-784 * 3 - 100])
    with pytest.raises(DataError, match=r"cat\.npy is truncated: .*10 drawings.*re-download it or delete it"):
        NpyFolderSource(tmp_path)


def test_bad_header_and_wrong_layout(tmp_path):
    (tmp_path / "cat.npy").write_bytes(b"this is not numpy" * 20)
    with pytest.raises(DataError, match=r"cat\.npy is not a valid \.npy file"):
        NpyFolderSource(tmp_path)
    np.save(tmp_path / "cat.npy", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"uint8 \(3, 28, 28\), not Google's uint8 \(N, 784\)"):
        NpyFolderSource(tmp_path)
    np.save(tmp_path / "cat.npy", np.zeros((3, 784), np.float32))
    with pytest.raises(DataError, match="float32"):
        NpyFolderSource(tmp_path)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DataError, match="no .npy files"):
        NpyFolderSource(tmp_path)
    assert NpyFolderSource(tmp_path, allow_empty=True).categories() == []
    assert NpyFolderSource(tmp_path / "nope", allow_empty=True).categories() == []
    with pytest.raises(DataError, match="does not exist"):
        NpyFolderSource(tmp_path / "nope")


def test_bin_dumps(tmp_path):
    a = rows(7, 3)
    (tmp_path / "full_numpy_bitmap_apple.bin").write_bytes(a.tobytes())
    (tmp_path / "angels1000.bin").write_bytes(rows(2).tobytes())
    (tmp_path / "empty.bin").write_bytes(b"")
    src = open_source(tmp_path)
    assert src.kind == "bin" and src.categories() == ["angels1000", "apple", "empty"]
    assert src.count("apple") == 7 and src.count("empty") == 0
    assert np.array_equal(src.read("apple", np.array([6, 0])), a[[6, 0]])
    assert src.read("empty").shape == (0, 784)
    assert isinstance(open_bin(tmp_path / "full_numpy_bitmap_apple.bin"), BinFolderSource)


def test_bin_of_wrong_size(tmp_path):
    (tmp_path / "apple.bin").write_bytes(bytes(784 * 3 + 5))
    with pytest.raises(DataError, match=r"apple\.bin is 2,357 bytes, not a multiple of 784"):
        open_source(tmp_path / "apple.bin")


def test_sampling_reads_only_requested_rows(tmp_path):
    # A 40 MB file whose pages are never touched except for the sampled rows.
    n = 50_000
    path = tmp_path / "cat.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, 784))
    mm[::997] = 255
    mm.flush()
    del mm
    src = NpyFolderSource(tmp_path)
    ds = select(src, ["cat"], per_class=200, seed=3)
    assert len(ds) == 200 and np.all(np.diff(ds.rows) > 0)
    full = np.load(path)
    assert np.array_equal(ds.images.reshape(200, 784), full[ds.rows])
    assert isinstance(src.open_map("cat"), np.memmap)


def test_shared_quickdraw_folder():
    root = shared_quickdraw()
    if root is None:
        pytest.skip("../shared/quickdraw is absent")
    src = open_source(root / "numpy_bitmap")
    cats = src.categories()
    assert len(cats) == len(list((root / "numpy_bitmap").glob("*.npy"))) and "sea turtle" in cats and "smiley face" in cats
    assert src.count("cat") == 3000 and src.count("bee") == 500
    ref = np.load(root / "numpy_bitmap" / "apple.npy")
    assert np.array_equal(src.read("apple", np.array([2999, 0, 17])), ref[[2999, 0, 17]])
    ds = select(src, "cat,apple", per_class=50, seed=0)
    assert ds.counts().tolist() == [50, 50]
    assert ds.provenance(0).startswith(str(root / "numpy_bitmap" / "cat.npy") + "#")


def test_open_bin_tells_google_stroke_files_from_dumps(tmp_path):
    strokes = pytest.importorskip("qdcore.data.strokes")
    root = shared_quickdraw()
    if root is None:
        pytest.skip("../shared/quickdraw is absent")
    drawings = strokes.load_drawings(root / "simplified" / "apple.ndjson")[:5]
    strokes.write_google_binary(tmp_path / "apple.bin", drawings)
    src = open_bin(tmp_path / "apple.bin")
    assert isinstance(src, strokes.NdjsonSource) and src.count("apple") == 5
    (tmp_path / "cat.bin").write_bytes(rows(3).tobytes())
    with pytest.raises(DataError, match="mixes Google binary stroke files"):
        open_bin(tmp_path)
