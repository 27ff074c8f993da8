"""Hostile names, tampered run folders and Typer's own errors: one literal line, exit code 2, nothing garbled."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from qdcore.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from fuzzing import fast_invoker, run_case
from helpers import scaled_timeout

invoke = fast_invoker()
TINY = ["--data", "demo", "--per-class", "20", "--epochs", "1", "--width", "2", "--no-amp"]


def one_error(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("qd: error:")]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert "Traceback" not in result.output and "╭" not in result.output, result.output
    return lines[0]


@pytest.fixture(scope="module")
def run_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hostile-home")
    old = os.environ.get("QD_HOME")
    os.environ["QD_HOME"] = str(home)
    assert invoke("train", *TINY, "--name", "ablation [/] \x1b]0;pwned\x07\nfake line").exit_code == 0
    yield home
    if old is None:
        os.environ.pop("QD_HOME", None)
    else:
        os.environ["QD_HOME"] = old


def test_markup_and_control_characters_print_literally(run_home, tmp_path):
    listing = invoke("runs", "list")
    assert listing.exit_code == 0 and "ablation [/]" in listing.output
    assert "\x1b" not in listing.output and "\\e]0;pwned\\x07" in listing.output.replace("\n", "")
    shown = invoke("runs", "show", "last")
    assert shown.exit_code == 0 and "\\nfake line" in shown.output and "\x1b" not in shown.output
    for args in (["data", "show", "[/]"], ["train", "--categories", "x[/foo]", *TINY],
                 ["train", "--data", str(tmp_path / "[/]"), "--epochs", "1"],
                 ["train", "--config", str(tmp_path / "[/].json")],
                 ["data", "show", "\x1b]0;pwned\x07"]):
        line = one_error(invoke(*args))
        assert "\x1b" not in line
    folder = tmp_path / "files"
    folder.mkdir()
    images = np.zeros((4, 784), np.uint8)
    for name in ("[bold red]x", "esc\x1b]0;t\x07", "two\nlines"):
        np.save(folder / f"{name}.npy", images)
    with open(os.path.join(os.fsencode(folder), b"\xffbad.npy"), "wb") as f:
        np.save(f, images)
    listing = invoke("data", "list", "--data", str(folder))
    assert listing.exit_code == 0, listing.output
    for shown_name in ("[bold red]x", "esc\\e]0;t\\x07", "two\\nlines", "\\xffbad"):
        assert shown_name in listing.output, (shown_name, listing.output)
    assert "\x1b" not in listing.output


def test_names_that_break_files_do_not_break_analyze_or_train(run_home, tmp_path):
    """Class names with newlines, 240 characters or non-UTF-8 bytes: training, analysis and its files work."""
    folder = tmp_path / "classes"
    folder.mkdir()
    from qdcore.data.demo import generate

    names = [b"new\nline", b"x" * 240, b"\xff\xfe", b"ok"]
    for k, name in enumerate(names):
        images, _ = generate(per_class=12, seed=k, classes=[["moon", "circle", "star", "cloud"][k]])
        with open(os.path.join(os.fsencode(folder), name + b".npy"), "wb") as f:
            np.save(f, images.reshape(-1, 784))
    result = invoke("train", "--data", str(folder), "--epochs", "1", "--width", "2", "--no-amp", "--json")
    assert result.exit_code == 0, result.output
    out = tmp_path / "report"
    report = invoke("analyze", "last", "--out", str(out), "--features", "pixels")
    assert report.exit_code == 0, report.output
    assert all(len(p.name) < 120 and "\n" not in p.name for p in out.iterdir())
    assert (out / "confusion.png").exists()
    assert all((p.stat().st_mode & 0o044) == 0o044 for p in out.iterdir()), "report files must follow the umask"


def test_analyze_out_must_be_a_writable_folder(run_home, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is a file" in one_error(invoke("analyze", "last", "--out", str(afile)))
    assert "which is a file" in one_error(invoke("analyze", "last", "--out", str(afile / "sub")))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere
        assert "not writable" in one_error(invoke("analyze", "last", "--out", str(locked)))


TAMPER = {
    "arch without a name": lambda m: m["arch"].pop("name"),
    "arch as a list": lambda m: m.update(arch=[1, 2]),
    "arch as a string": lambda m: m.update(arch="widthk"),
    "absurd width": lambda m: m["arch"].update(width=10 ** 7),
    "absurd class count": lambda m: m["arch"].update(num_classes=10 ** 9),
    "classes of numbers": lambda m: m.update(classes=list(range(len(m["classes"])))),
    "more classes than outputs": lambda m: m.update(classes=m["classes"] + ["extra"]),
    "fewer classes than outputs": lambda m: m.update(classes=m["classes"][:-1]),
    "not an object": lambda m: (m.clear(), m.update({"x": [1]})),
    "unknown model": lambda m: m["arch"].update(name="nope"),
    "width as text": lambda m: m["arch"].update(width="wide"),
    "negative kernel": lambda m: m["arch"].update(kernel=-3),
    "depth as a bool": lambda m: m["arch"].update(depth=True),
}


@pytest.mark.parametrize("how", sorted(TAMPER))
def test_tampered_model_json_is_one_line_naming_the_file(run_home, tmp_path, how):
    store = Store(run_home)
    run_dir = store.run_dir(store.list_runs()[0].id)
    path = run_dir / "model.json"
    original = path.read_text()
    meta = json.loads(original)
    TAMPER[how](meta)
    path.write_text(json.dumps(meta))
    drawings = tmp_path / "moon.npy"
    np.save(drawings, np.zeros((2, 784), np.uint8))
    try:
        for args in (["eval", "last"], ["predict", "last", str(drawings)]):
            outcome, detail = run_case(lambda args=args: invoke(*args), seconds=20)
            assert outcome == "clean error", (how, args, detail)
            assert "model.json" in detail or "model.safetensors" in detail, detail
    finally:
        path.write_text(original)


def test_predict_on_garbage_never_mentions_pickles(run_home, tmp_path):
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (3,), }" + b" " * 60)
    line = one_error(invoke("predict", "last", str(garbage)))
    assert "pickle" not in line.lower() and "garbage.npy" in line
    garbage.write_bytes(os.urandom(500))
    line = one_error(invoke("predict", "last", str(garbage)))
    assert "pickle" not in line.lower()


def test_typer_errors_are_one_line_and_home_works_after_the_command(run_home, tmp_path):
    for args in (["train", "--per-class", "abc"], ["train", "--no-such-option"], ["no-such-command"],
                 ["runs", "list", "--limit", "x"], ["eval", "last", "--bogus"]):
        line = one_error(invoke(*args))
        assert "--help" in line or "must be" in line, line
    other = tmp_path / "other-home"
    assert invoke("runs", "list", "--home", str(other)).exit_code == 0
    assert (other / "qd.sqlite").exists()
    line = one_error(invoke("eval", "last", "--home", str(other)))
    assert str(other) in line and "there are no classifier" in line and "runs in" in line
    assert invoke("eval", "last", f"--home={run_home}").exit_code == 0


def test_malformed_lines_are_reported_the_same_way_in_every_command(run_home, tmp_path):
    from fuzzing import seed_files

    good = seed_files()[".ndjson"].splitlines()
    folder = tmp_path / "strokes"
    folder.mkdir()
    bad_line = re.sub(rb'("drawing": ?\[\[\[)\d+', rb"\1true", good[1], count=1)  # JSON true as a coordinate
    assert bad_line != good[1]
    (folder / "apple.ndjson").write_bytes(b"\n".join([good[0], bad_line, *good[2:]]) + b"\n")
    (folder / "zebra.ndjson").write_bytes(b"\n".join(good) + b"\n")
    note = "apple.ndjson: line 2: stroke 0 holds values that are not finite numbers"
    for args in (["data", "info", "--data", str(folder)], ["data", "show", "apple", "--data", str(folder)],
                 ["data", "export", "--data", str(folder), "--out", str(tmp_path / "x.npy")],
                 ["predict", "last", str(folder / "apple.ndjson")],
                 ["train", "--data", str(folder), "--epochs", "1", "--width", "2", "--batch-size", "4", "--no-amp"]):
        result = invoke(*args)
        # (qd predict also notes that the file's word is not one of the model's classes)
        notes = [ln for ln in result.output.splitlines() if ln.startswith("note:") and "not among" not in ln]
        assert result.exit_code == 0 and len(notes) == 1 and notes[0].endswith(note), (args, result.output)
        assert notes[0].startswith(f"note: skipped 1 of {len(good)} lines in "), notes[0]


@pytest.mark.parametrize("how", ["fewer class names", "labels out of range", "objects", "not a zip"])
def test_tampered_predictions_are_one_line_naming_the_file(run_home, how):
    store = Store(run_home)
    path = store.run_dir(store.list_runs()[0].id) / "predictions.npz"
    original = path.read_bytes()
    with np.load(path) as z:
        parts = {k: z[k] for k in z.files}
    if how == "fewer class names":
        parts["classes"] = parts["classes"][:-1]
    elif how == "labels out of range":
        parts["labels"] = parts["labels"] + 1000
    elif how == "objects":
        parts["provenance"] = np.array([{"a": 1}] * len(parts["labels"]), dtype=object)
    try:
        if how == "not a zip":
            path.write_bytes(b"PK\x03\x04" + os.urandom(300))
        else:
            np.savez(path, **parts)
        line = one_error(invoke("analyze", "last"))
        assert "predictions.npz" in line and "pickle" not in line.lower(), line
    finally:
        path.write_bytes(original)


def test_qdtui_without_a_terminal_refuses_at_once(tmp_path):
    """`ssh host qdtui` without -t: one line and exit 2, not a loop spinning on a dead input."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "QD_HOME": str(tmp_path)}
    env.pop("TEXTUAL_DRIVER", None)
    p = subprocess.run([sys.executable, "-m", "qdtui"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       env=env, timeout=scaled_timeout(60))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "needs a terminal" in p.stderr and "ssh -t" in p.stderr


def test_a_bad_quiz_setting_is_named_before_the_missing_terminal(tmp_path):
    """`qd quiz start --ink 500` in a script: the mistyped value is the one line, not 'needs a terminal'."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "QD_HOME": str(tmp_path)}
    env.pop("TEXTUAL_DRIVER", None)
    for cmd in (["-m", "qdtui", "quiz", "--ink", "500"], ["-m", "qdcore.cli.main", "quiz", "start", "--ink", "500"]):
        p = subprocess.run([sys.executable, *cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           env=env, timeout=scaled_timeout(60))
        assert p.returncode == 2 and p.stdout == "", (cmd, p.stderr)
        assert p.stderr.count("\n") == 1 and "--ink=500 must be a whole number" in p.stderr, (cmd, p.stderr)
