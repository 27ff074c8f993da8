"""`qd models`: list the zoo and show a model's layers (torch is imported inside the commands)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from qdcore.cli.common import JsonOpt, console, fail, print_json, side
from qdcore.cli.options import DeclaredCommand, declared_argument, of
from qdcore.errors import ConfigError, QDError
from qdcore.models import build_parts, count_params, layer_table, list_models, model_info
from qdcore.models.options import LayerTableOptions, ModelName

app = typer.Typer(no_args_is_help=True, help="The model zoo: list models and show their layers.")


def parse_opts(items: list[str] | None) -> dict[str, str]:
    """['width=16', 'pool=avg'] -> {'width': '16', 'pool': 'avg'} (the registry coerces the values)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--opt {item!r} must look like key=value, e.g. --opt kernel=5")
        out[key.strip()] = value.strip()
    return out


def _params(info, classes: int = 10) -> int | None:
    return sum(count_params(m) for _, m in build_parts(info.name, classes)[0]) if info.parts else None


@app.command("list")
def list_cmd(json: JsonOpt = False) -> None:
    """Every model with its kind, parameter count at 10 classes, source study and summary."""
    try:
        rows: list[dict[str, Any]] = [{"name": m.name, "kind": m.kind, "params": _params(m), "study": m.source_study,
                 "summary": m.summary, "options": m.options} for m in list_models()]
    except QDError as e:
        fail(str(e))
    if json:
        print_json(rows)
        return

    table = Table(title="qd model zoo (params at 10 classes; GANs: G + D)", title_justify="left")
    for col, just in (("name", "left"), ("kind", "left"), ("params", "right"), ("study", "left"), ("summary", "left")):
        table.add_column(col, justify=side(just), no_wrap=col != "summary")
    for r in rows:
        table.add_row(r["name"], r["kind"], "—" if r["params"] is None else f"{r['params']:,}", r["study"], r["summary"])
    console.print(table)
    console.print("Details: qd models show NAME [--classes N] [--opt key=value ...]")


def show_cmd(
    name: Annotated[str, declared_argument(ModelName, "name")],
    build: LayerTableOptions,
    json: JsonOpt = False,
) -> None:
    """A model's layer table (layer, output shape, params) and total, like the studies' figures."""
    try:
        doc = _describe(name, build.classes, parse_opts(build.opt))
    except QDError as e:
        fail(str(e))
    if json:
        print_json(doc)
        return
    _print(doc)


app.command("show")(DeclaredCommand(show_cmd, of(LayerTableOptions, "build")))


def _describe(name: str, classes: int, opts: dict[str, str]) -> dict[str, Any]:
    info = model_info(name)
    doc: dict[str, Any] = {"name": info.name, "kind": info.kind, "study": info.source_study, "summary": info.summary}
    parts, doc["arch"], est = build_parts(info.name, classes, **opts)
    if est is not None:
        doc["estimator"] = repr(est)
    doc["parts"] = [{"part": part, "total_params": count_params(m),
                     "layers": [{"layer": n, "output_shape": list(s), "params": p} for n, s, p in layer_table(m)]}
                    for part, m in parts]
    doc["total_params"] = sum(p["total_params"] for p in doc["parts"]) if parts else None
    doc["options"] = [{"option": k, "value": doc["arch"].get(k, default), "default": default, "help": h}
                      for k, default, h in info.option_docs()]
    return doc


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "auto"
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)


def _print(doc: dict[str, Any]) -> None:
    console.print(f"[bold]{doc['name']}[/] ({doc['kind']}, study {doc['study']}): {doc['summary']}", highlight=False)
    for part in doc["parts"]:
        table = Table(title=part["part"] if len(doc["parts"]) > 1 else None, title_justify="left")
        table.add_column("Layer")
        table.add_column("Output shape")
        table.add_column("Param #", justify="right")
        for row in part["layers"]:
            table.add_row(row["layer"], "(" + ", ".join(map(str, row["output_shape"])) + ")", f"{row['params']:,}")
        console.print(table)
        console.print(f"Total params: {part['total_params']:,}", highlight=False)
    if doc.get("estimator"):
        console.print(f"Estimator: {doc['estimator']}", highlight=False)
    opts = Table(title="options (--opt key=value)", title_justify="left")
    for col in ("option", "value", "default", "help"):
        opts.add_column(col, overflow="fold")
    for o in doc["options"]:
        opts.add_row(o["option"], _fmt(o["value"]), _fmt(o["default"]), o["help"])
    console.print(opts)
