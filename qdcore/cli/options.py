"""Typer options generated from declared config fields (qdcore.options): every `qd` option comes from here.

A command is a function plus groups of declarations (`Group`): each group's fields become the command's
options, read at use so a kind registered late (a plug-in, a test) has its options too. Every non-switch
option is taken as text and converted by `qdcore.options.parse_text`, the function the TUI forms use:
the CLI and the forms accept and refuse the same values with the same one line. Where several sources (run
kinds) declare one option with different defaults or help, `--help` shows each kind's own.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from qdcore.options import PANEL_RANK, Field, apply, field_of, fields_of, parse_text, parse_values

Source = tuple[str, type]  # (the label a per-source default is shown with, a config class)

# (long flag or an argument's metavar, help) -> declaration of every parameter generated here: tests/test_declared_options.py refuses any
# other option, and tests/hostile_cases.py reads each one's type.
GENERATED: dict[tuple[str, str], Field] = {}


def _cli(f: Field) -> bool:
    return f.opt.cli


@dataclass(frozen=True)
class Group:
    """One parameter of a command whose options are generated from declarations.

    `sources()` lists the config classes (with labels); `select` picks their fields; `build` turns the given
    raw values (text, a bool for switches, a list for tables) into what the function receives (default: the
    dict of given values, for a caller that checks them per kind)."""

    param: str
    sources: Callable[[], list[Source]]
    select: Callable[[Field], bool] = _cli
    build: Callable[[dict[str, Any]], Any] | None = None

    def declarations(self) -> dict[str, list[tuple[str, Field]]]:
        """Each selected option once, with every (label, field) declaring it, the kinds' own panels first."""
        seen: dict[str, list[tuple[str, Field]]] = {}
        for label, cls in self.sources():
            for f in fields_of(cls):
                if self.select(f):
                    seen.setdefault(f.name, []).append((label, f))
        return dict(sorted(seen.items(), key=lambda kv: PANEL_RANK.get(kv[1][0][1].opt.panel, 0)))


def of(cls: type, param: str, select: Callable[[Field], bool] = lambda f: True) -> Group:
    """A group whose function parameter gets a checked instance of `cls` (defaults for what was not given)."""
    return Group(param, lambda: [(cls.__name__, cls)], select, lambda raw: apply(cls(), parse_values(cls, raw), ""))


def kinds_group(kinds: Callable[[], list[Any]], param: str = "options") -> Group:
    """The options of run kinds' configs (those declared for `qd train`), given as raw values."""
    return Group(param, lambda: [(k.name, k.config) for k in kinds()])


# --- help text ------------------------------------------------------------------------------------------


def help_text(decls: list[tuple[str, Field]], n_sources: int) -> str:
    """The first declaration's help, others' where it differs, and each source's default where they differ."""
    first = decls[0][1]
    text = first.opt.help
    for label, f in decls[1:]:
        if f.opt.help != first.opt.help:
            text += f" · {label}: {f.opt.help}"
    defaults: dict[str | None, list[str]] = {}
    for label, f in decls:
        defaults.setdefault(f.shown_default(), []).append(label)
    # Kinds are named where they differ, or where at most half the kinds have the option at all.
    whole = len(decls) == n_sources or 2 * len(decls) > n_sources
    shown = {v: labels for v, labels in defaults.items() if v is not None}
    if len(defaults) == 1 and whole:
        value = next(iter(defaults))
        # A switch's default is the plain flag's absence; say it only where kinds differ.
        return text if value is None or first.base is bool else f"{text} (default {value})"
    if not shown:
        return f"{text} ({', '.join(label for label, _ in decls)})"
    parts = [f"{v} for {', '.join(labels)}" for v, labels in shown.items()]
    return f"{text} (default {'; '.join(parts)})"


def _param(decls: list[tuple[str, Field]], n_sources: int) -> inspect.Parameter:
    f = decls[0][1]
    o = f.opt
    text = help_text(decls, n_sources)
    common: dict[str, Any] = dict(help=text, rich_help_panel=o.panel, hidden=o.hidden, show_default=False)
    if o.argument:
        arg = typer.Argument(help=text, metavar=f.metavar(), show_default=False)
        GENERATED[(f.metavar(), text)] = f  # an argument is known by its metavar (RUN, SPEC)
        return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[str, arg])
    if f.base is bool:
        # A field named no_x is already the negative: one flag, not --no-x/--no-no-x.
        plain = f.flag.startswith("--no-") or not o.negatable
        decls_: list[str] = [f.flag] if plain else [f"{f.flag}/--no-{f.flag[2:]}"]
        ann: Any = bool | None
        info = typer.Option(*decls_, *([o.short] if o.short and plain else []), **common)
    else:
        # A table (KEY=VALUE) or list option repeats; any other is one text value, converted by parse_text.
        ann = list[str] | None if f.base is dict or typing.get_origin(f.base) is list else str | None
        info = typer.Option(f.flag, *o.aliases, *([o.short] if o.short else []), metavar=f.metavar(), **common)
    GENERATED[(f.flag, text)] = f
    default = inspect.Parameter.empty if o.required else None  # no default: Typer refuses a command without it
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[ann, info])


class DeclaredCommand:
    """`fn` as a Typer command whose options are generated from `groups`, read each time Typer asks.

    fn's other parameters (arguments) stay as written; each group's parameter receives its group's values.
    """

    def __init__(self, fn: Callable[..., Any], *groups: Group) -> None:
        self.fn = fn
        self.groups = groups
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__module__ = fn.__module__

    def _params(self) -> tuple[list[inspect.Parameter], dict[str, set[str]]]:
        generated: list[inspect.Parameter] = []
        names: dict[str, set[str]] = {}
        for g in self.groups:
            decls = g.declarations()
            n = len(g.sources())
            generated += [_param(d, n) for d in decls.values()]
            names[g.param] = set(decls)
        params = {g.param for g in self.groups}
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for name, p in inspect.signature(self.fn, eval_str=True).parameters.items() if name not in params]
        every = [p.name for p in generated + own]
        clash = {n for n in every if every.count(n) > 1}
        if clash:
            raise TypeError(f"options {sorted(clash)} are declared twice (in two groups or as a parameter)")
        return generated + own, names

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.Signature(self._params()[0])

    @property
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        return {p.name: p.annotation for p in self._params()[0]}

    def __call__(self, **kwargs: Any) -> Any:
        names = self._params()[1]
        for g in self.groups:
            raw = {k: kwargs.pop(k) for k in list(kwargs) if k in names[g.param]}
            given = {k: v for k, v in raw.items() if v is not None and v != []}
            kwargs[g.param] = g.build(given) if g.build else given
        return self.fn(**kwargs)


def with_options(fn: Callable[..., Any], kinds: Callable[[], list[Any]], *groups: Group) -> DeclaredCommand:
    """The Typer command of `fn(options, ...)` with the options of `kinds()` and of any other `groups`."""
    return DeclaredCommand(fn, kinds_group(kinds), *groups)


def declared_option(cls: type, name: str, *, help: str | None = None, default: Any = dataclasses.MISSING) -> Any:
    """One declared field as the Typer option of a command that takes a few options of a config:
    `Annotated[Optional[int], declared_option(StudyConfig, "seeds")]`.

    A value is converted and checked by the declaration (`parse_text`); `help` and `default` replace the
    declared ones where the option means something narrower in this command (qd eval's --data: None, the
    run's own test split)."""
    f = field_of(cls, name)
    if help is not None:
        f = dataclasses.replace(f, opt=dataclasses.replace(f.opt, help=help))
    if default is not dataclasses.MISSING:
        f = dataclasses.replace(f, default=default)
    info = _param([(cls.__name__, f)], 1).annotation.__metadata__[0]
    if f.base is not bool:
        # Click converts a parameter's default too: only text is parsed.
        info.parser = lambda v: parse_text(f, v, "") if isinstance(v, str) else v
    return info


def declared_argument(cls: type, name: str) -> Any:
    """One declared field (argument=True) as the Typer argument of a command: `Annotated[str, declared_argument(
    RunRefs, "run")]`; the annotation and default are the function's (a list takes several, None makes it optional)."""
    return _param([(cls.__name__, field_of(cls, name))], 1).annotation.__metadata__[0]
