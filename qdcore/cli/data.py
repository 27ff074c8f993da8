"""`qd data` commands: list, download, info, show, quality, export."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.columns import Columns
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.style import Style
from rich.table import Table
from rich.text import Text

from qdcore.cli.common import (
    CategoriesOpt,
    DataOpt,
    ImbalanceOpt,
    JsonOpt,
    PerClassOpt,
    SafeConsole,
    SeedOpt,
    StrictOpt,
    console,
    err_console,
    lit,
    load_selection,
    print_json,
    print_notes,
    side,
)
from qdcore.cli.options import DeclaredCommand, declared_argument, declared_option, of
from qdcore.data.categories import NAMED_SETS, check_category, official_categories, official_files, parse_categories
from qdcore.data.command_options import CacheDir, CategoryArgs, DownloadOptions, ExportFile, GridOptions, QualityOptions
from qdcore.draw.export import export_drawn as write
from qdcore.draw.options import DrawnExport, DrawnReportOptions
from qdcore.errors import ConfigError, DataError
from qdcore.fmt import literal, plural, size
from qdcore.options import DataSelection
from qdcore.paths import atomic_path, data_cache

app = typer.Typer(no_args_is_help=True, help="List, download, inspect and export drawings.")

CacheOpt = Annotated[str | None, declared_option(CacheDir, "cache")]
GOOGLE_CREDIT = "Quick, Draw! data by Google, CC BY 4.0 (quickdraw.withgoogle.com/data)"


def _notes(notes: list[str]) -> None:
    """Source notes (skipped malformed lines, ignored files) on stderr, so JSON on stdout stays clean."""
    print_notes(notes)


def _file_size(path: str) -> int | None:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


# ---------------------------------------------------------------- list

@app.command("list")
def list_(
    data: Annotated[str | None, declared_option(DataSelection, "data", default=None, help="Only list this source (demo, cache or a PATH).")] = None,
    cache: CacheOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Categories: the built-in demo set, the download cache, local folders ($QD_DATA_DIRS, ../shared/quickdraw) and
    Google's 345 downloadable ones."""
    from qdcore.data.opener import open_source  # lazy: keeps numpy out of qd --help

    if data is not None:
        src = open_source(data, cache=cache)
        rows = [{"name": c, "count": src.count(c), "file": src.file_of(c)} for c in src.categories()]
        if json_:
            print_json({"source": src.describe(), "synthetic": src.synthetic, "categories": rows})
            return
        _table(src.describe(), rows, with_file=True)
        return

    from qdcore.data.demo import DemoSource  # lazy: keeps numpy out of qd --help

    demo = DemoSource()
    demo_rows = [{"name": c, "count": demo.count(c)} for c in demo.categories()]
    root = data_cache(cache)
    cached_error = None
    try:
        from qdcore.data.local import NpyFolderSource  # lazy: keeps numpy out of qd --help

        src = NpyFolderSource(root, allow_empty=True)
        cached = [{"name": c, "count": src.count(c), "bytes": _file_size(src.file_of(c)), "file": src.file_of(c)}
                  for c in src.categories()]
    except DataError as e:  # one bad file should not hide the rest of the listing
        cached, cached_error = [], str(e)
    have = {r["name"] for r in cached}
    official: list[dict[str, Any]] = [{"name": f.category, "count": f.n_drawings, "bytes": f.bytes, "md5": f.md5, "cached": f.category in have}
                for f in official_files().values()]
    official.sort(key=lambda r: r["name"])
    from qdcore.data.places import known_places, summarise  # lazy: keeps numpy out of qd --help

    local = [summarise(p, cache) for p in known_places(cache) if p.kind == "local"]
    if json_:
        print_json({"demo": {"synthetic": True, "categories": demo_rows},
                    "cached": {"path": str(root), "categories": cached, "error": cached_error},
                    "local": [{"path": s.place.spec, "why": s.place.why, "source": s.description,
                               "categories": s.categories, "drawings": s.drawings, "approximate": s.approximate,
                               "error": s.error} for s in local],
                    "downloadable": official})
        return
    _table(f"demo: built-in, synthetic ({len(demo_rows)} categories; --data demo)", demo_rows)
    if cached_error:
        err_console.print(f"cache {root}: {cached_error}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    elif cached:
        _table(f"cached: {root} ({len(cached)} categories; --data cache)", cached, with_size=True)
    else:
        console.print(f"cached: none in {root} (qd data download CATEGORY...)", markup=False, highlight=False,
                      soft_wrap=True)
    _local(local)
    _downloadable(official)


def _local(summaries: list) -> None:
    """Local folders qd knows of, each with what `--data` takes to use it."""
    if not summaries:
        console.print("local folders: none known (list yours in $QD_DATA_DIRS, separated by ':')", markup=False,
                      highlight=False, soft_wrap=True)
        return
    console.print(f"local folders ({len(summaries)}; --data PATH; more in $QD_DATA_DIRS)", style="bold",
                  markup=False, highlight=False, soft_wrap=True)
    t = Table(box=None)
    t.add_column("--data", no_wrap=True, min_width=max(len(s.place.label) for s in summaries))  # a path to copy
    for col, just in (("format", "left"), ("categories", "right"), ("drawings", "right"), ("known from", "left")):
        t.add_column(col, justify=side(just), overflow="fold")
    for s in summaries:
        if s.error:
            t.add_row(lit(s.place.label), "", "", "", lit(s.place.why))
            err_console.print(f"{lit(s.place.spec)}: {lit(s.error)}", style="yellow", markup=False, highlight=False,
                              soft_wrap=True)
            continue
        t.add_row(lit(s.place.label), lit(s.description.split(":", 1)[0]), f"{s.categories:,}",
                  ("≈" if s.approximate else "") + f"{s.drawings:,}", lit(s.place.why))
    # Never cut a path to copy: the table may run wider than the terminal (it wraps there, whole).
    widest = max(len(s.place.label) for s in summaries)
    console.print(t, width=max(console.width, widest + 60), crop=False)


def _table(title: str, rows: list[dict], with_size: bool = False, with_file: bool = False) -> None:
    console.print(title, style="bold", markup=False, highlight=False, soft_wrap=True)
    t = Table()
    t.add_column("category")
    t.add_column("drawings", justify="right")
    if with_size:
        t.add_column("size", justify="right")
    if with_file:
        t.add_column("file", overflow="fold")
    for r in rows:
        cells = [lit(r["name"]), f"{r['count']:,}"]
        if with_size:
            cells.append(size(r.get("bytes")))
        if with_file:
            cells.append(lit(r["file"]))
        t.add_row(*cells)
    console.print(t)


def _downloadable(official: list[dict]) -> None:
    n = sum(r["count"] for r in official)
    total = sum(r["bytes"] for r in official)
    console.print(f"[bold]downloadable[/] from Google: {len(official)} categories, {n:,} drawings, {size(total)} "
                  "(qd data download NAME..., or --all; * = cached)", highlight=False, soft_wrap=True)
    items = []
    for r in official:
        t = Text(("* " if r["cached"] else "  ") + r["name"])
        t.append(f" {r['count'] / 1000:,.0f}k", style="dim")
        items.append(t)
    console.print(Columns(items, column_first=True, padding=(0, 2)))


# ---------------------------------------------------------------- download

def download_cmd(
    fetch: DownloadOptions,
    categories: Annotated[list[str] | None, declared_argument(CategoryArgs, "categories")] = None,
    cache: CacheOpt = None,
) -> None:
    """Fetch Google's numpy bitmaps or stroke files into the cache: resumable, verified (size, md5), atomic."""
    # lazy: keeps numpy out of qd --help
    from qdcore.data.download import download, format_dest, get_format, resolve_mirror
    all_, format_, mirror = fetch.every, fetch.format, fetch.mirror
    retries, timeout, parallel = fetch.retries, fetch.timeout, fetch.parallel
    get_format(format_)  # a wrong --format is refused before anything is fetched
    names: list[str] = []
    for arg in categories or []:
        for item in arg.split(","):
            item = item.strip()
            if item:
                names.extend(NAMED_SETS.get(item.lower(), [item]))
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:<24}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=err_console, transient=False) as bar:

        many = all_ or len(names) > 12
        overall = bar.add_task("all files", total=None) if many else None
        done_files: set[str] = set()

        def on_progress(p) -> None:
            if p.category not in tasks:
                tasks[p.category] = bar.add_task(p.category, total=p.total, completed=p.done)
            tid = tasks[p.category]
            if overall is not None and p.total and p.done >= p.total and p.category not in done_files:  # many
                # Many files: finished ones leave the view; one line counts them.
                done_files.add(p.category)
                bar.update(tid, visible=False)
                bar.update(overall, description=f"{len(done_files)} files done")
                return
            if p.status == "retry":
                bar.console.print(f"{p.category}: {p.message}", markup=False, highlight=False, soft_wrap=True)
            elif p.status == "skip":
                bar.update(tid, total=p.total, completed=p.done, description=f"{p.category} (cached)")
                if p.message != "already complete":  # a subset: say what it is and where it came from
                    bar.console.print(f"{p.category}: {p.message}", markup=False, highlight=False, soft_wrap=True)
            else:
                bar.update(tid, total=p.total, completed=p.done)

        try:
            results = download(names, dest=cache, mirror=mirror, progress=on_progress, retries=retries,
                               timeout=timeout, all_categories=all_, workers=parallel, fmt=format_)
            error = None
        except DataError as e:
            results, error = getattr(e, "results", []), e
    new = [r for r in results if not r.skipped]
    for r in results:
        how = {"md5": "size and md5 match Google's", "header": "header and size checked (mirror's own file)",
               "existing": "already complete, not downloaded again"}[r.verified]
        console.print(f"{r.category}: {r.n_drawings:,} drawings, {size(r.bytes)}, {how} -> {r.path}", markup=False, highlight=False,
                      soft_wrap=True)
    if results or not error:
        console.print(f"{len(new)} downloaded, {len(results) - len(new)} already cached, from {resolve_mirror(mirror, format_)}",
                      markup=False, highlight=False, soft_wrap=True)
        if format_ != "numpy" and results:
            console.print(f"read them with --data {literal(str(format_dest(cache, format_)))}", markup=False, highlight=False,
                          soft_wrap=True)
    if error:
        raise error


app.command("download")(DeclaredCommand(download_cmd, of(DownloadOptions, "fetch")))


# ---------------------------------------------------------------- info

@app.command("info")
def info(data: DataOpt = "demo", categories: CategoriesOpt = None, cache: CacheOpt = None, strict: StrictOpt = False,
         json_: JsonOpt = False) -> None:
    """Per category of a source: drawings, file size, file; and Google's full count."""
    from qdcore.data.opener import open_source  # lazy: keeps numpy out of qd --help

    src = open_source(data, cache=cache, strict=strict)
    available = src.categories()
    chosen = (parse_categories(categories, allowed=available) if categories else available) or []
    if categories and not chosen:
        raise DataError(f"--categories {categories!r} names no category")
    official = official_files()
    rows: list[dict[str, Any]] = []
    for c in chosen:
        f = src.file_of(c)
        rows.append({"name": c, "count": src.count(c), "bytes": None if src.synthetic else _file_size(f), "file": f,
                     "google_count": official[c].n_drawings if c in official and not src.synthetic else None})
    _notes(getattr(src, "notes", []))
    if json_:
        print_json({"source": src.describe(), "kind": src.kind, "synthetic": src.synthetic, "location": src.location,
                    "categories": rows, "total": sum(r["count"] for r in rows)})
        return

    console.print(src.describe(), style="bold", markup=False, highlight=False, soft_wrap=True)
    t = Table()
    for col, just in (("category", "left"), ("drawings", "right"), ("of Google's", "right"), ("size", "right"), ("file", "left")):
        t.add_column(col, justify=side(just), overflow="fold" if col == "file" else "ellipsis")
    for r in rows:
        t.add_row(lit(r["name"]), f"{r['count']:,}", "-" if r["google_count"] is None else f"{r['google_count']:,}",
                  size(r["bytes"]), lit(r["file"]))
    console.print(t)
    console.print(f"{len(rows)} categories, {sum(r['count'] for r in rows):,} drawings"
                  + ("" if rows else " (nothing here yet: qd data download CATEGORY, or --data demo)"), highlight=False, soft_wrap=True)
    if not src.synthetic and rows:
        console.print(GOOGLE_CREDIT, style="dim", highlight=False, soft_wrap=True)


# ---------------------------------------------------------------- show

def _glyph_rows(img, color: bool):
    """One drawing as 14 lists of (char, top grey, bottom grey) half-block cells."""
    lines = []
    for y in range(0, 28, 2):
        top, bot = img[y], img[y + 1]
        if color:
            lines.append([("▀", int(a), int(b)) for a, b in zip(top, bot)])
        else:
            # No colours (a pipe, NO_COLOR): pick the glyph whose ink matches the two pixels.
            lines.append([(" ▄▀█"[(int(a) >= 128) * 2 + (int(b) >= 128)], 0, 0) for a, b in zip(top, bot)])
    return lines


def render_grid(images, captions: list[str], cols: int, color: bool) -> list:
    """Rich Text lines: drawings side by side (28 cells x 14 lines each) with a caption under each."""
    styles: dict[tuple[int, int], Style] = {}

    def style(a: int, b: int) -> Style:
        if (a, b) not in styles:
            styles[(a, b)] = Style(color=f"rgb({a},{a},{a})", bgcolor=f"rgb({b},{b},{b})")
        return styles[(a, b)]

    out = []
    for start in range(0, len(images), cols):
        chunk = [_glyph_rows(img, color) for img in images[start:start + cols]]
        for y in range(14):
            line = Text()
            for k, cells in enumerate(chunk):
                if k:
                    line.append("  ")
                if not color:
                    line.append("".join(ch for ch, _, _ in cells[y]))
                    continue
                # One span per run of equal cells keeps the escape codes short.
                run, key = "", None
                for ch, a, b in cells[y]:
                    if key is not None and (a, b) != key and run:
                        line.append(run, style(*key))
                        run = ""
                    run, key = run + ch, (a, b)
                if key is not None:
                    line.append(run, style(*key))
            out.append(line)
        out.append(Text("  ".join(f"{c[:28]:^28}" for c in captions[start:start + cols]), style="dim"))
    return out


def show(
    category: Annotated[str, declared_argument(CategoryArgs, "category")],
    grid: GridOptions,
    data: DataOpt = "demo",
    seed: SeedOpt = 0,
    cache: CacheOpt = None,
    strict: StrictOpt = False,
) -> None:
    """A grid of drawings in half-block characters, with row numbers."""
    import numpy as np  # lazy: keeps numpy out of qd --help

    from qdcore.data.opener import open_source  # lazy: keeps numpy out of qd --help

    n, start, random, cols = grid.n, grid.start, grid.random, grid.cols  # checked by their declarations
    src = open_source(data, cache=cache, strict=strict)
    try:
        cat = check_category(category, src.categories())
    except DataError:
        official = {c.lower(): c for c in official_categories()}
        name = official.get(category.strip().lower().replace("_", " "))
        if name and src.synthetic:
            raise DataError(f"the demo set has no {name!r} (it has {', '.join(src.categories())}); for Google's "
                            f"drawings run 'qd data download {name}' and use --data cache") from None
        if name:
            raise DataError(f"{src.location} has no drawings of {name!r}; get them with 'qd data download {name}'"
                            " and use --data cache") from None
        raise
    total = src.count(cat)
    if total == 0:
        raise DataError(f"{src.file_of(cat)} holds no drawings")
    if random:
        rows = np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))
    else:
        if not 0 <= start < total:
            raise ConfigError(f"--start is {start}; {src.file_of(cat)} has rows 0..{total - 1}")
        rows = np.arange(start, min(total, start + n))
    images = src.read(cat, rows).reshape(-1, 28, 28)
    _notes(getattr(src, "notes", []))
    # A console made now, so colour detection sees the current stdout (a pipe gets plain glyphs).
    out = SafeConsole(highlight=False, soft_wrap=True)
    color = out.color_system is not None
    width = out.width if out.is_terminal else max(out.width, 120)
    per_line = cols or max(1, (width + 2) // 30)
    header = f"{cat}: {len(rows)} of {total:,} drawings from {src.describe()}"
    out.print(literal(header), style="bold", markup=False, soft_wrap=True)  # a name's newline is shown as \\n, not a new line
    for line in render_grid(images, [f"#{int(r)}" for r in rows], per_line, color):
        out.print(line, no_wrap=True, overflow="ignore", crop=False, soft_wrap=True)
    if not src.synthetic:
        out.print(GOOGLE_CREDIT, style="dim", soft_wrap=True)


app.command("show")(DeclaredCommand(show, of(GridOptions, "grid")))


# ---------------------------------------------------------------- quality

def quality(listing: QualityOptions, data: DataOpt = "demo", categories: CategoriesOpt = None,
            per_class: PerClassOpt = None, seed: SeedOpt = 0, strict: StrictOpt = False, json_: JsonOpt = False) -> None:
    """Blank and near-blank drawings and exact duplicates in a selection."""
    from qdcore.data.quality import quality_report  # lazy: keeps numpy out of qd --help

    ds = load_selection(data, categories, per_class, seed, strict=strict)
    _notes(ds.notes)
    rep = quality_report(ds)
    if json_:
        d = rep.to_dict()
        flagged = set(rep.blank) | set(rep.near_blank) | {i for g in rep.duplicate_groups for i in g}
        d["origin"] = ds.origin
        d["synthetic"] = ds.synthetic
        d["provenance"] = {str(i): ds.provenance(i) for i in sorted(flagged)}
        print_json(d)
        return

    tag = " (synthetic)" if ds.synthetic else ""
    console.print(f"data quality: {len(ds):,} drawings from {ds.origin}{tag}", style="bold", markup=False, highlight=False,
                  soft_wrap=True)
    t = Table()
    for col in ("category", "drawings", "blank", "near-blank", "duplicates"):
        t.add_column(col, justify="left" if col == "category" else "right")
    for name, c in rep.per_class.items():
        t.add_row(lit(name), f"{c['n']:,}", str(c["blank"]), str(c["near_blank"]), str(c["duplicates"]))
    t.add_row("[bold]all[/]", f"{rep.n:,}", str(len(rep.blank)), str(len(rep.near_blank)), str(rep.duplicates))
    console.print(t)
    console.print(f"blank: no pixel >= {rep.ink_level}; near-blank: 1..{rep.near_blank_below - 1} such pixels; "
                  f"duplicates: byte-identical to an earlier drawing ({len(rep.duplicate_groups)} groups, "
                  f"{len(rep.cross_class_groups)} spanning categories)", style="dim", highlight=False, soft_wrap=True)

    def where(i: int) -> str:
        return f"{ds.classes[int(ds.labels[i])]} {ds.provenance(i)}"

    examples = listing.examples
    for label, idx in (("blank", rep.blank), ("near-blank", rep.near_blank)):
        for i in idx[:examples]:
            console.print(f"  {label}: {where(i)}", markup=False, highlight=False, soft_wrap=True)
    for g in rep.duplicate_groups[:examples]:
        console.print("  duplicates: " + " = ".join(where(i) for i in g), markup=False, highlight=False, soft_wrap=True)


app.command("quality")(DeclaredCommand(quality, of(QualityOptions, "listing")))


# ---------------------------------------------------------------- export

def export(
    file: ExportFile,
    data: DataOpt = "demo",
    categories: CategoriesOpt = None,
    per_class: PerClassOpt = None,
    seed: SeedOpt = 0,
    imbalance: ImbalanceOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Write the selected drawings as one Google-format .npy (strokes rasterised; source order without --per-class)."""
    import numpy as np  # lazy: keeps numpy out of qd --help

    out = Path(file.out)
    if out.suffix.lower() != ".npy":
        raise ConfigError(f"--out {str(out)!r} must end in .npy")
    ds = load_selection(data, categories, per_class, seed, imbalance, strict)
    _notes(ds.notes)
    arr = np.ascontiguousarray(ds.images.reshape(len(ds), 784), dtype=np.uint8)
    try:
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, arr)
    except OSError as e:
        raise DataError(f"cannot write {out}: {e.strerror or e}; choose another --out") from None
    counts = ds.counts()
    tag = " synthetic demo" if ds.synthetic else ""
    console.print(literal(f"wrote {plural(len(ds), tag.strip() + ' drawing' if tag else 'drawing')} to {out} "
                          f"(uint8 {arr.shape}, Google's numpy bitmap format)"), markup=False, highlight=False,
                  soft_wrap=True)
    if len(ds.classes) > 1:
        console.print(literal("rows in this order: " + ", ".join(f"{c} {int(k):,}" for c, k in zip(ds.classes, counts))),
                      markup=False, highlight=False, soft_wrap=True)


app.command("export")(DeclaredCommand(export, of(ExportFile, "file")))


# ---------------------------------------------------------------- people's drawings (qdtui draw)

def export_drawn(which: DrawnExport) -> None:
    """Write the drawings people made in 'qdtui draw' as one Google-format .ndjson (use it with --data FILE)."""
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    skipped: list[int] = []
    with Store() as store:
        n = write(store, Path(which.out), simplified=which.simplified, run_id=which.run, participant=which.name,
                  skipped=skipped)
    if skipped:
        ids = ", ".join(map(str, skipped[:5])) + (" ..." if len(skipped) > 5 else "")
        print_notes([f"skipped {len(skipped):,} stored drawings whose strokes are not valid (ids {ids})"])
    what = "simplified" if which.simplified else "raw"
    console.print(f"wrote {plural(n, 'drawing')} to {which.out} (Google's {what} ndjson)", markup=False, highlight=False,
                  soft_wrap=True)


app.command("export-drawn")(DeclaredCommand(export_drawn, of(DrawnExport, "which")))


def drawn_report(which: DrawnReportOptions, json_: JsonOpt = False) -> None:
    """Per category: how often and how fast the model recognised people's drawings, beside its test accuracy."""
    from qdcore.draw.report import drawn_report as build  # lazy: keeps numpy out of qd --help
    from qdcore.draw.report import share_text
    from qdcore.store import Store  # lazy: keeps the store out of qd --help

    with Store() as store:
        rep = build(store, which.run)
    if json_:
        print_json(rep.as_dict())
        return

    tag = " (synthetic)" if rep.synthetic else ""
    title = Text(f"run {rep.run_id} ({rep.run_name}): people's drawings vs its test drawings from {rep.test_data}{tag}")
    t = Table(title=title, title_justify="left", show_edge=False)
    for col in ("category", "drawn", "recognised", "median time", "knew at (ink)", "test accuracy"):
        t.add_column(col, justify="left" if col == "category" else "right")

    for r in rep.rows:
        t.add_row(Text(r.word), str(r.drawn), f"{r.recognized} ({100 * r.share:.0f}%)",
                  "—" if r.median_seconds is None else f"{r.median_seconds:.1f} s", share_text(r.median_knew_ink),
                  "—" if r.test_accuracy is None else f"{100 * r.test_accuracy:.1f}% of {r.test_n:,}")
    t.add_section()
    share = rep.recognized / rep.drawn if rep.drawn else 0.0
    t.add_row("all", str(rep.drawn), f"{rep.recognized} ({100 * share:.0f}%)", "", share_text(rep.median_knew_ink), "")
    console.print(t)


app.command("drawn-report")(DeclaredCommand(drawn_report, of(DrawnReportOptions, "which")))
