"""Typer options generated from the run kinds' declared config fields (qdcore.options).

Every non-flag option is taken as text and converted by `qdcore.options.parse_text`, the function
the TUI form uses too: the CLI and the form accept and refuse the same values with the same one line.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable, Optional

import typer

from qdcore.options import PANEL_RANK, Field, fields_of


def union_fields(kinds: list[Any]) -> list[Field]:
    """Each option once, in the order the kinds declare them (the first declaration names its panel)."""
    seen: dict[str, Field] = {}
    for k in kinds:
        for f in fields_of(k.config):
            if f.opt.cli and f.name not in seen:
                seen[f.name] = f
    # The kinds' own panels first (Model, Optimisation, ...), then the shared Data, then Runtime.
    return sorted(seen.values(), key=lambda f: PANEL_RANK.get(f.opt.panel, 0))


def _param(f: Field) -> inspect.Parameter:
    o = f.opt
    help_text = o.help
    if f.default not in (None, "", {}, ()) and f.base is not bool:
        d = f.default
        shown = ",".join(f"{x:g}" for x in d) if isinstance(d, tuple) else (f"{d:g}" if isinstance(d, float) else d)
        help_text += f" (default {shown})"
    decls: list[str]
    if f.base is bool:
        # A field named no_x is already the negative: one flag, not --no-x/--no-no-x.
        decls = [f.flag] if f.flag.startswith("--no-") else [f"{f.flag}/--no-{f.flag[2:]}"]
        ann: Any = Optional[bool]
        info = typer.Option(*decls, help=help_text, rich_help_panel=o.panel, show_default=False)
    elif f.flag == "--opt" or (f.base is dict):
        ann = Optional[list[str]]
        info = typer.Option(f.flag, help=help_text, rich_help_panel=o.panel, metavar=f.metavar(),
                            show_default=False)
    else:
        decls = [f.flag, *o.aliases] + ([o.short] if o.short else [])
        ann = Optional[str]
        info = typer.Option(*decls, help=help_text, rich_help_panel=o.panel, metavar=f.metavar(),
                            show_default=False)
    return inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[ann, info])


class KindCommand:
    """`fn(options: dict, **own)` as a Typer command whose options are every registered kind's, read at use.

    The signature is built when Typer asks for it (each `qd` invocation), so a kind registered after import
    (a plug-in, a test) has its options in `--help` and on the command line. `options` maps each given
    option's name to its raw value (text, a bool for flags, a list for --opt).
    """

    def __init__(self, fn: Callable[..., Any], kinds: Callable[[], list[Any]]) -> None:
        self.fn = fn
        self.kinds = kinds
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__module__ = fn.__module__

    def _params(self) -> tuple[list[inspect.Parameter], set[str]]:
        fields = union_fields(self.kinds())
        names = {f.name for f in fields}
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for name, p in inspect.signature(self.fn, eval_str=True).parameters.items() if name != "options"]
        clash = names & {p.name for p in own}
        if clash:
            raise TypeError(f"options {sorted(clash)} are both declared fields and command parameters")
        return [_param(f) for f in fields] + own, names

    @property
    def __signature__(self) -> inspect.Signature:  # type: ignore[override]
        return inspect.Signature(self._params()[0])

    @property
    def __annotations__(self) -> dict[str, Any]:  # type: ignore[override]
        return {p.name: p.annotation for p in self._params()[0]}

    def __call__(self, **kwargs: Any) -> Any:
        names = self._params()[1]
        raw = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        given = {k: v for k, v in raw.items() if v is not None and v != []}
        return self.fn(given, **kwargs)


def with_options(fn: Callable[..., Any], kinds: Callable[[], list[Any]]) -> KindCommand:
    """The Typer command of `fn` with the options of `kinds()` (see KindCommand)."""
    return KindCommand(fn, kinds)


def flag_of(name: str, kinds: list[Any]) -> str:
    """The command-line flag of an option name."""
    for f in union_fields(kinds):
        if f.name == name:
            return f.flag
    return "--" + name.replace("_", "-")
