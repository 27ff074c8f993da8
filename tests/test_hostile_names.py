"""Category names from file names: a newline never starts an output line, a non-UTF-8 name can be shown."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import fast_invoker

invoke = fast_invoker()


def test_names_with_newlines_and_bad_bytes_show_and_export_on_one_line(tmp_path, monkeypatch):
    from qdcore.data.demo import generate

    monkeypatch.setenv("QD_HOME", str(tmp_path / "home"))
    folder = tmp_path / "names"
    folder.mkdir()
    for k, name in enumerate([b"two\nlines", b"\xffbad", b"ok"]):
        images, _ = generate(per_class=5, seed=k, classes=[["moon", "star", "circle"][k]])
        with open(os.path.join(os.fsencode(folder), name + b".npy"), "wb") as f:
            np.save(f, images.reshape(-1, 784))
    # Each name as the listing shows it, and as typed with its raw bytes (argv decodes \xff as a surrogate).
    for typed, shown in (("two\\nlines", "two\\nlines"), ("two\nlines", "two\\nlines"), ("\\xffbad", "\\xffbad"),
                         (os.fsdecode(b"\xffbad"), "\\xffbad")):
        r = invoke("data", "show", typed, "--data", str(folder), "--n", "1")
        assert r.exit_code == 0, (typed, r.output)
        assert r.output.splitlines()[0].startswith(f"{shown}: 1 of 5 drawings"), (typed, r.output)
    r = invoke("data", "export", "--data", str(folder), "--out", str(tmp_path / "x.npy"))
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 2 and lines[1] == "rows in this order: \\xffbad 5, ok 5, two\\nlines 5", r.output
