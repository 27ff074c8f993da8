"""Every command line in README's code blocks runs as pasted in a fresh store (placeholders filled).

Lines run in README order in one temporary folder and store, so `last`, `report/` and `drawn.ndjson` mean what
they mean to a reader going down the page. Run ids the README shows (7, 12, 3 4) are filled with the run of that
role; files a line reads (run.toml, my.toml, drawings.ndjson) are made first; people's drawings are stored
before `qd data export-drawn`. `--data cache` is ../shared/quickdraw's bitmaps (lines that need it skip, saying
so, when it is absent). Where a line would train for minutes, flags appended after it make it small (the last
value of a flag wins), the rest of the line as written. Lines that need a terminal, a GPU, several machines,
the network or a Ray cluster are not run; their flags are still checked (`--help` parses every option given).
A line fails on a non-zero exit or a traceback.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from qdcore.paths import shared_quickdraw

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SHARED = (shared_quickdraw() or ROOT / "no-shared-quickdraw") / "numpy_bitmap"

# Not run (the reason), matched at the start of a line or anywhere (for flags); their flags are still parsed.
NOT_RUN = (
    ("scripts/setup", "the setup and the test suite themselves (CI runs them)"),
    ("tensorboard ", "TensorBoard's own server"),
    ("pip install", "installs packages"),
    ("torchrun ", "several processes under torchrun"),
    ("python benchmarks/gpu_check.py", "needs a GPU"),
    ("bash benchmarks/gpu_session.sh", "needs a GPU"),
    ("qdtui", "needs a terminal (the app is tested by Pilot and snapshots)"),
    ("qd quiz start", "the app's quiz: needs a terminal (tested in tmux, test_quiz_ink)"),
    ("--nnodes", "several machines"),
    ("--nproc", "several processes (tested in test_ddp)"),
    ("--executor ray", "a Ray cluster"),
    ("--mirror URL", "downloads from Google or a mirror"),
    ("--all -j", "downloads all 345 categories"),
    ("--cuda-graphs", "needs CUDA"),
    ("--device-memory 20", "a GPU's memory"),
)
# Flags appended to lines that would train for minutes on a CPU (the last value of a flag wins).
SMALL = (
    ("qd train --model lightgbm", "--n-rounds 5 --per-class 60"),
    ("qd train --model logreg", "--per-class 60 --max-iter 20"),
    ("qd train --preset strong", "--per-class 40 --epochs 1"),
    ("qd train --data cache", "--per-class 40 --epochs 1"),
    ("qd train --data drawn.ndjson", "--epochs 1"),
    ("qd train --per-class", "--epochs 1"),
    ("qd train --categories", "--epochs 1 --per-class 100"),
    ("qd train --config", "--epochs 1"),
    ("qd train", "--epochs 1 --per-class 100"),
    ("qd gan train", "--epochs 1 --per-class 64 --quality-n 16 --batch-size 32"),
    ("qd study run classes-rows", "--seeds 1"),
)
NEEDS_CACHE = ("--data cache", "shared24", "qd study run classes-rows")  # named studies read the cache


def readme_blocks() -> tuple[list[tuple[int, str]], str]:
    """(line number, command) of every bash code block line, and the text of the toml block (the spec example)."""
    lines, toml, block, lang = [], "", None, ""
    for n, text in enumerate(README.read_text().splitlines(), 1):
        if text.startswith("```"):
            if block is None:
                block, lang = [], text[3:].strip()
            else:
                if lang == "toml":
                    toml = "\n".join(block) + "\n"
                block = None
            continue
        if block is not None:
            block.append(text)
            command = re.sub(r"\s+#\s.*$", "", text).strip()  # the comment after a line
            if lang == "bash" and command:
                lines.append((n, command))
    return lines, toml


def _reason(command: str) -> str | None:
    for pattern, why in NOT_RUN:
        if command.startswith(pattern) or (pattern.startswith("--") and pattern in command):  # commands or flags
            return why
    return None


def _small(command: str) -> str:
    for prefix, extra in SMALL:
        if command.startswith(prefix):
            return f"{command} {extra}"
    return command


class Roles:
    """The run ids README's placeholders stand for, read from the store as lines create runs."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def fill(self, command: str) -> str:
        from qdcore.store import Store

        with Store(self.home) as store:
            runs = store.list_runs(top_level=True)
        classifiers = [r.id for r in runs if r.kind == "classifier" and r.status == "done"]
        acgan = next((r.id for r in runs if r.kind == "gan" and r.config.get("model") == "acgan"), None)
        study = next((r.id for r in runs if r.kind == "study"), None)
        words = shlex.split(command)
        if words[:2] == ["qd", "study"] and len(words) > 2 and words[2] in ("status", "resume", "show", "fit", "report"):
            words[3] = str(study)
        elif words[:2] == ["qd", "eval"] and words[2].isdigit():
            words[2] = str(acgan)
        elif "--synthetic" in words:
            words[words.index("--synthetic") + 1] = str(acgan)
        elif words[:3] == ["qd", "runs", "export"]:
            words[3:5] = [str(i) for i in classifiers[-2:]]
        elif "--run" in words:  # the first model: people drew for it (_people)
            words[words.index("--run") + 1] = str(classifiers[-1])
        return shlex.join(words)


def _files(cwd: Path, toml: str) -> None:
    """The files README's lines read: a config, the spec example, drawings to classify."""
    from qdcore.data.demo import generate_strokes

    (cwd / "run.toml").write_text("model = \"widthk\"\nwidth = 4\nper_class = 100\n")
    (cwd / "my.toml").write_text(toml)
    with open(cwd / "drawings.ndjson", "w") as f:
        for i, strokes in enumerate(generate_strokes("circle", 5)):
            f.write(json.dumps({"word": "circle", "countrycode": "US", "timestamp": "2017-01-01", "recognized": True,
                                "key_id": str(i), "drawing": [[x.tolist(), y.tolist()] for x, y in strokes]}) + "\n")


def _people(home: Path) -> None:
    """People's drawings, as the draw game keeps them (two categories, enough for the splits), for the first model."""
    from qdcore.data.demo import generate_strokes
    from qdcore.store import Store

    with Store(home) as store:
        run = [r.id for r in store.list_runs(kind="classifier", status="done", top_level=True)][-1]
        for word in ("square", "triangle"):
            for strokes in generate_strokes(word, 40):
                raw = [[x.tolist(), y.tolist(), list(range(0, 10 * len(x), 10))] for x, y in strokes]
                store.add_drawing("reader", word, raw, run_id=run, guesses=[[word, 0.9]], ms=900.0)


def _check_flags(command: str, env: dict[str, str], cwd: Path) -> str | None:
    """The options of a line not run, parsed (`--help` after them); a message when one is unknown."""
    words = shlex.split(command.split("&&")[0])
    if words[0] == "qd":
        out = subprocess.run([sys.executable, "-m", "qdcore.cli.main", *words[1:], "--help"], env=env, cwd=cwd,
                             capture_output=True, text=True)
        return None if out.returncode == 0 else out.stdout + out.stderr
    if words[0] == "qdtui":
        from qdtui.app import parse_args

        try:
            parse_args(words[1:])
        except SystemExit as e:
            return f"qdtui refuses {words[1:]} ({e})"
    return None


def test_every_readme_command_line_runs_as_pasted(tmp_path):
    lines, toml = readme_blocks()
    assert len(lines) > 50 and toml
    home, cwd = tmp_path / "home", tmp_path / "work"
    cwd.mkdir()
    env = dict(os.environ, QD_HOME=str(home), COLUMNS="120", CUDA_VISIBLE_DEVICES="",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if SHARED.is_dir():
        env["QD_DATA"] = str(SHARED)
    else:
        env["QD_DATA"] = str(tmp_path / "no-cache")
    roles = Roles(home)
    failures: list[str] = []
    not_run: list[str] = []
    ran = 0
    files_made = False
    for n, command in lines:
        why = _reason(command)
        if why is None and not SHARED.is_dir() and any(k in command for k in NEEDS_CACHE):
            why = "needs ../shared/quickdraw as the download cache"
        if why is not None:
            not_run.append(f"README:{n} {command} ({why})")
            bad = _check_flags(command, env, cwd)
            if bad:
                failures.append(f"README:{n} {command}: its flags do not parse\n{bad}")
            continue
        if not files_made and command.startswith("qd train"):
            _files(cwd, toml)
            files_made = True
        if command.startswith("qd data export-drawn"):
            _people(home)
        filled = _small(roles.fill(command))
        out = subprocess.run(filled, shell=True, env=env, cwd=cwd, capture_output=True, text=True)
        ran += 1
        text = out.stdout + out.stderr
        if out.returncode != 0 or "Traceback" in text:
            failures.append(f"README:{n} {command}\n  ran: {filled}\n  exit {out.returncode}\n{text[-2000:]}")
    print(f"{ran} lines run; not run:\n" + "\n".join(not_run))
    assert not failures, "\n\n".join(failures)
