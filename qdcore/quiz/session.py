"""Quiz sessions: a deterministic list of drawings from a config, and answers written to the store as given."""

from __future__ import annotations

import dataclasses
import hashlib
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qdcore import predictions
from qdcore.analysis.progressive import run_test_split
from qdcore.data.categories import chosen_categories, parse_categories
from qdcore.data.drawings import Drawings
from qdcore.data.drawingset import select
from qdcore.data.opener import open_source
from qdcore.data.prefix import ink_prefix
from qdcore.data.raster import rasterize_many
from qdcore.errors import ConfigError, DataError, StoreError
from qdcore.options import MAX_SEED, check, fields_of, option
from qdcore.predictions import Predictions, run_file
from qdcore.runs.kinds import predictor_of
from qdcore.store import QuizAnswer

if TYPE_CHECKING:
    from qdcore.predictions import Predictions
    from qdcore.store import QuizAnswer, Store

MAX_KEYS = 10  # number keys 1..9, 0
HARD_DEFAULT_K = 4


@dataclass
class QuizResume:
    """`qdtui quiz --resume SESSION`: continue a session instead of starting one."""

    resume: int | None = option(None, help="Continue an unfinished session.", min=1, metavar="SESSION")


@dataclass
class QuizConfig:
    """What a quiz shows: whose it is, which drawings, how many, and how people answer (`qdtui quiz`'s flags)."""

    participant: str = option("", help="participant name (given: the quiz starts at once)", flag="--name",
                              metavar="NAME")
    n: int = option(20, help="number of drawings", min=1, max=100_000)
    # a source spec (demo, cache, PATH); ignored when `run` is set; qdtui's own --data sets it
    data: str = option("demo", help="drawings: demo, cache or a PATH", cli=False)
    categories: str | None = option(None, help="comma-separated categories or a named set")
    per_class: int | None = option(None, help="pool size per category to draw from (default: just enough for "
                                   "--n)", min=1, max=10_000_000)
    run: int | None = option(None, help="quiz on this run's test drawings (people vs model); an id or last",
                             min=1, metavar="RUN")
    seed: int = option(0, help="which drawings", min=0, max=MAX_SEED)
    choices: int | None = option(None, help="multiple choice with K candidates (one number key each)", min=2,
                                 max=MAX_KEYS, metavar="K")
    hard: bool = option(False, help="candidates are the model's top K (needs --run and --choices)")
    time_limit: float = option(0.0, help="seconds per drawing (0: none); a timeout is stored as a skip", min=0,
                               metavar="S")
    feedback: bool = option(True, help="right/wrong feedback and a running score after each answer")
    ink: int = option(100, help="show each drawing's first PCT% of its ink (25, 50, 75; needs strokes)", min=1,
                      max=100, metavar="PCT")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able settings."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuizConfig:
        """Settings from to_dict() output (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})

    def check(self) -> None:
        """Raise ConfigError for settings that cannot make a quiz (before any data is read): each value by its
        declaration, with the line `qdtui quiz` gives for the same flag."""
        if not (self.participant or "").strip():
            raise ConfigError("the participant name is empty: pass --name NAME")
        for f in fields_of(QuizConfig):
            check(f, getattr(self, f.name), "")
        if self.hard and self.run is None:
            raise ConfigError("hard mode offers a model's top guesses: quiz on a run's test split (--run RUN)")


@dataclass(frozen=True)
class QuizItem:
    """One drawing of a quiz and the candidates offered for it."""

    index: int
    image: np.ndarray = field(repr=False, compare=False)  # uint8 (28, 28)
    truth: str
    provenance: str  # 'file#row', the key that matches a model's predictions
    choices: tuple[str, ...]  # candidates in key order (1..9, 0); empty: any class, typed


@dataclass
class QuizItems:
    """The drawings of a quiz, built deterministically from a QuizConfig."""

    config: QuizConfig
    items: list[QuizItem]
    classes: list[str]  # every answer a participant may give
    source: str  # one line naming where the drawings came from
    synthetic: bool
    data_fingerprint: str  # the run's fingerprint, or the pool DrawingSet's
    fingerprint: str = ""  # of the items themselves: a resume must rebuild exactly these
    label: str = ""  # short: 'demo (synthetic) · 12 classes', 'run 3 test split'
    model_at_ink: dict[str, str] = field(default_factory=dict)  # prefix quiz on a run: provenance -> model's top-1

    def __len__(self) -> int:
        return len(self.items)

    @property
    def keyed(self) -> bool:
        """Whether answers are number keys (candidates fit), rather than typing a class name."""
        return bool(self.items) and bool(self.items[0].choices)

    def describe(self) -> dict[str, Any]:
        """What the store keeps beside the settings (so reports need not rebuild the items)."""
        return {"quiz": self.config.to_dict(), "classes": self.classes, "n_items": len(self.items),
                "source": self.source, "label": self.label or self.source, "synthetic": self.synthetic, "data_fingerprint": self.data_fingerprint,
                "fingerprint": self.fingerprint, **({"model_at_ink": self.model_at_ink} if self.model_at_ink else {})}


def _rng(seed: int, *keys: str) -> np.random.Generator:
    # crc32 (not hash()) keeps the stream the same across processes: a resume rebuilds the same quiz.
    return np.random.default_rng([int(seed), *(zlib.crc32(k.encode()) for k in keys)])


def run_predictions_path(store: Store, run_id: int) -> Path:
    """Where a run's test predictions are (the run must exist)."""
    return run_file(store.run_dir(int(run_id), create=False))


def load_run_predictions(store: Store, run_id: int) -> Predictions:
    """A run's test predictions; ConfigError when it has none to quiz on."""
    path = run_predictions_path(store, run_id)
    if not path.exists():
        raise ConfigError(f"run {run_id} has no test predictions ({path}): evaluate it with 'qd eval {run_id}', "
                          "or quiz on --data instead")
    preds = Predictions.load(path)
    if len(preds) == 0:
        raise ConfigError(f"run {run_id}'s test split is empty ({path}): train with --test > 0, or quiz on --data")
    return preds


def load_run_predictions_light(store: Store, run_id: int) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(classes, labels, predicted, provenance) of a run's test predictions, without decompressing the drawings."""
    path = run_predictions_path(store, run_id)
    if not path.exists():
        raise ConfigError(f"run {run_id} has no test predictions ({path}): evaluate it with 'qd eval {run_id}'")
    redo = f"re-run 'qd eval {run_id}'"
    try:
        classes, labels, predicted, provenance = predictions.outcomes(path)
    except StoreError as e:
        raise ConfigError(str(e).replace("'qd eval RUN'", f"'qd eval {run_id}'")) from None
    except (ValueError, TypeError) as e:  # arrays of the wrong shape or kind
        raise ConfigError(f"{path} is not a readable predictions file ({str(e).splitlines()[0][:120]}); {redo}") from None
    n = len(labels)
    if len(predicted) != n or len(provenance) != n or (n and (labels.min() < 0 or labels.max() >= len(classes)
                                                               or predicted.max() >= len(classes))):
        raise ConfigError(f"{path} has labels, probabilities and provenance that do not fit together; {redo}")
    return classes, labels, predicted, provenance


def _stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices spread evenly over the classes present (counts differ by at most one where possible)."""
    pools = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    picked: list[int] = []
    depth = 0
    while len(picked) < n:
        order = rng.permutation(len(pools))
        for k in order:
            if depth < len(pools[k]) and len(picked) < n:
                picked.append(int(pools[k][depth]))
        depth += 1
    return rng.permutation(np.array(picked, dtype=np.int64))


def _candidates(cfg: QuizConfig, classes: list[str], truth: int, index: int,
                probs: np.ndarray | None) -> tuple[str, ...]:
    """The classes offered for one drawing, in class order (so the position never gives the truth away)."""
    c = len(classes)
    k = cfg.choices if cfg.choices is not None else (min(HARD_DEFAULT_K, c) if cfg.hard else None)
    if k is None:
        return tuple(classes) if c <= MAX_KEYS else ()
    k = min(k, c)
    if cfg.hard and probs is not None:
        top = [int(i) for i in np.argsort(-probs, kind="stable")[:k]]
        if truth not in top:
            top[-1] = truth  # the truth is always among the candidates
        chosen = set(top)
    else:
        others = [i for i in range(c) if i != truth]
        rng = _rng(cfg.seed, "quiz-choices", str(index))
        chosen = {truth, *(int(i) for i in rng.choice(others, size=k - 1, replace=False))}
    return tuple(classes[i] for i in sorted(chosen))


def _items_fingerprint(items: list[QuizItem]) -> str:
    h = hashlib.sha1()
    for it in items:
        h.update(f"{it.index}|{it.truth}|{it.provenance}|{','.join(it.choices)}\n".encode())
        h.update(np.ascontiguousarray(it.image).tobytes())
    return h.hexdigest()[:16]


def build_items(cfg: QuizConfig, store: Store | None = None) -> QuizItems:
    """The quiz's drawings and candidates: the same config always gives the same items."""
    cfg.check()
    if cfg.run is not None:
        if store is None:
            raise ValueError("a quiz on a run's test split needs the store")
        return _from_run(cfg, cfg.run, store)
    return _from_data(cfg)


def _not_enough(cfg: QuizConfig, have: int, where: str) -> ConfigError:
    return ConfigError(f"asked for {cfg.n} drawings but {where} holds {have}: use --n {have} or fewer")


def _from_data(cfg: QuizConfig) -> QuizItems:
    source = open_source(cfg.data)
    available = source.categories()
    if not available:
        raise DataError(f"no drawings found in {source.location}; download some with 'qd data download' "
                        "or use --data demo")
    chosen = chosen_categories(cfg.categories, available)
    missing = [c for c in chosen if c not in available]
    if missing:
        raise DataError(f"{source.location} has no drawings of {', '.join(repr(m) for m in missing)}")
    counts = {c: int(source.count(c)) for c in chosen}
    total = sum(counts.values())
    where = f"{source.location}" + (f" ({len(chosen)} categories)" if cfg.categories else "")
    if cfg.n > total:
        raise _not_enough(cfg, total, where)
    if cfg.per_class is not None:
        per = cfg.per_class
        short = [c for c in chosen if counts[c] < per]
        if short:
            raise DataError(f"--per-class {per} but {source.file_of(short[0])} has {counts[short[0]]} drawings: "
                            f"use --per-class {counts[short[0]]} or fewer")
        if cfg.n > per * len(chosen):
            raise _not_enough(cfg, per * len(chosen), f"the pool ({len(chosen)} categories x {per})")
    else:
        per = -(-cfg.n // len(chosen))  # just enough of each class for n drawings
        smallest = min(chosen, key=lambda c: counts[c])
        if counts[smallest] < per:
            most = counts[smallest] * len(chosen)
            raise ConfigError(f"{cfg.n} drawings over {len(chosen)} categories needs {per} of each but "
                              f"{smallest!r} has {counts[smallest]}: use --n {most} or fewer, or fewer --categories")
    pool = select(source, chosen, per, cfg.seed)
    idx = _stratified(pool.labels, cfg.n, _rng(cfg.seed, "quiz-order"))
    images, provenance = _shown(cfg, pool, idx, [pool.provenance(int(j)) for j in idx], source.describe())
    items = [QuizItem(i, images[i], pool.classes[int(pool.labels[j])],
                      provenance[i], _candidates(cfg, pool.classes, int(pool.labels[j]), i, None))
             for i, j in enumerate(idx)]
    where_from = cfg.data if cfg.data in ("demo", "cache") else Path(str(cfg.data)).name or str(cfg.data)
    label = f"{where_from}{' (synthetic)' if source.synthetic else ''} · {len(chosen)} classes"
    if cfg.ink < 100:
        label += f" · first {cfg.ink}% of the ink"
    return QuizItems(cfg, items, list(pool.classes), source.describe(), bool(source.synthetic),
                     pool.fingerprint(), _items_fingerprint(items), label)


def _from_run(cfg: QuizConfig, run_id: int, store: Store) -> QuizItems:
    run = store.get_run(int(run_id))
    preds = load_run_predictions(store, run.id)
    classes = list(preds.classes)
    keep = np.arange(len(preds))
    allowed = list(range(len(classes)))
    if cfg.categories:
        shown = ", ".join(classes[:12]) + (", …" if len(classes) > 12 else "")
        try:
            names = parse_categories(cfg.categories, allowed=classes) or []
        except DataError as e:
            raise ConfigError(f"run {run.id} was not trained on that: {e}; its classes: {shown}") from None
        outside = [c for c in names if c not in classes]
        if outside:
            raise ConfigError(f"run {run.id} was not trained on {', '.join(repr(c) for c in outside)}; "
                              f"its classes: {shown}")
        allowed = [classes.index(c) for c in names]
        keep = np.flatnonzero(np.isin(preds.labels, allowed))
    if cfg.n > len(keep):
        raise _not_enough(cfg, len(keep), f"run {run.id}'s test split" + (" (those categories)" if cfg.categories else ""))
    quiz_classes = [classes[i] for i in allowed]
    remap = {c: k for k, c in enumerate(allowed)}
    idx = keep[_stratified(preds.labels[keep], cfg.n, _rng(cfg.seed, "quiz-order", str(run.id)))]
    images, provenance, model_at_ink = _run_shown(cfg, store, run, preds, idx)
    items = []
    for i, j in enumerate(idx):
        truth = remap[int(preds.labels[j])]
        probs = np.asarray(preds.probs[j], dtype=np.float64)[allowed]
        items.append(QuizItem(i, images[i], quiz_classes[truth],
                              provenance[i], _candidates(cfg, quiz_classes, truth, i, probs)))
    synthetic = str(run.config.get("data", "")) in ("", "demo")
    source = f"run {run.id} ({run.name}) test split" + (" (synthetic demo drawings)" if synthetic else "")
    label = f"run {run.id} test split · {len(quiz_classes)} classes"
    if cfg.ink < 100:
        label += f" · first {cfg.ink}% of the ink"
    return QuizItems(cfg, items, quiz_classes, source, synthetic, run.fingerprint or "", _items_fingerprint(items),
                     label, model_at_ink)


def prefix_provenance(provenance: str, ink: int) -> str:
    """A drawing's key when only its first `ink` percent is shown: answers on it never count as on the whole."""
    return provenance if ink >= 100 else f"{provenance}@{ink}%ink"


def _prefix_images(drawings: list | None, ink: int, where: str) -> tuple[np.ndarray, list]:
    """uint8 (n, 28, 28) of each drawing's first `ink` percent of ink (cut exactly, rasterised as the data set's),
    and those prefixes."""
    if not drawings or any(d is None for d in drawings):
        raise ConfigError(f"showing the first {ink}% of the ink needs strokes, but {where} holds bitmaps only; "
                          "quiz on stroke files (.ndjson/.bin) or a run trained on them, or use --ink 100")
    prefixes = [ink_prefix(d, ink / 100) for d in drawings]
    return rasterize_many([p.simplified() for p in prefixes], 28), prefixes


def _shown(cfg: QuizConfig, ds: Any, rows: np.ndarray, provenance: list[str], where: str
           ) -> tuple[list[np.ndarray], list[str]]:
    """The images shown for rows of a DrawingSet (whole, or their first cfg.ink percent) and their keys."""
    if cfg.ink >= 100:
        return [np.ascontiguousarray(ds.images[int(j)]).reshape(28, 28) for j in rows], provenance
    images, _ = _prefix_images(ds.drawings(np.asarray(rows, np.int64)), cfg.ink, where)
    return list(images), [prefix_provenance(p, cfg.ink) for p in provenance]


def _run_shown(cfg: QuizConfig, store: Store, run: Any, preds: Predictions, idx: np.ndarray
               ) -> tuple[list[np.ndarray], list[str], dict[str, str]]:
    """A run's test drawings as shown, and for prefixes the run's model's top-1 on exactly those images."""
    whole = [preds.provenance[int(j)] for j in idx]
    if cfg.ink >= 100:
        return [np.ascontiguousarray(preds.images[int(j)]).reshape(28, 28) for j in idx], whole, {}

    test = run_test_split(run)
    row_of = {test.provenance(i): i for i in range(len(test))}
    missing = [p for p in whole if p not in row_of]
    if missing:
        raise DataError(f"run {run.id}'s test split no longer holds {missing[0]!r}; re-run 'qd eval {run.id}'")
    rows = np.array([row_of[p] for p in whole], np.int64)
    images, prefixes = _prefix_images(test.drawings(rows), cfg.ink, f"run {run.id}'s test split")
    predict, classes = predictor_of(store, run.id)
    top = np.asarray(predict(Drawings(images, prefixes))).argmax(1)
    keys = [prefix_provenance(p, cfg.ink) for p in whole]
    return list(images), keys, {k: str(classes[int(t)]) for k, t in zip(keys, top)}


@dataclass(frozen=True)
class Score:
    """Where a participant stands in a session."""

    correct: int
    answered: int  # given an answer (not skipped)
    skipped: int
    total: int  # drawings in the quiz

    @property
    def done(self) -> int:
        """Drawings answered or skipped."""
        return self.answered + self.skipped

    @property
    def top1(self) -> float | None:
        """Right answers over drawings shown (a skip counts as wrong: a model never abstains)."""
        return self.correct / self.done if self.done else None


@dataclass
class QuizSession:
    """One participant working through a quiz; every answer is in the store the moment it is given."""

    store: Store
    id: int
    items: QuizItems
    answers: list[QuizAnswer] = field(default_factory=list)

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    def start(cls, store: Store, cfg: QuizConfig, items: QuizItems | None = None) -> QuizSession:
        """Build the items (unless given) and open a new session in the store."""
        cfg.participant = (cfg.participant or "").strip()
        items = items if items is not None else build_items(cfg, store)
        sid = store.create_quiz_session(cfg.participant, items.describe(), run_id=cfg.run)
        return cls(store, sid, items, [])

    @classmethod
    def resume(cls, store: Store, session_id: int, participant: str | None = None,
               items: QuizItems | None = None) -> QuizSession:
        """Reopen a session: the items are rebuilt from its settings and checked against what was stored."""
        rec = store.quiz_session(int(session_id))
        if participant is not None and participant.strip() != rec.participant:
            raise ConfigError(f"quiz session {rec.id} belongs to {rec.participant!r}, not {participant.strip()!r}")
        if rec.ended is not None:
            raise ConfigError(f"quiz session {rec.id} is finished; start a new quiz")
        cfg = QuizConfig.from_dict(rec.config.get("quiz", {}))
        cfg.participant = rec.participant
        if items is None:
            items = build_items(cfg, store)
        want = rec.config.get("fingerprint")
        if want and items.fingerprint != want:
            raise DataError(f"the drawings of quiz session {rec.id} changed since it started ({items.source}); "
                            "start a new quiz")
        return cls(store, rec.id, items, store.quiz_answers(session=rec.id))

    # -- state --------------------------------------------------------------------------------

    @property
    def config(self) -> QuizConfig:
        """The session's settings."""
        return self.items.config

    @property
    def participant(self) -> str:
        """Whose quiz this is."""
        return self.config.participant

    @property
    def position(self) -> int:
        """Index of the drawing on show (== len(items) when all are done)."""
        done = {a.item for a in self.answers}
        return next((i for i in range(len(self.items)) if i not in done), len(self.items))

    @property
    def current(self) -> QuizItem | None:
        """The drawing to answer now, or None when the quiz is complete."""
        pos = self.position
        return self.items.items[pos] if pos < len(self.items) else None

    @property
    def complete(self) -> bool:
        """Whether every drawing has an answer or a skip."""
        return self.current is None

    def score(self) -> Score:
        """Right, answered, skipped and total so far."""
        correct = sum(a.correct for a in self.answers)
        skipped = sum(a.skipped for a in self.answers)
        return Score(correct, len(self.answers) - skipped, skipped, len(self.items))

    def progress(self) -> tuple[int, int]:
        """(drawings done, drawings in the quiz)."""
        return len(self.answers), len(self.items)

    # -- answering ----------------------------------------------------------------------------

    def _record(self, answer: str | None, ms: float, skipped: bool) -> QuizAnswer:
        item = self.current
        if item is None:
            raise ConfigError(f"quiz session {self.id} is complete: nothing left to answer")
        ms = max(0.0, float(ms))
        aid = self.store.add_quiz_answer(self.id, item.provenance, item.truth, answer, list(item.choices), ms,
                                         skipped=skipped, item=item.index)
        rec = QuizAnswer(aid, self.id, self.participant, item.index, item.provenance, item.truth,
                         None if skipped else answer, list(item.choices), ms, skipped, time.time())
        self.answers.append(rec)
        return rec

    def answer(self, label: str, ms: float) -> QuizAnswer:
        """Answer the current drawing with a class name; stored at once."""
        item = self.current
        if item is None:
            raise ConfigError(f"quiz session {self.id} is complete: nothing left to answer")
        allowed = item.choices or tuple(self.items.classes)
        if label not in allowed:
            raise ConfigError(f"{label!r} is not a choice for this drawing; choose one of {', '.join(allowed)}")
        return self._record(label, ms, skipped=False)

    def answer_key(self, key: int, ms: float) -> QuizAnswer:
        """Answer with number key 1..9 or 0 (the tenth candidate)."""
        item = self.current
        if item is None or not item.choices:
            raise ConfigError("this quiz is answered by typing a category name, not with number keys")
        pos = 9 if key == 0 else key - 1
        if not 0 <= pos < len(item.choices):
            raise ConfigError(f"key {key} has no candidate; press 1 to {len(item.choices) % 10}")
        return self._record(item.choices[pos], ms, skipped=False)

    def skip(self, ms: float) -> QuizAnswer:
        """Skip the current drawing (also what a timeout records); stored at once."""
        return self._record(None, ms, skipped=True)

    def undo(self) -> QuizAnswer | None:
        """Remove the last answer from the store and go back to its drawing."""
        if self.store.quiz_session(self.id).ended is not None:
            raise ConfigError(f"quiz session {self.id} is finished; its answers can no longer change")
        removed = self.store.delete_last_quiz_answer(self.id)
        if removed is not None:
            self.answers = [a for a in self.answers if a.id != removed.id]
        return removed

    def finish(self) -> None:
        """Close the session (no more answers or undo); a complete quiz is closed when the user leaves it."""
        self.store.finish_quiz_session(self.id)


def open_sessions(store: Store, participant: str | None = None) -> list[Any]:
    """Unfinished sessions (not ended and with drawings left), newest first."""
    out = []
    for s in store.quiz_sessions(participant=participant, open_only=True):
        n_items = int(s.config.get("n_items") or s.config.get("quiz", {}).get("n") or 0)
        if not n_items or s.answered < n_items:
            out.append(s)
    return out[::-1]


def known_participant(store: Store, participant: str | None, flag: str, after: str = "") -> str:
    """The name without surrounding spaces; ConfigError when it is empty or nobody by it has taken a quiz
    (naming the people who have, then `after`)."""
    name = (participant or "").strip()
    if not name:
        raise ConfigError(f"the participant name is empty: pass {flag} NAME")
    known = store.quiz_participants()
    if name not in known:
        hint = f"participants: {', '.join(known)}" if known else "nobody has taken a quiz yet"
        raise ConfigError(f"no quiz by {name!r} in {store.home} ({hint}){after}")
    return name


def resume_latest(store: Store, participant: str) -> QuizSession:
    """Resume a participant's most recent unfinished quiz; ConfigError naming the choices when there is none."""
    name = known_participant(store, participant, "--name", "; start a new one instead")
    open_ = open_sessions(store, name)
    if not open_:
        raise ConfigError(f"{name!r} has no unfinished quiz; start a new one")
    return QuizSession.resume(store, open_[0].id, name)


def quiz_runs(store: Store, limit: int = 50) -> list[tuple[Any, int]]:
    """Recent runs with test predictions to quiz on, each with its number of test drawings."""
    out = []
    for run in store.list_runs(limit=limit):
        path = predictions.run_file(store.home / "runs" / str(run.id))
        if not path.is_file():
            continue
        try:
            n = predictions.count(path)  # reads one small member, not the drawings
        except (StoreError, TypeError, IndexError):  # an unreadable predictions file just is not offered
            continue
        if n:
            out.append((run, n))
    return out
