"""Options and helpers shared by all `qd` commands."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

DataOpt = Annotated[str, typer.Option("--data", "-d", help="Drawings: demo (built-in, synthetic), cache (downloaded), or a PATH to .npy/.bin/.ndjson files.")]
CategoriesOpt = Annotated[Optional[str], typer.Option("--categories", "-c", help="Comma-separated categories or a named set (study000, mammals, dd10, shared24). Default: all in the source.")]
PerClassOpt = Annotated[Optional[int], typer.Option("--per-class", "-n", help="Drawings per category, sampled by --seed (default: all, in file order).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed for sampling, splits and training.")]
ImbalanceOpt = Annotated[Optional[str], typer.Option("--imbalance", help="Class size ratios relative to --per-class, e.g. hammer=0.002 (study 000's fork/hammer).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def load_selection(data: str, categories: str | None, per_class: int | None, seed: int,
                   imbalance: str | None = None):
    """Open --data and select drawings as a DrawingSet."""
    from qdcore.data.drawingset import select
    from qdcore.data.opener import open_source

    return select(open_source(data), categories, per_class, seed, imbalance)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout (no Rich markup)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_jsonable) + "\n")
    sys.stdout.flush()


def _jsonable(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "__fspath__"):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def fail(message: str, code: int = 2) -> None:
    """Print a one-line error and exit."""
    err_console.print(f"[bold red]qd: error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)
