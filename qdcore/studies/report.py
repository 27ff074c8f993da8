"""`qd study report`: CSV of all trials, PNG figures (matplotlib) and a Markdown summary in one folder."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from qdcore.csvfile import csv_bytes
from qdcore.errors import ConfigError
from qdcore.paths import atomic_write_bytes
from qdcore.studies import trials as T
from qdcore.studies.claims import VERDICT_COLUMNS, summary_line, verdict_rows
from qdcore.studies.fit import fit
from qdcore.studies.results import StudyTable, aggregate, study_table, untrained_note
from qdcore.studies.verdicts import study_verdicts
from qdcore.studies.view import default_metric, interval, plot_axes, series, x_axis


def _cell(v: Any) -> str:
    """A Markdown table cell."""
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows as CSV (columns in first-seen order), formula-like text neutralised."""
    return csv_bytes(rows).decode("utf-8")


def figure(table: StudyTable, metric: str, x: str | None, by: str | None, path: Path) -> None:
    """One PNG: mean `metric` vs `x` with 95% error bars, a line per value of `by`."""
    import matplotlib  # lazy: matplotlib is loaded only when used

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib is loaded only when used

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    data = series(table, metric, x, by)
    axis = x_axis(data, x)
    for label, (xs, ys, es) in data.items():
        spans = [interval(metric, y, e) for y, e in zip(ys, es)]
        yerr = [[y - lo for y, (lo, _) in zip(ys, spans)], [hi - y for y, (_, hi) in zip(ys, spans)]]
        ax.errorbar([axis.pos(v) for v in xs], ys, yerr=yerr, marker="o", capsize=3, label=label)
    if axis.values:
        ticks, labels = axis.ticks()
        ax.set_xticks(ticks, labels, rotation=0 if axis.numeric else 30, ha="center" if axis.numeric else "right")
    ax.set_title(f"{metric} vs {x or 'trial'} (mean, 95% interval over seeds)")
    ax.set_xlabel(axis.label)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    if len(ax.get_legend_handles_labels()[0]) > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def write_report(store, study: int, out: str | Path, formulas: list[str] | None = None) -> list[Path]:
    """Write trials.csv, aggregates.csv, one PNG per metric and README.md to `out`; returns the files."""
    rec = T.require_study(store, study)
    table = study_table(store, study)
    out = Path(out).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create report folder {str(out)!r}: {e.strerror or e}") from None
    files: list[Path] = []

    def put(name: str, text: str) -> None:
        atomic_write_bytes(out / name, text.encode())
        files.append(out / name)

    put("trials.csv", csv_text(table.rows))
    aggs = aggregate(table)
    put("aggregates.csv", csv_text(aggs))
    axes = plot_axes(table)
    x = next((a for a in axes if a != "variant"), axes[0] if axes else None)
    by = next((a for a in axes if a != x), None)
    per_class = [m for m in table.metrics if m.startswith("test_top1[")]  # a balanced test set's classes
    metrics = [m for m in ("test_top1", "test_loss", "val_top1", "val_loss", "best_val_loss", "best_epoch_loss")
               if m in table.metrics] + per_class
    pngs = []
    for m in metrics:
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in m.rstrip("]")) + ".png"
        figure(table, m, x, by, out / name)
        files.append(out / name)
        pngs.append(name)
    md = [f"# Study {study}: {rec.name}", "", rec.summary.get("spec", {}).get("description", ""), "",
          f"{len(table.rows)} trials; status: " + ", ".join(f"{k} {v}" for k, v in T.counts(store, study).items()),
          "", "## Trials (mean over seeds, 95% interval)", ""] + [f"Note: {n}" for n in [untrained_note(table)] if n]
    if aggs:
        main = default_metric(table)
        keys = [a for a in axes]
        md.append("| " + " | ".join(keys + ["n", main, "95% interval", *per_class]) + " |")
        md.append("|" + "---|" * (len(keys) + 3 + len(per_class)))
        for a in aggs:
            lo, hi = a.get(f"{main}_lo"), a.get(f"{main}_hi")
            interval = "" if lo is None or math.isnan(lo) else f"{lo:.4f} .. {hi:.4f}"
            md.append("| " + " | ".join([_cell(a.get(k)) for k in keys] + [str(a["n"]), _cell(a.get(f"{main}_mean")),
                                                                              interval]
                                        + [_cell(a.get(f"{m}_mean")) for m in per_class]) + " |")
    for f in formulas or rec.summary.get("spec", {}).get("paper", {}).get("formulas", []):
        try:
            res = fit(table, f)
        except ConfigError as e:
            md += ["", f"OLS `{f}`: {e}"]
            continue
        md += ["", f"## OLS: `{f}`", "", "```", res.text, "```"]
    md += claims_markdown(rec.summary.get("spec", {}), table)
    md += ["", "## Figures", ""] + [f"![{p}]({p})" for p in pngs]
    put("README.md", "\n".join(md) + "\n")
    return files


def claims_markdown(spec: dict[str, Any], table: StudyTable) -> list[str]:
    """The '## Claims' section: per claim the paper's side, qd's estimate with its 95% interval, the verdict."""
    verdicts, notes = study_verdicts(spec, table)
    md = ["", "## Claims" + (f": {summary_line(verdicts)}" if verdicts else ""), ""]
    if verdicts:
        cols = [*VERDICT_COLUMNS, "why"]
        md.append("| " + " | ".join(cols) + " |")
        md.append("|" + "---|" * len(cols))
        md += ["| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |" for r in verdict_rows(verdicts)]
    md += [f"- {n}" for n in notes]
    return md
