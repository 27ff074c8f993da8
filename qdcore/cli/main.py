"""`qd`: the headless front end. Heavy imports (torch) happen inside commands only."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Optional

import typer

from qdcore.cli import data, models, runs, train
from qdcore.errors import QDError

app = typer.Typer(
    name="qd",
    help="Train, compare and understand neural networks on Quick, Draw! doodles.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(data.app, name="data", help="List, download, inspect and export drawings.")
app.add_typer(models.app, name="models", help="The model zoo: list models and show their layers.")
train.register(app) if hasattr(train, "register") else None
app.add_typer(runs.app, name="runs", help="The run store: list, show, compare and remove runs.")


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
    """Console entry point: user errors become one line and exit code 2."""
    from qdcore.cli.common import err_console

    try:
        app(standalone_mode=False)
    except QDError as e:
        err_console.print(f"[bold red]qd: error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        err_console.print("qd: interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except typer.Abort:
        err_console.print("qd: aborted")
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - click usage errors
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            sys.exit(2)
        raise


if __name__ == "__main__":
    run()
