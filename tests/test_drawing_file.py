"""Reading drawings to classify from one file (qd predict's reader)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qdcore.data.drawing_file import read_drawing_file
from qdcore.errors import DataError


def test_npy_rows_and_float_bitmaps(tmp_path) -> None:
    rows = np.arange(2 * 784, dtype=np.int64).reshape(2, 784) % 256
    np.save(tmp_path / "cat.npy", rows.astype(np.uint8))
    images, prov, hint = read_drawing_file(tmp_path / "cat.npy")
    assert images.shape == (2, 28, 28) and images.dtype == np.uint8 and prov == ["cat.npy#0", "cat.npy#1"]
    assert hint == "cat" and images[1, 0, 0] == 784 % 256
    np.save(tmp_path / "dog.npy", np.full((1, 28, 28), 0.5))
    images, _, _ = read_drawing_file(tmp_path / "dog.npy")
    assert images[0, 0, 0] == 128  # 0..1 floats scale to 0..255


@pytest.mark.parametrize("name, content, msg", [
    ("a.npy", np.zeros((2, 100), np.uint8), "expected (N, 784)"),
    ("b.npy", np.full((1, 784), 300.0), "outside 0..255"),
    ("c.png", None, "unknown drawing file type"),
    ("gone.npy", None, "does not exist"),
])
def test_bad_files_are_named(tmp_path, name, content, msg) -> None:
    path = tmp_path / name
    if content is not None:
        np.save(path, content)
    elif name.endswith(".png"):
        path.write_bytes(b"x")
    with pytest.raises(DataError, match=re.escape(msg)):
        read_drawing_file(path)
