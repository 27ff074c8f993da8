"""Textual messages of qdtui in one place (toolong style); high-rate ones collapse with `can_replace`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from qdtui.loaders import Catalog, RecentRuns, Samples
    from qdtui.screens.gan import GanView
    from qdtui.widgets.drawing_grid import GridItem


# --- data loaded by workers -------------------------------------------------


class CatalogLoaded(Message):
    """The data source was opened and its categories counted."""

    def __init__(self, catalog: "Catalog") -> None:
        super().__init__()
        self.catalog = catalog


class CatalogFailed(Message):
    """The data source could not be opened; `error` is one line for the user."""

    def __init__(self, spec: str, error: str) -> None:
        super().__init__()
        self.spec = spec
        self.error = error


class SamplesLoaded(Message):
    """Sample drawings of one category are ready."""

    def __init__(self, samples: "Samples") -> None:
        super().__init__()
        self.samples = samples


class LoadFailed(Message):
    """A worker could not read something (`what`, e.g. a category); `error` is one line for the user."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class RunsLoaded(Message):
    """Recent runs were read from the store (`note` says why the list may be empty)."""

    def __init__(self, runs: "RecentRuns") -> None:
        super().__init__()
        self.runs = runs


class RunChosen(Message):
    """The user picked a run (Enter in a runs table)."""

    def __init__(self, run_id: int, status: str = "done", kind: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.status = status
        self.kind = kind


class AttachChecked(Message):
    """`qdtui attach ID` looked the run up: `run` is its record, or `error` says why not."""

    def __init__(self, run_id: int, run: Any | None, error: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.run = run
        self.error = error


# --- widgets ---------------------------------------------------------------


class _CellMessage(Message):
    """A confusion-matrix cell: class `truth` predicted as `pred`, `count` drawings."""

    def __init__(self, matrix: Any, truth: int, pred: int, truth_name: str, pred_name: str, count: int) -> None:
        super().__init__()
        self.matrix = matrix
        self.truth = truth
        self.pred = pred
        self.truth_name = truth_name
        self.pred_name = pred_name
        self.count = count

    @property
    def control(self) -> Any:
        """The ConfusionMatrix that sent the message."""
        return self.matrix


class CellSelected(_CellMessage):
    """Enter on a confusion-matrix cell: show the drawings of class `truth` predicted as `pred`."""


class CellHighlighted(_CellMessage):
    """The confusion-matrix cursor moved; collapses when the cursor moves fast."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CellHighlighted) and message.matrix is self.matrix


class _DrawingMessage(Message):
    """A drawing of a grid: its index and item."""

    def __init__(self, grid: Any, index: int, item: "GridItem") -> None:
        super().__init__()
        self.grid = grid
        self.index = index
        self.item = item

    @property
    def control(self) -> Any:
        """The DrawingGrid that sent the message."""
        return self.grid


class DrawingSelected(_DrawingMessage):
    """Enter (or a click on the current cell) in a drawing grid."""


class DrawingHighlighted(_DrawingMessage):
    """The drawing-grid cursor moved; collapses when keys repeat."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DrawingHighlighted) and message.grid is self.grid


# --- followed runs (live view and attach) -----------------------------------


class Launched(Message):
    """The core launcher started a child (`job`), or could not (`error`)."""

    def __init__(self, job: Any | None, error: str, launch: int) -> None:
        super().__init__()
        self.job = job
        self.error = error
        self.launch = launch


class MetricRows(Message):
    """New metric rows read from the store for a followed run (attach)."""

    def __init__(self, run_id: int, rows: list, status: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.rows = rows
        self.status = status


# --- drawing ------------------------------------------------------------------


class StrokesChanged(Message):
    """The canvas's strokes changed; `finished` after pen-up, undo or clear, else a point was added mid-stroke."""

    def __init__(self, canvas: Any, finished: bool) -> None:
        super().__init__()
        self.canvas = canvas
        self.finished = finished

    @property
    def control(self) -> Any:
        """The Canvas that sent the message."""
        return self.canvas

    def can_replace(self, message: Message) -> bool:
        # Points of one stroke collapse; a finished stroke is never dropped.
        return isinstance(message, StrokesChanged) and not message.finished and message.canvas is self.canvas


class Guessed(Message):
    """The model's view of the drawing (`image`, uint8 28x28) and its top guesses for drawing `version`."""

    def __init__(self, version: int, key: Any, image: Any, guesses: list) -> None:
        super().__init__()
        self.version = version
        self.key = key
        self.image = image
        self.guesses = guesses


class ModelReady(Message):
    """The draw screen's model was loaded (`predictor`), or could not be (`error`, one line)."""

    def __init__(self, predictor: Any | None, error: str = "") -> None:
        super().__init__()
        self.predictor = predictor
        self.error = error


class DrawingSaved(Message):
    """A drawing was written to the store (`drawing_id`), or not (`error`)."""

    def __init__(self, result: Any, drawing_id: int | None, error: str = "") -> None:
        super().__init__()
        self.result = result
        self.drawing_id = drawing_id
        self.error = error
class RunPolled(MetricRows):
    """A poll of the store for a followed run: its record (or `error`), the new metric rows, a child's exit code."""

    def __init__(self, run_id: int | None, rows: list, run: Any | None, error: str = "", launch: int = 0,
                 code: int | None = None, arrays: dict | None = None) -> None:
        super().__init__(run_id, rows, getattr(run, "status", "") or "")
        self.run = run
        self.arrays = arrays or {}  # artifact panel name -> (artifact row, array, labels)
        self.error = error
        self.launch = launch  # which start of a child the poll belongs to (older polls are dropped)
        self.code = code  # exit code of the child started here, None while it runs


# --- quiz -----------------------------------------------------------------------


class QuizReady(Message):
    """The quiz session was opened (items built or rebuilt)."""

    def __init__(self, session: Any) -> None:
        super().__init__()
        self.session = session


class QuizFailed(Message):
    """The quiz could not be opened; `error` is one line for the user."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class SetupLoaded(Message):
    """Runs with test predictions and unfinished sessions, read from the store."""

    def __init__(self, runs: list[tuple[Any, int]], sessions: list[Any], error: str = "") -> None:
        super().__init__()
        self.runs = runs
        self.sessions = sessions
        self.error = error


class ItemsBuilt(Message):
    """The quiz's drawings are ready (or `error` says why not)."""

    def __init__(self, config: Any, items: Any, error: str = "", session_id: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.items = items
        self.error = error
        self.session_id = session_id


class ReportLoaded(Message):
    """The report was computed (or `error` says why not)."""

    def __init__(self, report: Any, error: str = "") -> None:
        super().__init__()
        self.report = report
        self.error = error


# --- runs and overlays ----------------------------------------------------------


class TrackerLoaded(Message):
    """Runs read from the store (or `error`, one line)."""

    def __init__(self, runs: list[Any], error: str = "", humans: dict[int, float] | None = None) -> None:
        super().__init__()
        self.runs = runs
        self.error = error
        self.humans = humans or {}


class RunsDeleted(Message):
    """Runs were removed; `errors` are one line each for those that could not be."""

    def __init__(self, deleted: list[int], errors: list[str]) -> None:
        super().__init__()
        self.deleted = deleted
        self.errors = errors


class HistoriesLoaded(Message):
    """Per-epoch curves of several runs, for the overlay."""

    def __init__(self, curves: list[tuple[Any, dict[str, list[tuple[int, float]]]]], error: str = "") -> None:
        super().__init__()
        self.curves = curves
        self.error = error


# --- evaluation tabs ------------------------------------------------------------


class DrawingFocused(Message):
    """A tab's cursor is on test drawing `index` (the Hidden tab shows that one's feature maps)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DrawingFocused)


# --- studies and GANs -----------------------------------------------------


class StudiesLoaded(Message):
    """The studies in the store with their progress (or `error`, one line)."""

    def __init__(self, rows: list[tuple[Any, Any]], error: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class StudyLoaded(Message):
    """One study's record, progress and table (or `error`)."""

    def __init__(self, record: Any = None, progress: Any = None, table: Any = None, error: str = "",
                 verdicts: Any = None, claim_notes: Any = None) -> None:
        super().__init__()
        self.record = record
        self.progress = progress
        self.table = table
        self.error = error
        self.verdicts = verdicts or []  # the paper's claims judged (qdcore.studies.claims.Verdict)
        self.claim_notes = claim_notes or []


class FitDone(Message):
    """An OLS fit's text (or `error`)."""

    def __init__(self, text: str, error: str = "") -> None:
        super().__init__()
        self.text = text
        self.error = error


class StudyStarted(Message):
    """A study was created and started in the background (or `error`)."""

    def __init__(self, study: int | None, notes: list[str], error: str = "") -> None:
        super().__init__()
        self.study = study
        self.notes = notes
        self.error = error


class GanPolled(Message):
    """A poll of the store for the followed GAN run."""

    def __init__(self, view: "GanView") -> None:
        super().__init__()
        self.view = view

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, GanPolled)
