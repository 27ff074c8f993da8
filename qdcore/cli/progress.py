"""RichProgressSink: a live training display (epoch, step, loss, accuracy, images/s, ETA) for `qd train`."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from qdcore.cli.common import lit, print_notes
from qdcore.events import EpochEnd, Event, RunFailed, RunFinished, RunStarted
from qdcore.events import Progress as ProgressEvent
from qdcore.fmt import percent, plural


def _num(v: float | None, fmt: str = ".4f") -> str:
    return "—" if v is None or v != v else format(v, fmt)


class RichProgressSink:
    """Shows a progress bar on a terminal and one line per epoch; plain epoch lines when not a terminal."""

    def __init__(self, console: Console | None = None, live: bool | None = None, kind: object = None) -> None:
        self.console = console or Console(stderr=True)
        self.kind = kind  # the run's qdcore.runs.kinds.RunKind: its result line ends the run
        self.live = self.console.is_terminal if live is None else live
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.total_epochs = 0
        self.steps_per_epoch = 0
        self.unit = "epoch"  # what the kind calls one pass ("boosting round" for LightGBM)

    def _start_bar(self, step: int = 0, epoch: int = 1) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.fields[unit]} {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(bar_width=28),
            MofNCompleteColumn(),
            TextColumn("{task.fields[window]}"),
            TextColumn("{task.fields[ips]} img/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console, transient=True, refresh_per_second=4,
        )
        self.progress.start()
        self.task = self.progress.add_task("train", total=self.total_epochs * self.steps_per_epoch, epoch=epoch,
                                           epochs=self.total_epochs, completed=step, ips="—", window=self.window(None),
                                           unit=self.unit)

    def window(self, event: ProgressEvent | None) -> str:
        """The bar's figures for a logging window (Rich markup; 'waiting for the first step' before one)."""
        if event is None:
            return "[dim]first step…[/]"
        return f"loss [cyan]{_num(event.loss)}[/] acc [cyan]{percent(event.top1)}[/]"

    def close(self) -> None:
        """Stop the live display (idempotent)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.total_epochs, self.steps_per_epoch = event.total_epochs, event.steps_per_epoch
            unit = getattr(self.kind, "unit", None)
            self.unit = unit(event.config) if unit is not None else "epoch"

            rid = f"run {event.run_id} · " if event.run_id is not None else ""
            print_notes(event.notes)
            self.console.print(f"[bold]{rid}{lit(event.name)}[/] · {event.device} · {event.num_train:,} training drawings · "
                               f"{plural(event.total_epochs, self.unit)} × {plural(event.steps_per_epoch, 'step')}",
                               highlight=False, soft_wrap=True)
            if event.start_step:
                self.console.print(f"resuming at {self.unit} {event.start_epoch}, step {event.start_step:,}",
                                   highlight=False)
            if self.live:
                self._start_bar(event.start_step, max(1, event.start_epoch))
        elif isinstance(event, ProgressEvent):
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, completed=event.step, epoch=event.epoch,
                                     ips=f"{event.throughput:,.0f}", window=self.window(event))
        elif isinstance(event, EpochEnd):
            # Fits 80 columns (a tmux pane over SSH): ~75 characters at 3-digit epochs.
            line = epoch_line(event, self.total_epochs, self.unit)
            if self.progress is not None and self.task is not None:
                self.progress.update(self.task, completed=event.step, epoch=min(event.epoch + 1, self.total_epochs))
                self.progress.console.print(line, highlight=False, soft_wrap=True)
            else:
                self.console.print(line, highlight=False, soft_wrap=True)
        elif isinstance(event, RunFinished):
            self.close()
            s = event.summary
            if event.status == "done":
                result = getattr(self.kind, "result_line", None)
                parts = [result(s)] if result is not None else []
                if s.get("epochs") is not None:
                    parts.append(plural(s["epochs"], self.unit))
                if isinstance(s.get("train_seconds"), (int, float)):
                    parts.append(f"{s['train_seconds']:.1f} s training")
                if s.get("images_per_second"):
                    parts.append(f"{s['images_per_second']:,.0f} img/s")
                line = " · ".join(p for p in parts if p)
                self.console.print(f"[green]done[/]: {line}", highlight=False, soft_wrap=True)
            else:
                self.console.print(f"[yellow]interrupted[/] after {plural(s.get('epochs', 0), 'complete ' + self.unit)}",
                                   highlight=False, soft_wrap=True)
        elif isinstance(event, RunFailed):
            self.close()


_QUIET = {"seconds", "throughput", "lr"}  # shown once at the end of the line, or not at all


def epoch_line(e: EpochEnd, total: int | None, unit: str = "epoch") -> str:
    """'epoch   3/10 train 0.512 81.2% │ val 0.601 78.0% (top-5 95.1%) │ lr 0.001 1.2s' from any metrics."""
    splits: dict[str, list[str]] = {}
    for key, v in e.metrics.items():
        split, _, name = key.rpartition("/")
        if name in _QUIET:
            continue
        if name == "loss":
            text = f"{v:.3f}"
        elif name == "top1" or name.endswith("acc"):
            text = percent(v)
        elif name.startswith("top"):
            text = f"(top-{name[3:]} {percent(v)})"
        else:
            text = f"{name} {v:.4g}"
        splits.setdefault(split or "val", []).append(text)
    head = f"{unit} {e.epoch:>3}/{total}" if total else f"{unit} {e.epoch:>3}"
    body = [f"{split} " + " ".join(items) for split, items in splits.items()]
    tail = f"{e.seconds:.1f}s"
    if "train/lr" in e.metrics:
        tail = f"lr {e.metrics['train/lr']:.2g} {tail}"
    first = f"{head} {body[0]}" if body else head
    return " │ ".join([first, *body[1:], tail])
