"""Seeded mutations of real drawing files and a judge of how a `qd` command took them (test + drill helper).

Used by tests/test_fuzz_inputs.py (a few hundred cases) and benchmarks/drill_faults.py (as many as asked).
Each case is a file made from a valid seed file by one mutation; a command must either accept it or
refuse it with one `qd: error:` line and exit code 2: never a traceback, never a hang.
"""

from __future__ import annotations

import io
import json
import random
import re
import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qdcore.paths import shared_quickdraw

OUTCOMES = ("clean error", "accepted", "traceback", "hang")


# ---------------------------------------------------------------- seeds: real files


def seed_files(category: str = "apple") -> dict[str, bytes]:
    """Valid files of each format: real Quick, Draw! rows where ../shared/quickdraw exists, else the demo set."""
    from qdcore.data.strokes import encode_google_binary, parse_line

    root = shared_quickdraw()
    if root is not None and (root / "numpy_bitmap" / f"{category}.npy").exists():
        rows = np.load(root / "numpy_bitmap" / f"{category}.npy", mmap_mode="r")[:6]
        simplified = root / "simplified" / f"{category}.ndjson"
        lines = simplified.read_bytes().splitlines()[:6] if simplified.exists() else []
    else:
        rows, lines = None, []
    if rows is None:
        from qdcore.data.demo import generate

        rows = generate(per_class=6, seed=1, classes=["moon"])[0].reshape(-1, 784)
    if not lines:
        rnd = random.Random(5)
        for k in range(6):
            strokes = [[[rnd.randrange(256) for _ in range(5)], [rnd.randrange(256) for _ in range(5)]]
                       for _ in range(2)]
            lines.append(json.dumps({"word": category, "countrycode": "US", "timestamp": "2017-03-01 20:41:36.70725 UTC",
                                     "recognized": True, "key_id": str(4000 + k), "drawing": strokes}).encode())
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(rows, dtype=np.uint8))
    drawings = [parse_line(ln) for ln in lines]
    return {".npy": buf.getvalue(), ".ndjson": b"\n".join(lines) + b"\n",
            ".bin": encode_google_binary(drawings), ".raw.bin": np.ascontiguousarray(rows, np.uint8).tobytes()}


# ---------------------------------------------------------------- mutations

_HEADER_JUNK = ["{", "}", "[", "]", "(", ")", "'", ",", ":", "-1", "1e999", "True", "None", "\\", "\n", "'|O'",
                "'<f8'", "'|V3'", "(3,)", "(-5, 784)", "(99999999999, 784)", "((1,),)", "'shape'", "\x00", "\"\"\""]
_JSON_VALUES = ["true", "false", "null", '"7"', "1e400", "-1e400", "NaN", "[]", "{}", "[[1,2],[3]]", '"x"',
                "123456789012345678901234567890", "[" * 60 + "]" * 60, "0.5"]


def mutate(data: bytes, kind: str, rnd: random.Random) -> tuple[bytes, str]:
    """One mutation of a seed file: (new bytes, what was done)."""
    ops: list[Callable[[], tuple[bytes, str]]] = [
        lambda: _flip(data, rnd), lambda: _truncate(data, rnd), lambda: _insert(data, rnd),
        lambda: (b"", "emptied"), lambda: (data + bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 900))),
                                           "garbage appended"),
    ]
    if kind == ".npy":
        ops += [lambda: _npy_header(data, rnd)] * 4
    if kind == ".ndjson":
        ops += [lambda: _json_value(data, rnd)] * 4 + [lambda: _lines(data, rnd)] * 2
    if kind in (".bin", ".raw.bin"):
        ops += [lambda: _ints(data, rnd)] * 2
    return rnd.choice(ops)()


def _flip(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    b = bytearray(data)
    if not b:
        return bytes([rnd.randrange(256)]), "one random byte"
    for _ in range(rnd.randrange(1, 9)):
        i = rnd.randrange(len(b)) if rnd.random() < 0.5 else rnd.randrange(min(len(b), 160))
        b[i] = rnd.randrange(256)
    return bytes(b), "bytes flipped"


def _truncate(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    n = rnd.randrange(len(data)) if data else 0
    return data[:n], f"truncated to {n} bytes"


def _insert(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    i = rnd.randrange(len(data) + 1)
    junk = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 40)))
    return data[:i] + junk + data[i:], f"{len(junk)} bytes inserted at {i}"


def _npy_header(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    """Rewrite part of the header dict (its length field kept, so numpy parses what we wrote)."""
    hlen = int.from_bytes(data[8:10], "little")
    header = data[10:10 + hlen].decode("latin-1")
    junk = rnd.choice(_HEADER_JUNK)
    if rnd.random() < 0.5:
        m = rnd.choice([m for m in re.finditer(r"\(\d+, 784\)|'\|u1'|False|\{|\}|'descr'|'shape'", header)])
        new = header[:m.start()] + junk + header[m.end():]
    else:
        i = rnd.randrange(len(header))
        new = header[:i] + junk + header[i + 1:]
    new = (new[:hlen - 1].ljust(hlen - 1) + "\n")[:hlen]
    return data[:10] + new.encode("latin-1") + data[10 + hlen:], f"header edited with {junk!r}"


def _json_value(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    text = data.decode("utf-8", "replace")
    nums = list(re.finditer(r"(?<=[\[,])\d+(?=[\],])", text))
    keys = list(re.finditer(r'"(drawing|word|key_id|recognized)"', text))
    value = rnd.choice(_JSON_VALUES)
    if nums and rnd.random() < 0.7:
        m = rnd.choice(nums)
        return (text[:m.start()] + value + text[m.end():]).encode(), f"a coordinate became {value}"
    if keys:
        m = rnd.choice(keys)
        return (text[:m.start()] + '"x' + text[m.start() + 1:]).encode(), f"key {m.group(0)} renamed"
    return data, "unchanged"


def _lines(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    lines = data.split(b"\n")
    i = rnd.randrange(len(lines))
    choice = rnd.randrange(4)
    if choice == 0:
        lines[i] = lines[i][: max(1, len(lines[i]) // 2)]
        return b"\n".join(lines), f"line {i + 1} cut in half"
    if choice == 1:
        lines[i] = b"\xff\xfe" + lines[i]
        return b"\n".join(lines), f"line {i + 1} starts with invalid UTF-8"
    if choice == 2:
        return b"\r\n".join(lines), "CRLF line ends"
    return b"\n".join(b"not json at all" for _ in lines), "every line malformed"


def _ints(data: bytes, rnd: random.Random) -> tuple[bytes, str]:
    b = bytearray(data)
    if len(b) < 20:
        return bytes(b), "too short to edit"
    i = rnd.randrange(0, min(len(b) - 2, 64))
    b[i:i + 2] = rnd.choice([b"\xff\xff", b"\x00\x00", b"\x01\x00", b"\xff\x7f"])
    return bytes(b), f"16-bit field at byte {i} set"


# ---------------------------------------------------------------- judging a command's answer


def fast_invoker() -> Callable[..., object]:
    """CliRunner.invoke on `qd` with its click command built once (Typer rebuilds it per call: ~0.2 s)."""
    import typer.main
    import typer.testing
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    command = typer.main.get_command(app)

    def invoke(*args: str):
        real = typer.testing._get_command
        typer.testing._get_command = lambda _app: command
        try:
            return CliRunner().invoke(app, list(args))
        finally:
            typer.testing._get_command = real

    return invoke


class Hang(BaseException):
    """A case ran past its time limit (BaseException: CliRunner must not swallow it)."""


@dataclass
class Tally:
    """Outcomes of fuzz cases by command, with the first examples of bad ones."""

    counts: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)

    def add(self, command: str, outcome: str, detail: str) -> None:
        self.counts[outcome] += 1
        self.counts[(command, outcome)] += 1
        if outcome in ("traceback", "hang") and len(self.bad) < 20:
            self.bad.append(f"{command}: {outcome}: {detail}")

    def summary(self) -> dict[str, int]:
        return {o: self.counts[o] for o in OUTCOMES}


def judge(result) -> tuple[str, str]:
    """(outcome, detail) for a CliRunner result."""
    out = result.output or ""
    errors = [ln for ln in out.splitlines() if ln.startswith("qd: error:")]
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        return "traceback", f"{type(exc).__name__}: {str(exc)[:160]}"
    if "Traceback (most recent call last)" in out:
        return "traceback", out[-300:]
    if result.exit_code == 0:
        return "accepted", ""
    if result.exit_code == 2 and len(errors) == 1:
        return "clean error", errors[0]
    return "traceback", f"exit {result.exit_code}, {len(errors)} error lines: {out[-300:]}"


def run_case(invoke: Callable[[], object], seconds: float = 20.0) -> tuple[str, str]:
    """Judge one command call, a hang being a call still going after `seconds`."""
    def alarm(*_):
        raise Hang()

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return judge(invoke())
    except Hang:
        return "hang", f"still running after {seconds:g} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def cases(n: int, seed: int, folder: Path, category: str = "apple"):
    """Yield (index, path, what) for n mutated files, each alone in its own folder under `folder`."""
    seeds = seed_files(category)
    rnd = random.Random(seed)
    kinds = sorted(seeds)
    for i in range(n):
        kind = kinds[i % len(kinds)]
        data, what = mutate(seeds[kind], kind, rnd)
        d = folder / f"case{i:04d}"
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{category}{'.bin' if kind == '.raw.bin' else kind}"
        path.write_bytes(data)
        yield i, path, f"{kind} {what}"
