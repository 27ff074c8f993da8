"""Small TOML/JSON documents a user hands qd (config files, study specs): read bounded, one-line errors.

Regular files only (a FIFO or /dev/zero would block or read forever), at most MAX_BYTES, and nested at
most MAX_DEPTH tables/lists deep, so nothing downstream (validation, JSON in the store) recurses without end.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from qdcore.errors import ConfigError

MAX_BYTES = 1 << 20  # a config or spec is a few hundred bytes; anything near this is the wrong file
MAX_DEPTH = 10  # a spec's deepest honest value: axes -> list -> a table option -> its values


def depth(obj: Any, limit: int) -> int:
    """How deeply dicts and lists nest in `obj` (counted without recursion; stops once past `limit`)."""
    deepest, todo = 0, [(obj, 0)]
    while todo:
        o, d = todo.pop()
        if isinstance(o, dict):
            o = list(o.values())
        if isinstance(o, (list, tuple)):
            d += 1
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            todo.extend((v, d) for v in o)
    return deepest


def read_document(path: str | os.PathLike, what: str, hint: str = "", limit: int = MAX_BYTES,
                  max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The top-level table of a .toml (or, by suffix, .json) file; ConfigError naming `what` and the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    p = Path(path).expanduser()
    name = f"{what} {str(p)!r}"
    is_json = p.suffix.lower() == ".json"
    try:
        st = os.stat(p)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{name} is not a regular file; give a .toml or .json file")
        if st.st_size > limit:
            raise ConfigError(f"{name} is {st.st_size:,} bytes; a {what} is at most {limit:,} bytes")
        # O_NONBLOCK: a path swapped for a FIFO after the check still cannot block the open.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            raw = f.read(limit + 1)
        if len(raw) > limit:
            raise ConfigError(f"{name} is more than {limit:,} bytes; a {what} is at most {limit:,} bytes")
        doc = json.loads(raw) if is_json else tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{name} does not exist{hint}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {name}: {e.strerror or e}") from None
    except RecursionError:
        raise ConfigError(f"{name} is nested too deeply (at most {max_depth} levels)") from None
    except (tomllib.TOMLDecodeError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"{name} is not valid {'JSON' if is_json else 'TOML'}: {first}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{name} must hold an object (a table) of keys")
    if depth(doc, max_depth) > max_depth:
        raise ConfigError(f"{name} is nested too deeply (at most {max_depth} levels)")
    return doc
