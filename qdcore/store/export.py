"""Export runs' metrics for other tools: CSV tables, TensorBoard event files, JSON.

Per-step rows (split "step": loss, lr, throughput, ...) and per-epoch rows ("train/loss", "val/top1", ...)
come straight from the store. Each run is written into a temporary folder first and renamed into place,
so an interrupted export leaves no half-written run behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdcore.csvfile import csv_bytes
from qdcore.errors import ConfigError
from qdcore.paths import out_folder

if TYPE_CHECKING:
    from qdcore.store import RunRecord, Store
    from qdcore.store.records import MetricRow

FORMATS = ("csv", "tensorboard", "json")
TENSORBOARD_HINT = ("--format tensorboard needs the tensorboard package; install it with "
                    "\"pip install 'qd[tensorboard]'\" (or 'pip install tensorboard')")


@dataclass
class RunMetrics:
    """One run's record and its metric rows split into per-step and per-epoch."""

    run: RunRecord
    steps: list[MetricRow]
    epochs: list[MetricRow]

    @property
    def folder(self) -> str:
        """'run-3': the run's folder (or file stem) in the export."""
        return f"run-{self.run.id}"


def collect(store: Store, run_ids: list[int]) -> list[RunMetrics]:
    """The metric rows of each run (StoreError for a run that does not exist, before anything is written)."""
    out = []
    for rid in dict.fromkeys(int(r) for r in run_ids):  # each run once, in the order given
        rec = store.get_run(rid)
        rows = store.metrics(rid)
        out.append(RunMetrics(rec, [r for r in rows if r.split == "step"], [r for r in rows if r.split != "step"]))
    return out


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and not math.isfinite(v)) else float(v)


def _wide(rows: list[MetricRow], by: str, key) -> tuple[list[str], list[dict[str, Any]]]:
    """One row per step (or epoch) with a column per metric; the last value written wins."""
    names: list[str] = []
    table: dict[int, dict[str, Any]] = {}
    for r in rows:
        name = key(r)
        if name not in names:
            names.append(name)
        row = table.setdefault(getattr(r, by), {"step": r.step, "epoch": r.epoch, "t": r.t})
        row[name] = _num(r.value)
        row["step"], row["t"] = max(row["step"], r.step), max(row["t"], r.t)
    return names, [table[k] for k in sorted(table)]


def step_table(m: RunMetrics) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the per-step metrics: step, epoch, t, then one column per metric name."""
    names, rows = _wide(m.steps, "step", lambda r: r.name)
    return ["step", "epoch", "t", *names], rows


def epoch_table(m: RunMetrics) -> tuple[list[str], list[dict[str, Any]]]:
    """(columns, rows) of the per-epoch metrics: epoch, step, t, then 'split/name' columns."""
    names, rows = _wide(m.epochs, "epoch", lambda r: f"{r.split}/{r.name}")
    return ["epoch", "step", "t", *names], rows


def _csv_bytes(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    # precise: the shortest text that reads back as the same float (wall times keep their milliseconds)
    return csv_bytes(rows, columns, precise=True)


def _finite(o: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _json_doc(m: RunMetrics) -> dict[str, Any]:
    def rows(table):
        columns, body = table
        return [{c: r.get(c) for c in columns} for r in body]

    return _finite({"run": m.run.as_dict(), "steps": rows(step_table(m)), "epochs": rows(epoch_table(m))})


def _write_csv(m: RunMetrics, folder: Path) -> None:
    folder.mkdir()
    (folder / "steps.csv").write_bytes(_csv_bytes(*step_table(m)))
    (folder / "epochs.csv").write_bytes(_csv_bytes(*epoch_table(m)))
    (folder / "run.json").write_text(json.dumps(_finite(m.run.as_dict()), indent=1, default=str) + "\n",
                                     encoding="utf-8")


def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError(TENSORBOARD_HINT) from None
    return SummaryWriter


def _write_tensorboard(m: RunMetrics, folder: Path) -> None:
    """Scalars tagged 'step/loss' (x: step) and 'val/top1' etc. (x: the step at the epoch's end), with wall times."""
    writer_cls = _summary_writer()
    folder.mkdir()
    w = writer_cls(log_dir=str(folder), flush_secs=3600)
    try:
        for r in m.steps + m.epochs:
            v = _num(r.value)
            if v is not None:
                w.add_scalar(f"{r.split}/{r.name}", v, global_step=int(r.step), walltime=float(r.t))
        w.add_text("qd/config", "```\n" + json.dumps(m.run.config, indent=1, sort_keys=True, default=str) + "\n```",
                   global_step=0, walltime=float(m.run.started))
    finally:
        w.close()


def _check_dest(dest: Path, folder: bool) -> None:
    """An earlier export may be replaced; a symbolic link or something else in its place is refused."""
    if dest.is_symlink():
        raise ConfigError(f"{str(dest)!r} is a symbolic link; qd replaces only its own exports there: remove it "
                          "or choose another --out")
    if dest.exists() and dest.is_dir() != folder:
        raise ConfigError(f"{str(dest)!r} is a {'file' if folder else 'folder'} qd did not write; remove it or "
                          "choose another --out")


def export_runs(store: Store, run_ids: list[int], fmt: str, out: Path) -> list[Path]:
    """Write each run's metrics under `out`: `run-N-csv/` (steps.csv, epochs.csv, run.json), `run-N/` (TensorBoard
    event files; the folder names the run in TensorBoard) or `run-N.json`; returns the paths written. An existing
    export of the same run and format is replaced."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not run_ids:
        raise ConfigError("give at least one run to export (see 'qd runs list')")
    runs = collect(store, run_ids)
    if fmt == "tensorboard":
        _summary_writer()  # say what to install before anything is written
    out = Path(out).expanduser()
    out_folder(out, "to write the export into")
    dests = [out / {"json": f"{m.folder}.json", "csv": f"{m.folder}-csv", "tensorboard": m.folder}[fmt] for m in runs]
    for dest in dests:  # all checked before anything is written
        _check_dest(dest, fmt != "json")
    written = []
    for m, dest in zip(runs, dests):
        tmp = Path(tempfile.mkdtemp(prefix=f".{m.folder}.", suffix=".tmp", dir=out))
        try:
            if fmt == "json":
                part = tmp / "run.json"
                part.write_text(json.dumps(_json_doc(m), indent=1, allow_nan=False, default=str) + "\n",
                                encoding="utf-8")
            else:
                part = tmp / m.folder
                (_write_csv if fmt == "csv" else _write_tensorboard)(m, part)
            if dest.is_dir():
                shutil.rmtree(dest)
            os.replace(part, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        written.append(dest)
    return written
