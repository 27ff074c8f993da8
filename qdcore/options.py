"""Options declared once: each config field's help, panel, flag, choices and bounds live in its metadata.

`option(default, help=..., panel=..., short="-k", choices=(...), min=..., max=...)` declares a field;
from it come the Typer options of `qd train` (qdcore/cli/options.py), the TOML/JSON config keys
(`apply`), the TUI form rows (`parse_text`) and `--help`. Every value, from a flag, a file or a form,
goes through `check` against the field's declared type: no coercion by truthiness, no NaN or infinity
unless declared, bounds enforced, so `{"hflip": "false"}` is refused rather than switching flips on.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from qdcore.docfile import read_document
from qdcore.errors import ConfigError, suggest

META = "qd"
MAX_TEXT = 4096  # longest string option (names, paths, category lists)
MAX_DEPTH = 4  # nesting of table options (model_opts)
MAX_SEED = 2**32 - 1  # every seed option's bound (numpy's seeds are 32-bit)


@dataclass(frozen=True)
class Opt:
    """How one config field is shown and checked."""

    help: str = ""
    panel: str = "Options"
    short: str | None = None  # e.g. "-k"
    flag: str | None = None  # the long flag when not --field-name
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None
    min: float | None = None
    max: float | None = None
    min_open: bool = False  # min itself is not allowed (lr > 0)
    max_open: bool = False
    form: str | None = None  # the TUI form row label; None = not on the form
    cli: bool = True  # generated as a `qd train` option (a kind's config field)
    metavar: str | None = None
    hidden: bool = False  # accepted on the command line, left out of --help (a launcher's own flag)
    negatable: bool = True  # a switch gets --x/--no-x; False: --x alone (--json, --detach)
    argument: bool = False  # a positional argument on the command line (qd study run SPEC), not a flag
    required: bool = False  # the command cannot run without it (qd gan sample --out)

    def choice_list(self) -> tuple[str, ...]:
        """The allowed strings (resolved when given as a function)."""
        c = self.choices
        return tuple(c()) if callable(c) else tuple(c or ())


def option(default: Any = None, *, factory: Callable[[], Any] | None = None, **meta: Any) -> Any:
    """A dataclass field with qd option metadata (see Opt for the keys)."""
    md = {META: Opt(**meta)}
    if factory is not None:
        return field(default_factory=factory, metadata=md)
    return field(default=default, metadata=md)


@dataclass(frozen=True)
class Field:
    """A declared option of a config class: name, type, default and metadata."""

    name: str
    type: Any
    default: Any
    opt: Opt

    @property
    def flag(self) -> str:
        """The long command-line flag."""
        return self.opt.flag or "--" + self.name.replace("_", "-")

    @property
    def base(self) -> Any:
        """The type without Optional."""
        return _strip_none(self.type)[0]

    @property
    def nullable(self) -> bool:
        """None (unset, auto) is an allowed value."""
        return _strip_none(self.type)[1]

    def shown_default(self) -> str | None:
        """The default as --help shows it (on/off for a switch; None where there is none to show)."""
        d = self.default
        if d in (None, "", {}, (), []):
            return None
        if self.base is bool:
            return "on" if d else "off"
        if isinstance(d, tuple):
            return ",".join(f"{x:g}" for x in d)
        return f"{d:g}" if isinstance(d, float) else str(d)

    def metavar(self) -> str:
        """INT, FLOAT, TEXT or the choices, for --help."""
        if self.opt.metavar:
            return self.opt.metavar
        choices = self.opt.choice_list()
        if choices and len(choices) <= 6:
            return "|".join(choices)
        base = str if typing.get_origin(self.base) is list else self.base
        return {int: "INT", float: "FLOAT", str: "TEXT"}.get(base, "VALUE")


def _strip_none(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)) and args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else tp), len(rest) < len(args)
    return tp, False


_FIELDS: dict[type, list[Field]] = {}  # per config class (a subclass has its own entry)


def fields_of(cls: type) -> list[Field]:
    """The declared options of a config dataclass, in field order."""
    cache = _FIELDS.get(cls)
    if cache is not None:
        return cache
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        opt = f.metadata.get(META)
        if opt is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        out.append(Field(f.name, hints[f.name], default, opt))
    _FIELDS[cls] = out
    return out


def field_of(cls: type, name: str) -> Field:
    """One declared option by name (ConfigError naming the known ones otherwise)."""
    for f in fields_of(cls):
        if f.name == name:
            return f
    names = [f.name for f in fields_of(cls)]
    raise ConfigError(f"unknown option {name!r}{suggest(name, names)}")


PANEL_RANK = {"Data": 1, "Runtime": 2}  # a kind's own panels first, then the shared Data, then Runtime


def form_fields(cls: type) -> list[Field]:
    """The fields shown on the TUI form (declared with form="Label"), the kind's own first."""
    return sorted((f for f in fields_of(cls) if f.opt.form), key=lambda f: PANEL_RANK.get(f.opt.panel, 0))


# --- checking values --------------------------------------------------------------------------------


def _show(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def check(f: Field, value: Any, origin: str = "option") -> Any:
    """The value if it has the field's type and is within bounds; ConfigError (one line) otherwise.

    `origin` names where the value came from (a file, a preset); "" means typed as text (a flag or a form
    field), and the message then names the option by its flag, the same in the CLI and the TUI.
    """
    if not origin:
        f = dataclasses.replace(f, name=f.flag)
    where = f"{origin}: " if origin else ""
    base = f.base
    if value is None or (f.nullable and base is not str and isinstance(value, str) and value.strip().lower() == "auto"):
        # "auto" is how a file (TOML has no null) or a form asks for a nullable option's automatic value.
        if f.nullable:
            return None
        raise ConfigError(f"{where}{f.name} must be set (default {_show(f.default)})")
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be true or false")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be a whole number{_range(f)}")
        _bounds(f, value, where)
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be a number{_range(f)}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}{f.name}={value} must be a finite number{_range(f)}")
        _bounds(f, value, where)
        return float(value)
    if base is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be text")
        if len(value) > MAX_TEXT or "\x00" in value:
            raise ConfigError(f"{where}{f.name} is too long or holds a NUL character")
        choices = f.opt.choice_list()
        if choices:
            low = value.strip().lower()
            if low not in choices:
                raise ConfigError(f"{where}{f.name}={value!r} must be one of {', '.join(choices)}"
                                  f"{suggest(low, list(choices))}")
            return low
        return value
    origin_t = typing.get_origin(base)
    if origin_t is list:  # a repeatable text option (qd analyze --vs A --vs B)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be a list of text")
        item = dataclasses.replace(f, type=str)
        return [check(item, x, origin) for x in value]
    if origin_t is tuple:
        n = len(typing.get_args(base))
        if not isinstance(value, (list, tuple)) or len(value) != n or any(
                isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) for x in value):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be {n} finite numbers, e.g. "
                              f"{list(f.default) if f.default else [0.9, 0.999]}")
        for x in value:
            _bounds(f, x, where)
        return tuple(float(x) for x in value)
    if origin_t is dict or base is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}{f.name}={_show(value)} must be a table of KEY = VALUE")
        _scalars(f.name, value, where, 1)
        return dict(value)
    raise ConfigError(f"{where}{f.name}: unsupported option type {base!r}")


def _scalars(name: str, d: dict, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ConfigError(f"{where}{name} is nested too deeply")
    for k, v in d.items():
        if not isinstance(k, str):
            raise ConfigError(f"{where}{name} keys must be text")
        if isinstance(v, dict):
            _scalars(f"{name}.{k}", v, where, depth + 1)
        elif isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{where}{name}.{k}={v} must be a finite number")
        elif not isinstance(v, (str, int, float, bool)) and v is not None:
            raise ConfigError(f"{where}{name}.{k}={_show(v)} must be a number, text or true/false")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e16 else f"{v:g}"


def _range(f: Field) -> str:
    o = f.opt
    lo = None if o.min is None else f"{'>' if o.min_open else '>='} {_num(o.min)}"
    hi = None if o.max is None else f"{'<' if o.max_open else '<='} {_num(o.max)}"
    if lo and hi:
        return f" {lo} and {hi}"
    return f" {lo or hi}" if (lo or hi) else ""


def _bounds(f: Field, v: float, where: str) -> None:
    o = f.opt
    bad = (o.min is not None and (v < o.min or (o.min_open and v == o.min))) or \
          (o.max is not None and (v > o.max or (o.max_open and v == o.max)))
    if bad:
        kind = "a whole number" if f.base is int else "a number"
        raise ConfigError(f"{where}{f.name}={_show(v)} must be {kind}{_range(f)}")


def parse_text(f: Field, text: str, origin: str = "option") -> Any:
    """A value typed as text (a flag's argument, a form field) converted to the field's type and checked.

    The CLI and the TUI form both use this, so both accept and refuse the same values with the same message.
    """
    where = f"{origin}: " if origin else ""
    label = f.name if origin else f.flag
    raw = text.strip()
    base = f.base
    if f.nullable and (raw == "" or (base is not str and raw.lower() == "auto")):
        return None
    try:
        if base is bool:
            low = raw.lower()
            if low in ("true", "yes", "on", "1"):
                value: Any = True
            elif low in ("false", "no", "off", "0"):
                value = False
            elif f.nullable and low in ("auto", "none"):
                value = None
            else:
                raise ValueError
        elif base is int:
            if len(raw) > 40:
                raise ValueError
            value = int(raw.replace("_", ""))
        elif base is float:
            if len(raw) > 60:
                raise ValueError
            value = float(raw)
        elif typing.get_origin(base) is tuple:
            value = [float(p) for p in raw.split(",")]
        elif typing.get_origin(base) is dict or base is dict:
            value = parse_pairs(f.name, [p for p in raw.split(",") if p.strip()], origin)
        elif typing.get_origin(base) is list:
            value = [text]
        else:
            value = text if base is str else raw
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}.get(base, "valid")
        if typing.get_origin(base) is tuple:
            kind = f"{len(typing.get_args(base))} numbers separated by commas"
        raise ConfigError(f"{where}{label}={raw!r} must be {kind}{_range(f) if base in (int, float) else ''}") \
            from None
    return check(f, value, origin)


def parse_pairs(name: str, items: list[str], origin: str = "option") -> dict[str, Any]:
    """KEY=VALUE strings as a table; values stay text (the consumer converts them to each key's type)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{origin}: {name} item {item!r} must be KEY=VALUE, e.g. depth=3")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def parse_values(cls: type, given: dict[str, Any], origin: str = "", kind: str = "") -> dict[str, Any]:
    """Values typed as text (or flags, or KEY=VALUE lists) converted to the declared types of `cls`."""
    known = {f.name: f for f in fields_of(cls)}
    out: dict[str, Any] = {}
    for name, raw in given.items():
        if raw is None:
            continue
        f = known.get(name)
        if f is None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} is not an option of {kind or cls.__name__} runs; see 'qd train --help'")
        if isinstance(raw, str):
            value = parse_text(f, raw, origin)
            # An explicit "auto" outlives build_config's skipping of unset (None) values; check() reads it as None.
            out[name] = "auto" if value is None and raw.strip().lower() == "auto" else value
        elif isinstance(raw, (list, tuple)) and (typing.get_origin(f.base) is dict or f.base is dict):
            out[name] = check(f, parse_pairs(name, [str(x) for x in raw], origin or f.flag), origin)
        elif isinstance(raw, (list, tuple)) and typing.get_origin(f.base) is list:
            out[name] = check(f, list(raw), origin)
        else:
            out[name] = check(f, raw, origin)
    return out


# --- building configs -----------------------------------------------------------------------------


def apply(cfg: Any, values: dict[str, Any], origin: str = "option") -> Any:
    """A copy of `cfg` with `values` checked against the declared options (unknown keys refused)."""
    cls = type(cfg)
    known = {f.name: f for f in fields_of(cls)}
    clean: dict[str, Any] = {}
    for key, value in values.items():
        k = str(key).replace("-", "_")
        if k not in known:
            raise ConfigError(f"{origin}: unknown training option {key!r}{suggest(k, sorted(known))}; "
                              f"see 'qd train --help'")
        clean[k] = check(known[k], value, origin)
    out = dataclasses.replace(cfg, **clean)
    validate = getattr(out, "validate", None)
    if callable(validate):
        validate(origin)
    return out


def resolved(cfg: Any) -> dict[str, Any]:
    """The config as a JSON-able dict of the values actually used (tuples as lists)."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


# --- the shared part ----------------------------------------------------------------------------------


DATA = "Data"


@dataclass
class DataSelection:
    """Which drawings a run uses and how they are split: shared by every kind of run."""

    data: str = option("demo", help="Drawings: demo (built-in, synthetic), cache (downloaded), or a PATH to "
                       ".npy/.bin/.ndjson files.", panel=DATA, short="-d", form="Data")
    categories: str | None = option(None, help="Comma-separated categories or a named set (study000, mammals, "
                                    "dd10, shared24). Default: all in the source.", panel=DATA, short="-c",
                                    form="Categories")
    per_class: int | None = option(None, help="Drawings per category, sampled by --seed (default: all).",
                                   panel=DATA, short="-n", min=1, max=10_000_000, form="Per class")
    seed: int = option(0, help="Random seed for sampling, splits and training.", panel=DATA, min=0,
                       max=MAX_SEED, form="Seed")
    imbalance: str | None = option(None, help="Class size ratios relative to --per-class, e.g. hammer=0.002.",
                                   panel=DATA)
    val: float = option(0.1, help="Validation fraction.", panel=DATA, min=0, max=1, max_open=True)
    test: float = option(0.1, help="Test fraction.", panel=DATA, min=0, max=1, max_open=True)
    balanced_test: int | None = option(None, help="Test on N drawings per category (replaces --test), set aside "
                                       "before --per-class and --imbalance sample and never trained or validated "
                                       "on: the same whatever the seed, size or imbalance.", panel=DATA, min=1,
                                       max=10_000_000, metavar="N")
    strict: bool = option(False, help="Refuse a stroke file (.ndjson/.bin) with any malformed line instead of "
                          "skipping it; skipped lines are always counted and reported.", panel=DATA)

    def check_split(self, origin: str = "option") -> None:
        """val + test must leave training data."""
        if self.val + self.test >= 1:
            raise ConfigError(f"{origin}: val={self.val} + test={self.test} leave no training data; their sum "
                              "must be below 1")


@dataclass
class RunConfig(DataSelection):
    """The base of every kind's config: its name and data selection; kinds add their own fields."""

    name: str = option("", help="Run name shown in 'qd runs list' (default: the model and what differs).",
                       panel="Runtime", form="Name")
    # Options added later whose default changed what a run does, with the value a run had before they existed:
    # a stored config that names every option but some of these was stored before them and resumes as it ran.
    STORED_BEFORE: ClassVar[dict[str, Any]] = {}

    def to_dict(self) -> dict[str, Any]:
        """The resolved values, JSON-able (stored with the run)."""
        return resolved(self)

    def replace(self, origin: str = "option", **changes: Any) -> Any:
        """A checked copy with some fields changed (dashes in names allowed)."""
        return apply(self, changes, origin)

    @classmethod
    def from_dict(cls, d: dict[str, Any], origin: str = "config") -> Any:
        """Build from a stored config or a file's table; unknown keys and wrong types are errors."""
        missing = {f.name for f in fields_of(cls)} - set(d)
        if missing and missing <= set(cls.STORED_BEFORE):  # stored before these options: the values it ran with
            d = {**{k: cls.STORED_BEFORE[k] for k in missing}, **d}
        return apply(cls(), d, origin)

    def validate(self, origin: str = "option") -> Any:
        """Checks across fields (single values are checked by their declarations)."""
        self.check_split(origin)
        return self


@dataclass
class StoreHome:
    """Where the run store lives (`qd --home`, `qdtui --home`)."""

    home: str | None = option(None, help="Run store directory (default $QD_HOME or the user data dir).",
                              metavar="DIR")


def load_file(path: Any) -> dict[str, Any]:
    """Options from a TOML file (or JSON, by a .json suffix): top-level keys, or a [train] table."""
    doc = read_document(path, "config file", hint="; give a .toml or .json file of training options")
    p = str(path)
    table = doc.get("train", doc)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {p!r}: [train] must be a table")
    return {str(k).replace("-", "_"): v for k, v in table.items()}
