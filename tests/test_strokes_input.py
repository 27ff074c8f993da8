"""The stroke kind's input: Google's raw ndjson (with times) and binary .bin files written here byte by byte, and
its bad input (empty drawings, zero-length strokes, huge drawings, bitmaps, options of other kinds): one-line
errors with exit code 2 and no run row, or counted skips and a stated cap."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.store import Store
from tests.test_strokes_kind import SMALL, _write, planted, train_planted  # noqa: F401 (planted is a fixture)

_HEAD = "<Q2sBIH"  # Google's binary record: key_id, countrycode, recognized, timestamp, n_strokes


def _google_bin(drawings: list) -> bytes:
    """Google's documented binary layout, written here independently of qd's encoder."""
    out = b""
    for i, d in enumerate(drawings):
        out += struct.pack(_HEAD, 1000 + i, b"US", 1, 1_490_000_000 + i, len(d))
        for xs, ys in d:
            out += struct.pack("<H", len(xs)) + bytes(xs) + bytes(ys)
    return out


def _raw(d: list, i: int, backwards_time: bool = False) -> dict:
    """A raw ndjson line: screen coordinates (x3, shifted) and each point's time in ms; optionally one step of
    time going backwards (the reader's rule: the times are kept as given, the strokes still read)."""
    t, strokes = 0, []
    for xs, ys in d:
        ts = [t + 17 * k for k in range(len(xs))]
        t = ts[-1] + 120
        strokes.append([[3 * x + 40 for x in xs], [3 * y + 25 for y in ys], ts])
    if backwards_time:
        strokes[0][2][-1] = -5
    return {"word": "w", "key_id": str(i), "countrycode": "US", "recognized": True,
            "timestamp": "2017-03-10 22:17:57.57466 UTC", "drawing": strokes}


def _read(folder) -> list:
    return [[(x, y) for x, y in json.loads(line)["drawing"]] for line in folder.read_text().splitlines()]


def _train(data, *extra: str):
    return train_planted(data, "stroke-gru", *SMALL, *extra)


def test_google_binary_files_train_and_predict(planted, home, tmp_path):  # noqa: F811
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in ("rightwards", "leftwards"):
        (folder / f"{name}.bin").write_bytes(_google_bin(_read(planted / f"{name}.ndjson")))
    r = _train(folder)
    assert r.exit_code == 0, r.output
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.summary["test_top1"] >= 0.9 and run.summary["num_train"] == 66, run.summary
    r = CliRunner().invoke(app, ["predict", str(run.id), str(folder / "leftwards.bin"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["n"] == 60


def test_raw_ndjson_with_times_trains_and_reads_as_its_simplified_strokes(planted, home, tmp_path):  # noqa: F811
    from qdcore.data.sequence import encode
    from qdcore.data.simplify import simplify
    from qdcore.data.strokes import parse_line

    folder = tmp_path / "raw"
    folder.mkdir()
    for name in ("rightwards", "leftwards"):
        lines = [_raw(d, i, backwards_time=i == 3) for i, d in enumerate(_read(planted / f"{name}.ndjson"))]
        (folder / f"{name}.ndjson").write_text("".join(json.dumps(x) + "\n" for x in lines))
    first = parse_line((folder / "leftwards.ndjson").read_text().splitlines()[3])
    assert first.raw and first.times is not None and first.times[0][-1] == -5  # kept as given
    strokes = [(xs, ys) for xs, ys, _ in json.loads((folder / "leftwards.ndjson").read_text().splitlines()[3])["drawing"]]
    assert np.array_equal(encode(first.simplified()), encode(simplify(strokes)))  # the model reads Google's recipe
    r = _train(folder)
    assert r.exit_code == 0, r.output
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.summary["test_top1"] >= 0.9 and run.summary["unread_drawings"] == 0, run.summary


def _bad_folder(tmp_path, long_points: int = 600):
    """Two classes of good drawings plus: an empty drawing, one of zero-length strokes only, one point, coordinates
    far outside 0..255 (read as raw), and two drawings longer than any --max-points below."""
    rng = np.random.default_rng(0)

    def good(n: int) -> list:
        return [[(rng.integers(0, 256, 6).tolist(), rng.integers(0, 256, 6).tolist()) for _ in range(2)]
                for _ in range(n)]

    folder = tmp_path / "bad"
    folder.mkdir()
    long = [(rng.integers(0, 256, long_points).tolist(), rng.integers(0, 256, long_points).tolist())]
    odd = [[], [([], [])], [([7], [9])], [([-500, 10 ** 7, 3], [-3, 4, 10 ** 6])], long, long]
    _write(folder / "cat.ndjson", "cat", good(20) + odd)
    _write(folder / "dog.ndjson", "dog", good(20))
    return folder


def test_empty_drawings_are_skipped_and_counted_and_long_ones_cut_at_max_points(home, tmp_path):
    folder = _bad_folder(tmp_path)
    r = CliRunner().invoke(app, ["train", "--model", "stroke-lstm", "--data", str(folder),
                                                 "--epochs", "1", "--val", "0", "--test", "0", "--max-points", "64",
                                                 *SMALL])
    assert r.exit_code == 0, r.output + r.stderr
    assert "skipped 2 of 26 lines in" in r.stderr and "the drawing has no points" in r.stderr, r.stderr
    assert "2 of 44 training and validation drawings have more than 64 points" in r.stderr, r.stderr
    assert "Traceback" not in r.output + r.stderr
    with Store(home) as store:
        run = store.list_runs()[0]
        assert run.status == "done" and run.summary["cut_drawings"] == 2 and run.summary["num_train"] == 44
        assert np.isfinite(run.summary["train_loss"])  # huge coordinates were normalised, not fed raw
    r = CliRunner().invoke(app, ["train", "--model", "stroke-lstm", "--data", str(folder), "--strict"])
    assert r.exit_code == 2 and r.output.startswith("qd: error:") and "--strict refuses" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    with Store(home) as store:
        assert len(store.list_runs()) == 1  # the refused run left no row


@pytest.mark.parametrize("args, says", [
    (["--width", "8"], "--width is not an option of strokes runs"),
    (["--max-points", "1"], "--max-points=1 must be a whole number >= 2"),
    (["--max-points", "5000"], "--max-points=5000 must be a whole number >= 2 and <= 4096"),
    (["--prefix", "1.5"], "--prefix"),
])
def test_options_a_stroke_model_refuses(args, says, home):
    r = CliRunner().invoke(app, ["train", "--model", "stroke-gru", *args])
    assert r.exit_code == 2 and r.output.startswith("qd: error:") and says in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
    with Store(home) as store:
        assert store.list_runs() == []


def test_bitmaps_are_refused_by_name_in_train_eval_and_predict(planted, home, tmp_path):  # noqa: F811
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in ("rightwards", "leftwards"):
        np.save(mixed / f"{name}.npy", np.zeros((20, 784), np.uint8))  # read first: the folder's bitmaps
        (mixed / f"{name}.ndjson").write_text((planted / f"{name}.ndjson").read_text())
    r = CliRunner().invoke(app, ["train", "--model", "stroke-gru", "--data", str(mixed)])
    assert r.exit_code == 2 and str(mixed) in r.output and "a stroke model needs strokes" in r.output, r.output
    r = _train(planted, "--epochs", "1")
    assert r.exit_code == 0, r.output
    for cmd in (["eval", "1", "--data", str(mixed / "leftwards.npy")], ["predict", "1", str(mixed / "leftwards.npy")]):
        r = CliRunner().invoke(app, cmd)
        assert r.exit_code == 2 and r.output.startswith("qd: error: ") and str(mixed / "leftwards.npy") in r.output
        assert "a stroke model needs strokes" in r.output and len(r.output.strip().splitlines()) == 1, r.output
