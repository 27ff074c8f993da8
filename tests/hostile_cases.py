"""Hostile study specs, option values and files: the cases tests/test_bounds.py asserts and drill_faults.py counts.

Each case is (name, argv); it *holds* when `qd argv` (in-process) exits 2 with one `qd: error:` line, no
traceback, within a second of CPU time.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

BIG_ID = str(2**70)  # 1180591620717411303424: past SQLite's 64-bit integers
CPU_SECONDS = 1.0


def _toml_grid(axes: dict[str, list]) -> str:
    return '[base]\ndata = "demo"\n[axes]\n' + "".join(f"{k} = {json.dumps(v)}\n" for k, v in axes.items())


def spec_files(folder: Path) -> dict[str, Path]:
    """name -> a hostile spec file written under `folder` (a FIFO and /dev/zero among them)."""
    folder.mkdir(parents=True, exist_ok=True)
    ten = list(range(1, 11))
    texts = {
        "seeds = 10^9": "seeds = 1000000000\n" + _toml_grid({"width": [2]}),
        "axis of 100,000 values": _toml_grid({"width": [2] * 100_000}),
        "10^10-trial product": _toml_grid({k: ten for k in ("width", "epochs", "lr", "seed", "per_class", "val",
                                                          "batch_size", "kernel", "dropout", "test")}),
        "pool = 5": "pool = 5\n" + _toml_grid({"categories": [2]}),
        "paper = 'x'": 'paper = "x"\n' + _toml_grid({"width": [2]}),
        "seeds of a huge number": "seeds = [99999999999999999999]\n" + _toml_grid({"width": [2]}),
        "name as a table": "name = {a = 1}\n" + _toml_grid({"width": [2]}),
        "deeply nested TOML": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    }
    out = {}
    for name, text in texts.items():
        p = folder / f"spec{len(out)}.toml"
        p.write_text(text)
        out[name] = p
    deep = folder / "deep.json"
    deep.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    out["deeply nested JSON"] = deep
    shallow_deep = folder / "deep50.json"
    shallow_deep.write_text('{"base": ' + '{"a": ' * 50 + "1" + "}" * 50 + "}")
    out["nested 50 tables"] = shallow_deep
    fifo = folder / "fifo.toml"
    if not fifo.exists():
        os.mkfifo(fifo)
    out["a FIFO"] = fifo
    out["/dev/zero"] = Path("/dev/zero")
    big = folder / "big.toml"
    big.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    out["a 2 MB spec"] = big
    return out


def spec_cases(folder: Path) -> list[tuple[str, list[str]]]:
    """`qd study run SPEC --dry-run` and `qd study estimate SPEC` for each hostile spec."""
    cases = []
    for name, path in spec_files(folder).items():
        cases.append((f"study run: {name}", ["study", "run", str(path), "--dry-run"]))
        cases.append((f"study estimate: {name}", ["study", "estimate", str(path), "--images-per-second", "1000"]))
    cases.append(("study run --max-trials 0", ["study", "run", str(spec_files(folder)["pool = 5"]), "--max-trials",
                                                "0"]))
    return cases


def option_cases(folder: Path, gan_run: str, run: str) -> list[tuple[str, list[str]]]:
    """Out-of-range values of plain command options and run ids past 2^63, each a one-line error."""
    folder.mkdir(parents=True, exist_ok=True)
    npy = folder / "x.npy"
    link_home = folder / "export"
    link_home.mkdir(exist_ok=True)
    victim = folder / "victim"
    victim.mkdir(exist_ok=True)
    (victim / "keep.txt").write_text("keep")
    link = link_home / f"run-{run}-csv"
    if not link.is_symlink():
        link.symlink_to(victim)
    cases = [
        ("gan sample --n 10^8", ["gan", "sample", gan_run, "--n", "100000000", "--out", str(npy)]),
        ("gan sample --seed 10^23", ["gan", "sample", gan_run, "--seed", "99999999999999999999999", "--out", str(npy)]),
        ("gan sample --epoch 10^23", ["gan", "sample", gan_run, "--epoch", "99999999999999999999999", "--out",
                                      str(npy)]),
        ("gan gif --scale 100000", ["gan", "gif", gan_run, "--scale", "100000", "--out", str(folder / "x.gif")]),
        ("gan gif --ms 10^20", ["gan", "gif", gan_run, "--ms", "99999999999999999999", "--out", str(folder / "x.gif")]),
        ("runs export into a symlinked run-N-csv", ["runs", "export", run, "--out", str(link_home)]),
    ]
    for args in (["runs", "show", BIG_ID], ["runs", "export", BIG_ID, "--out", str(folder / "e")], ["eval", BIG_ID],
                 ["analyze", BIG_ID], ["predict", BIG_ID, str(npy)], ["gan", "sample", BIG_ID, "--out", str(npy)],
                 ["gan", "gif", BIG_ID, "--out", str(folder / "x.gif")], ["gan", "quality", BIG_ID],
                 ["study", "status", BIG_ID], ["study", "show", BIG_ID], ["study", "resume", BIG_ID],
                 ["train", "--resume", BIG_ID], ["data", "export-drawn", "--run", BIG_ID, "--out",
                                                  str(folder / "d.ndjson")],
                 ["data", "drawn-report", "--run", BIG_ID], ["quiz", "report", "--run", BIG_ID]):
        cases.append((f"run id 2^70: {' '.join(args[:2])}", args))
    return cases


def judge(invoke: Callable[..., object], args: list[str]) -> tuple[bool, str]:
    """(held, what happened) for one case: exit 2, one `qd: error:` line, no traceback, under a CPU second."""
    t0 = time.process_time()
    r = invoke(*args)
    cpu = time.process_time() - t0
    out = getattr(r, "output", "")
    errors = [ln for ln in out.splitlines() if ln.startswith("qd: error:")]
    exc = getattr(r, "exception", None)
    crashed = exc is not None and not isinstance(exc, SystemExit)
    held = r.exit_code == 2 and len(errors) == 1 and "Traceback" not in out and not crashed and cpu < CPU_SECONDS
    detail = (errors[0] if errors else f"exit {r.exit_code}: {out.strip()[-200:]!r} {exc!r}")
    return held, f"{detail} ({cpu:.2f} s CPU)"


# ---------------------------------------------------------------- stroke files past the 1 MiB threshold

WORDS = ("moon", "star", "circle")
BAD_LINES = {  # one line each, every one skipped and counted by every reader
    "NaN": b'{"word": "moon", "drawing": [[[NaN, 1], [1, 2]]]}',
    "Infinity": b'{"word": "star", "drawing": [[[Infinity, 1], [1, 2]]]}',
    "bad word": b'{"word": 5, "drawing": [[[1, 9], [1, 2]]]}',
    "200,000 strokes": b'{"word":"moon","drawing":[' + b",".join([b"[[1],[1]]"] * 200_000) + b"]}",
    "nested 100,000 deep": b'{"word":"moon","drawing":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "3 MB line": b'{"word":"moon","drawing":[[[' + b"1," * 1_500_000 + b"1],[1]]]}",
    "not JSON": b"{this is not json}",
}


def stroke_file(path: Path, mib: float, bad: list[str], seed: int = 1) -> tuple[int, int]:
    """A multi-word ndjson of about `mib` MiB (as `qd data export-drawn` writes) with the named BAD_LINES spread
    through it (never the first 20 lines); returns (good lines, all lines)."""
    import random

    rnd = random.Random(seed)
    lines: list[bytes] = []
    size = 0
    while size < mib * (1 << 20):
        strokes = [[[rnd.randrange(256) for _ in range(12)], [rnd.randrange(256) for _ in range(12)]]
                   for _ in range(rnd.randrange(1, 5))]
        line = json.dumps({"word": WORDS[len(lines) % 3], "countrycode": "US", "key_id": str(len(lines)),
                           "drawing": strokes}).encode()
        lines.append(line)
        size += len(line) + 1
    good = len(lines)
    for k, name in enumerate(bad):
        lines.insert(20 + rnd.randrange(good - 20) if k else 7, BAD_LINES[name])
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good, len(lines)


def formula_cells(csv_text: str) -> list[str]:
    """The cells of a CSV text a spreadsheet would run as formulas (numbers such as -0.5 are not)."""
    import csv
    import io

    from qdcore.csvfile import FORMULA_START

    def number(text: str) -> bool:
        try:
            float(text)
            return True
        except ValueError:
            return False

    cells = [c for row in csv.reader(io.StringIO(csv_text)) for c in row]
    return [c for c in cells if c.startswith(FORMULA_START) and not number(c)]


def numeric_option_cases(folder: Path, gan_run: str, run: str) -> list[tuple[str, list[str]]]:
    """Every int/float option of every plain `qd` command (not the generated run options, bounded by their
    declarations) at +-10^23: (name, argv). Such a value must be refused or used, never a traceback."""
    import typing

    import typer.main

    from qdcore.cli.main import app
    from qdcore.cli.options import GENERATED

    folder.mkdir(parents=True, exist_ok=True)
    npy = folder / "x.npy"
    if not npy.exists():
        import numpy as np

        np.save(npy, np.zeros((2, 784), np.uint8))
    given = {"run": run, "study": run, "runs": run, "category": "moon", "file": str(npy), "spec": "classes-rows"}

    def walk(c, path):
        if hasattr(c, "commands"):
            for name, sub in c.commands.items():
                yield from walk(sub, path + [name])
        else:
            yield path, c

    cases = []
    for path, c in walk(typer.main.get_command(app), []):
        if path[0] in ("train", "tui") or path in (["gan", "train"], ["study", "run"], ["data", "download"]):
            continue  # run options are declared and bounded in one place; these start long work
        pos = [gan_run if path[0] == "gan" else given.get(p.name, run) for p in c.params
               if p.param_type_name == "argument"]
        opts = {o for p in c.params if p.param_type_name == "option" for o in p.opts}
        for p in c.params:
            if p.param_type_name != "option" or getattr(p, "is_flag", False) or p.name == "home":
                continue
            ann = p.type_descriptor.annotation
            declared = GENERATED.get((p.opts[0], p.help or ""))  # taken as text, converted by its declaration
            if (declared.base if declared else ([a for a in typing.get_args(ann) if a is not type(None)]
                                                or [ann])[0]) not in (int, float):
                continue
            out = ["--out", str(folder / ("x.gif" if path[-1] == "gif" else "y.npy" if "export" != path[-1]
                                          else "z"))] if "--out" in opts else []
            for v in ("99999999999999999999999", "-99999999999999999999999"):
                cases.append((f"{' '.join(path)} {p.opts[0]} {v[:2]}e23", path + pos + [p.opts[0], v] + out))
    return cases
