"""`qd`: the headless front end. Heavy imports (torch) happen inside commands only."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from qdcore.cli import analyze, data, gan, models, quiz, runs, study, train
from qdcore.errors import QDError

class _Group(TyperGroup):
    """Root command group: a QDError from any command becomes one line and exit code 2."""

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except QDError as e:
            from qdcore.cli.common import err_console

            err_console.print(f"[bold red]qd: error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None


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


@app.callback()
def _root(
    home: Annotated[Optional[str], typer.Option("--home", help="Run store directory (default $QD_HOME or the user data dir).")] = None,
) -> None:
    if home:
        os.environ["QD_HOME"] = home


@app.command("tui")
def tui() -> None:
    """Open the terminal app (same as `qdtui`)."""
    from qdtui.__main__ import run as run_tui

    sys.argv = ["qdtui"]
    run_tui()


def run() -> None:
    """Console entry point: user errors become one line and exit code 2 (see _Group)."""
    try:
        app()  # standalone: usage errors print Typer's message and exit 2
    except QDError as e:  # raised outside a command (e.g. in a callback)
        from qdcore.cli.common import err_console

        err_console.print(f"[bold red]qd: error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    run()
