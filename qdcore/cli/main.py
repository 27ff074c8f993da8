"""`qd`: the headless front end. Heavy imports (torch) happen inside commands only."""

from __future__ import annotations

import errno
import os
import sys

import typer
from typer import rich_utils
from typer._click import exceptions as cx  # Typer's own copy of click
from typer.core import TyperGroup

from qdcore.cli import analyze, data, gan, models, quiz, runs, study, train
from qdcore.cli.common import error_line
from qdcore.cli.helptext import install, tidy
from qdcore.cli.options import DeclaredCommand, of
from qdcore.cli.train import one_kind_help
from qdcore.errors import QDError
from qdcore.options import StoreHome


class _Group(TyperGroup):
    """Root command group: every mistake, ours or Typer's, becomes one `qd: error:` line and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        install()
        args = _hoist_home(list(sys.argv[1:] if args is None else args))
        try:
            one_kind_help(self, args)
            tidy(self)
            rv = super().main(args=args, prog_name=prog_name or "qd", complete_var=complete_var,
                              standalone_mode=False, **extra)
        except cx.NoArgsIsHelpError as e:
            rich_utils.rich_format_error(e)  # the help, as Typer shows it
            rv = e.exit_code
        except cx.ClickException as e:
            hint = f"; see '{e.ctx.command_path} --help'" if getattr(e, "ctx", None) is not None else ""
            error_line(e.format_message().rstrip(".") + hint)
            rv = 2
        except typer.Abort:
            error_line("aborted")
            rv = 1
        except QDError as e:  # an unknown kind in `qd train --kind X --help`
            error_line(e)
            rv = 2
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except QDError as e:
            if not getattr(e, "quiet", False):  # a lost DDP rank under qd's launcher: the launcher says it once
                error_line(e)
            raise typer.Exit(e.exit_code) from None
        except OSError as e:
            # A full disk or quota anywhere (a write that is not one of our atomic ones): one line, not a trace.
            if e.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
                raise
            where = f" writing {e.filename}" if e.filename else ""
            error_line(f"no space left on the device{where}: free some space or use another --home")
            raise typer.Exit(2) from None


def _hoist_home(args: list[str]) -> list[str]:
    """Move `--home DIR` / `--home=DIR` given after the command to the front, where the root option lives."""
    out: list[str] = []
    front: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            out += args[i:]
            break
        if a == "--home" and i + 1 < len(args) and i > 0:
            front += [a, args[i + 1]]
            i += 2
            continue
        if a.startswith("--home=") and i > 0:
            front.append(a)
        else:
            out.append(a)
        i += 1
    return front + out


app = typer.Typer(
    name="qd",
    cls=_Group,
    help="Train, compare and understand neural networks on Quick, Draw! doodles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data.app, name="data", help="List, download, inspect and export drawings.")
app.add_typer(models.app, name="models", help="The model zoo: list models and show their layers.")
app.add_typer(runs.app, name="runs", help="The run store: list, show, compare and remove runs.")
for _mod in (train, analyze, quiz, study, gan):
    if hasattr(_mod, "register"):
        _mod.register(app)


def _root(where: StoreHome) -> None:
    if where.home:
        os.environ["QD_HOME"] = where.home


app.callback()(DeclaredCommand(_root, of(StoreHome, "where")))


@app.command("tui")
def tui() -> None:
    """Open the terminal app (same as `qdtui`)."""
    from qdtui.__main__ import run as run_tui  # lazy: keeps qdtui out of qd --help

    sys.argv = ["qdtui"]
    run_tui()


def run() -> None:
    """Console entry point: user errors become one line and exit code 2 (see _Group)."""
    try:
        app()  # standalone: usage errors print Typer's message and exit 2
    except QDError as e:  # raised outside a command (e.g. in a callback)
        error_line(e)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    run()
