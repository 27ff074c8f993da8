"""One bounded reader for stroke files: any size, chunk boundaries mid-line, bounded drawings, skipped lines
counted and reported by every command, --strict to refuse."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import fast_invoker
from hostile_cases import WORDS, stroke_file

from qdcore.data import strokes
from qdcore.data.strokes import NdjsonSource, index_file, word_rows
from qdcore.errors import DataError

invoke = fast_invoker()
BAD = ["NaN", "Infinity", "bad word"]  # lines 8 and two later ones


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("strokes") / "drawn.ndjson"
    good, total = stroke_file(path, 3.0, BAD)
    assert path.stat().st_size > 3 << 20
    return path, good, total


def test_word_rows_and_spans_do_not_depend_on_chunk_boundaries(big, monkeypatch):
    path, good, total = big
    strokes._INDEX_CACHE.clear()
    idx = index_file(path)
    rows = word_rows(idx)
    assert len(idx) == good and sorted(rows) == sorted(WORDS) and sum(len(r) for r in rows.values()) == good
    for chunk in (4099, 65_537):  # odd sizes: every boundary falls inside a line
        monkeypatch.setattr(strokes, "CHUNK_BYTES", chunk)
        strokes._INDEX_CACHE.clear()
        again = index_file(path)
        assert np.array_equal(again.spans, idx.spans) and [n for n, _ in again.bad] == [n for n, _ in idx.bad]
        assert {w: r.tolist() for w, r in word_rows(again).items()} == {w: r.tolist() for w, r in rows.items()}
    # One word repeated in every line is counted across chunk boundaries too (the fast path).
    one = path.parent / "one.ndjson"
    one.write_bytes(b"".join(json.dumps({"word": "moon", "drawing": [[[1, 2], [3, 4]]]}).encode() + b"\n"
                             for _ in range(5000)))
    strokes._INDEX_CACHE.clear()
    assert list(word_rows(index_file(one))) == ["moon"]


def test_skipped_lines_are_counted_even_for_big_files(big, monkeypatch):
    path, good, total = big
    for full_check in (strokes.FULL_CHECK_BYTES, 0):  # small files fully parsed; big ones cheaply checked
        monkeypatch.setattr(strokes, "FULL_CHECK_BYTES", full_check)
        strokes._INDEX_CACHE.clear()
        src = NdjsonSource(path)
        assert sorted(src.categories()) == sorted(WORDS)
        # Both find all three before a drawing is read: the cheap check parses the lines with NaN or Infinity.
        assert sum(src.count(w) for w in WORDS) == good
        assert len(src.notes) == 1 and src.notes[0].startswith(f"skipped 3 of {total:,} lines in {path}: line 8: ")
        for w in WORDS:
            assert src.read(w).shape[0] == src.count(w)
        assert len(src.notes) == 1 and src.notes[0].startswith("skipped 3 of")
        with pytest.raises(DataError, match="--strict refuses"):
            NdjsonSource(path, strict=True).count("moon")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("reader-home")
    with pytest.MonkeyPatch.context() as mp:  # QD_HOME for the module, restored after
        mp.setenv("QD_HOME", str(home))
        strokes._INDEX_CACHE.clear()
        yield home


def _note(output: str) -> list[str]:
    return [ln for ln in output.splitlines() if ln.startswith("note: skipped")]


def test_every_command_reads_a_3_mib_file_and_reports_its_skipped_lines(home, big, tmp_path):
    path, good, total = big
    expected = f"note: skipped 3 of {total:,} lines in {path}: line 8: stroke 0 holds values that are not finite"
    r = invoke("train", "--data", str(path), "--per-class", "60", "--epochs", "1", "--width", "2", "--no-amp")
    assert r.exit_code == 0 and _note(r.output) and _note(r.output)[0].startswith(expected), r.output
    for args in (["data", "info", "--data", str(path)], ["data", "show", "star", "--data", str(path), "--n", "2"],
                 ["predict", "last", str(path), "--limit", "1"], ["eval", "last", "--data", str(path)],
                 ["data", "export", "--data", str(path), "--out", str(tmp_path / "x.npy")]):
        r = invoke(*args)
        notes = _note(r.output)
        assert r.exit_code == 0 and len(notes) == 1 and notes[0].startswith(expected), (args, r.output)
        assert "'word' is not a string" in notes[0], notes[0]
    r = invoke("data", "info", "--data", str(path), "--json")
    assert json.loads(r.stdout)["total"] == good
    for args in (["data", "info", "--data", str(path)], ["data", "show", "star", "--data", str(path)],
                 ["predict", "last", str(path)], ["eval", "last", "--data", str(path)],
                 ["train", "--data", str(path), "--per-class", "60", "--epochs", "1", "--width", "2"]):
        r = invoke(*args, "--strict")
        lines = [ln for ln in r.output.splitlines() if ln.startswith("qd: error:")]
        assert r.exit_code == 2 and len(lines) == 1 and "--strict refuses" in lines[0], (args, r.output)


def test_a_200000_stroke_drawing_is_refused_in_under_a_second(home, tmp_path):
    r = invoke("train", "--data", "demo", "--per-class", "20", "--epochs", "1", "--width", "2", "--no-amp")
    assert r.exit_code == 0, r.output
    cases = {
        "strokes": {"word": "moon", "drawing": [[[1], [1]]] * 200_000},  # 2 MB: under the line cap
        "points": {"word": "moon", "drawing": [[list(range(200)) * 300, list(range(200)) * 300]] * 2},
        "long line": {"word": "moon", "drawing": [[[1, 2], [3, 4]]] * 300_000},
    }
    for name, doc in cases.items():
        f = tmp_path / f"{name.replace(' ', '_')}.ndjson"
        f.write_text(json.dumps(doc, separators=(",", ":")) + "\n" + json.dumps({"word": "moon", "drawing": [
            [[10, 200, 30], [20, 40, 220]]]}) + "\n")
        strokes._INDEX_CACHE.clear()
        t0 = time.process_time()
        r = invoke("predict", "last", str(f), "--json")
        cpu = time.process_time() - t0
        assert r.exit_code == 0 and cpu < 1.0, (name, cpu, r.output[-300:])
        assert json.loads(r.stdout)["n"] == 1
        note = _note(r.output)
        assert note and "skipped 1 of 2 lines" in note[0] and "at most" in note[0], (name, r.output[-400:])
    alone = tmp_path / "alone.ndjson"
    alone.write_text(json.dumps(cases["strokes"], separators=(",", ":")) + "\n")
    r = invoke("predict", "last", str(alone))
    assert r.exit_code == 2 and "more than 1,000 strokes" in r.output, r.output


def test_binary_records_past_the_bounds_are_skipped_and_the_scan_goes_on(tmp_path):
    from qdcore.data.strokes import Drawing, encode_google_binary

    ok = Drawing([([1, 50, 200], [3, 90, 10])], key_id="1")
    huge = Drawing([([1], [2])] * (strokes.MAX_STROKES + 1), key_id="2")
    (tmp_path / "moon.bin").write_bytes(encode_google_binary([ok, huge, ok]))
    idx = index_file(tmp_path / "moon.bin")
    assert len(idx) == 2 and idx.linenos.tolist() == [1, 3] and "1,001 strokes" in idx.bad[0][1]


def test_big_file_cheap_check_refuses_unbounded_and_non_json_lines(tmp_path, monkeypatch):
    """Past FULL_CHECK_BYTES lines are not parsed when indexed, yet NaN/Infinity and 200,000-stroke lines are
    still found then (so counts are exact before reading), at every chunk size."""
    from hostile_cases import BAD_LINES

    good = json.dumps({"word": "moon", "drawing": [[[10, 200, 30], [20, 40, 220]]]}).encode()
    path = tmp_path / "moon.ndjson"
    path.write_bytes(b"\n".join([good, BAD_LINES["200,000 strokes"], good, BAD_LINES["NaN"], good,
                                 BAD_LINES["Infinity"], b'{"word": "NaN", "drawing": [[[1, 2], [3, 4]]]}']) + b"\n")
    monkeypatch.setattr(strokes, "FULL_CHECK_BYTES", 0)
    for chunk in (7, 4099, 64 << 20):
        monkeypatch.setattr(strokes, "CHUNK_BYTES", chunk)
        strokes._INDEX_CACHE.clear()
        idx = index_file(path)
        assert idx.linenos.tolist() == [1, 3, 5, 7], chunk  # a word "NaN" is text, not a number
        assert [n for n, _ in idx.bad] == [2, 4, 6] and "more than 1,000 strokes" in idx.bad[0][1]
