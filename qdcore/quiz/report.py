"""Quiz results: human top-1 with Wilson intervals, the humans' confusion matrix, people vs a model, a leaderboard."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from qdcore import predictions
from qdcore.errors import ConfigError, StoreError
from qdcore.quiz.session import known_participant, load_run_predictions_light, run_predictions_path
from qdcore.stats import McNemar, mcnemar, wilson_interval

if TYPE_CHECKING:
    from qdcore.store import QuizAnswer, Store

# Skips and timeouts count as wrong everywhere: a model never abstains, so people may not either.


@dataclass(frozen=True)
class Accuracy:
    """k right out of n shown, with a 95% Wilson interval."""

    correct: int
    total: int
    top1: float | None
    lo: float | None
    hi: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return asdict(self)


def accuracy(k: int, n: int) -> Accuracy:
    """Accuracy of k in n (top1/lo/hi None when n is 0)."""
    if n <= 0:
        return Accuracy(0, 0, None, None, None)
    lo, hi = wilson_interval(k, n)
    return Accuracy(int(k), int(n), k / n, lo, hi)


@dataclass(frozen=True)
class CategoryRow:
    """Human accuracy on one true category."""

    category: str
    accuracy: Accuracy
    skipped: int
    top_mistake: str | None  # the wrong answer given most often

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {"category": self.category, **self.accuracy.as_dict(), "skipped": self.skipped,
                "top_mistake": self.top_mistake}


@dataclass(frozen=True)
class Confusion:
    """Rows: true class; columns: the answer given; `skipped` per true class."""

    classes: list[str]
    matrix: list[list[int]]
    skipped: list[int]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return asdict(self)

    def pairs(self, limit: int = 10) -> list[tuple[str, str, int]]:
        """The most frequent mistakes: (truth, answer, count), largest first."""
        out = [(self.classes[r], self.classes[c], v) for r, row in enumerate(self.matrix)
               for c, v in enumerate(row) if r != c and v]
        return sorted(out, key=lambda t: (-t[2], t[0], t[1]))[:limit]


@dataclass(frozen=True)
class LeaderRow:
    """One participant on the leaderboard."""

    rank: int
    participant: str
    sessions: int
    accuracy: Accuracy
    skipped: int
    median_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {"rank": self.rank, "participant": self.participant, "sessions": self.sessions,
                **self.accuracy.as_dict(), "skipped": self.skipped, "median_ms": self.median_ms}


@dataclass(frozen=True)
class VsModel:
    """People and one model on the same drawings (matched by provenance), as paired outcomes."""

    run_id: int
    run_name: str
    matched: int  # answers on drawings the model also classified
    unmatched: int  # answers on drawings outside the run's test predictions
    both_right: int
    only_people: int
    only_model: int
    both_wrong: int
    people: Accuracy
    model: Accuracy
    test: McNemar

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        d = {k: getattr(self, k) for k in ("run_id", "run_name", "matched", "unmatched", "both_right",
                                           "only_people", "only_model", "both_wrong")}
        d["people"] = self.people.as_dict()
        d["model"] = self.model.as_dict()
        d["mcnemar"] = asdict(self.test)
        return d


@dataclass
class QuizReport:
    """Every figure of `qd quiz report` and the results screen."""

    scope: dict[str, Any]
    answers: int
    participants: list[str]
    overall: Accuracy
    skipped: int
    per_category: list[CategoryRow]
    confusion: Confusion
    leaderboard: list[LeaderRow]
    vs_model: VsModel | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The whole report as JSON-able dicts and lists."""
        return {"scope": self.scope, "answers": self.answers, "participants": self.participants,
                "overall": self.overall.as_dict(), "skipped": self.skipped,
                "per_category": [r.as_dict() for r in self.per_category],
                "confusion": self.confusion.as_dict(),
                "leaderboard": [r.as_dict() for r in self.leaderboard],
                "vs_model": None if self.vs_model is None else self.vs_model.as_dict(),
                "notes": list(self.notes)}


# -- pure computations on answers ----------------------------------------------------------------


def per_category(answers: Iterable[QuizAnswer]) -> list[CategoryRow]:
    """Accuracy per true category, sorted by name."""
    right: Counter[str] = Counter()
    shown: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    wrong: dict[str, Counter[str]] = defaultdict(Counter)
    for a in answers:
        shown[a.truth] += 1
        right[a.truth] += a.correct
        skipped[a.truth] += a.skipped
        if not a.skipped and not a.correct and a.answer is not None:
            wrong[a.truth][a.answer] += 1
    rows = []
    for cat in sorted(shown):
        mistakes = wrong.get(cat)
        top = min(mistakes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if mistakes else None
        rows.append(CategoryRow(cat, accuracy(right[cat], shown[cat]), skipped[cat], top))
    return rows


def confusion(answers: Iterable[QuizAnswer], classes: list[str] | None = None) -> Confusion:
    """The humans' confusion matrix over the given classes (plus any truth or answer seen), skips apart."""
    answers = list(answers)
    names = set(classes or [])
    for a in answers:
        names.add(a.truth)
        if a.answer is not None and not a.skipped:
            names.add(a.answer)
    order = sorted(names)
    pos = {c: i for i, c in enumerate(order)}
    m = np.zeros((len(order), len(order)), dtype=np.int64)
    skipped = np.zeros(len(order), dtype=np.int64)
    for a in answers:
        if a.skipped or a.answer is None:
            skipped[pos[a.truth]] += 1
        else:
            m[pos[a.truth], pos[a.answer]] += 1
    return Confusion(order, m.tolist(), skipped.tolist())


def leaderboard(answers: Iterable[QuizAnswer]) -> list[LeaderRow]:
    """Participants by top-1 (then more answers, then name); ties in top-1 and n share a rank."""
    by: dict[str, list[QuizAnswer]] = defaultdict(list)
    for a in answers:
        by[a.participant].append(a)
    rows = []
    for name, items in by.items():
        ms = [a.ms for a in items if not a.skipped]
        rows.append((name, len({a.session for a in items}), accuracy(sum(a.correct for a in items), len(items)),
                     sum(a.skipped for a in items), statistics.median(ms) if ms else None))
    rows.sort(key=lambda r: (-(r[2].top1 or 0.0), -r[2].total, r[0]))
    out: list[LeaderRow] = []
    for i, (name, sessions, acc, skipped, med) in enumerate(rows):
        rank = out[-1].rank if out and (out[-1].accuracy.top1, out[-1].accuracy.total) == (acc.top1, acc.total) \
            else i + 1
        out.append(LeaderRow(rank, name, sessions, acc, skipped, med))
    return out


@dataclass(frozen=True)
class ModelOutcomes:
    """A run's test outcome per drawing: provenance -> (truth, predicted) class names."""

    run_id: int
    run_name: str
    by_provenance: dict[str, tuple[str, str]]


def model_outcomes(store: Store, run_id: int) -> ModelOutcomes:
    """Read a run's predictions (without its drawings) keyed by provenance."""
    run = store.get_run(int(run_id))
    classes, labels, predicted, prov = load_run_predictions_light(store, run.id)
    table = {p: (classes[int(t)], classes[int(q)]) for p, t, q in zip(prov, labels, predicted)}
    return ModelOutcomes(run.id, run.name, table)


def vs_model(answers: Iterable[QuizAnswer], outcomes: ModelOutcomes) -> VsModel:
    """Pair each human answer with the model's prediction on the same drawing (answers on other drawings are left out)."""
    both = only_p = only_m = neither = unmatched = 0
    for a in answers:
        hit = outcomes.by_provenance.get(a.drawing)
        if hit is None or hit[0] != a.truth:
            unmatched += 1
            continue
        model_right = hit[1] == hit[0]
        if a.correct and model_right:
            both += 1
        elif a.correct:
            only_p += 1
        elif model_right:
            only_m += 1
        else:
            neither += 1
    n = both + only_p + only_m + neither
    return VsModel(outcomes.run_id, outcomes.run_name, n, unmatched, both, only_p, only_m, neither,
                   accuracy(both + only_p, n), accuracy(both + only_m, n), mcnemar(only_p, only_m))


# -- from the store --------------------------------------------------------------------------------


def select_answers(store: Store, participant: str | None = None, session: int | None = None,
                   source_run: int | None = None) -> list[QuizAnswer]:
    """Answers for a report's scope; ConfigError for an unknown participant (naming the known ones)."""
    if participant is not None:
        participant = known_participant(store, participant, "--participant")
    if session is not None:
        rec = store.quiz_session(session)  # StoreError when missing
        if participant is not None and rec.participant != participant:
            raise ConfigError(f"quiz session {session} belongs to {rec.participant!r}, not {participant!r}")
    return store.quiz_answers(session=session, participant=participant, run_id=source_run)


def build_report(store: Store, participant: str | None = None, run: int | None = None,
                 session: int | None = None) -> QuizReport:
    """The report over the chosen answers; `run` (or the single run all sessions quizzed on) is the model compared."""
    answers = select_answers(store, participant, session)
    sessions = {s.id: s for s in store.quiz_sessions(participant=participant)}
    used = [sessions[i] for i in sorted({a.session for a in answers}) if i in sessions]
    classes = sorted({c for s in used for c in s.config.get("classes", [])}) if len(used) == 1 else None
    notes: list[str] = []
    compare = run
    if compare is None:
        runs = {s.run_id for s in used}
        if len(runs) == 1 and None not in runs:
            compare = runs.pop()
    if run is not None and not store.has_run(run):
        store.get_run(run)  # raises the store's one-line 'no run' error
    versus = None
    if compare is not None:
        try:
            outcomes = model_outcomes(store, compare)
            # Quizzes that showed the first part of the ink: the model's answer on exactly those images.
            truth = {a.drawing: a.truth for a in answers}
            for s in used:
                if s.run_id == compare:
                    outcomes.by_provenance.update({k: (truth.get(k, ""), v)
                                                   for k, v in s.config.get("model_at_ink", {}).items()})
            versus = vs_model(answers, outcomes)
        except ConfigError:
            if run is not None:
                raise
            notes.append(f"run {compare} has no test predictions: no people-vs-model comparison")
        if versus is not None and versus.matched == 0 and answers:
            notes.append(f"no quiz answer is on a drawing of run {compare}'s test split")
    if any(s.config.get("synthetic") for s in used):
        notes.append("some answers are on synthetic demo drawings")
    modes = {_mode(s.config) for s in used}
    if len(modes) > 1:
        notes.append(f"sessions mix answer modes ({', '.join(sorted(modes))}); multiple choice is easier")
    inks = sorted({int(s.config.get("quiz", {}).get("ink", 100)) for s in used})
    if len(inks) > 1:
        notes.append(f"sessions show different shares of the ink ({', '.join(f'{i}%' for i in inks)}); "
                     "report one with --session")
    scope = {"participant": participant, "session": session, "run": compare, "sessions": [s.id for s in used]}
    return QuizReport(
        scope=scope, answers=len(answers), participants=sorted({a.participant for a in answers}),
        overall=accuracy(sum(a.correct for a in answers), len(answers)), skipped=sum(a.skipped for a in answers),
        per_category=per_category(answers), confusion=confusion(answers, classes),
        leaderboard=leaderboard(answers), vs_model=versus, notes=notes)


def _mode(config: dict[str, Any]) -> str:
    quiz = config.get("quiz", {})
    k = quiz.get("choices")
    if quiz.get("hard"):
        return f"hard top-{k or 4}"
    if k:
        return f"{k} choices"
    n = len(config.get("classes", []))
    return f"all {n} classes" if n else "all classes"


def session_mode(config: dict[str, Any]) -> str:
    """How a session was answered: 'all 10 classes', '4 choices', 'hard top-4'."""
    return _mode(config)


@dataclass(frozen=True)
class Baseline:
    """Human top-1 on a run's (or a data fingerprint's) drawings, for showing beside model accuracy."""

    accuracy: Accuracy
    participants: int
    model: Accuracy | None = None  # the model on exactly the drawings people answered

    @property
    def top1(self) -> float | None:
        """Human top-1."""
        return self.accuracy.top1

    def as_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {**self.accuracy.as_dict(), "participants": self.participants,
                "model": None if self.model is None else self.model.as_dict()}


def human_baseline(store: Store, run: int | None = None, fingerprint: str | None = None) -> Baseline | None:
    """Human accuracy on a run's test drawings (matched by provenance) or on quizzes of a data fingerprint; None if none."""
    if run is None and not fingerprint:
        raise ValueError("human_baseline needs a run id or a data fingerprint")
    if not store.quiz_participants():
        return None  # no quiz was ever taken: skip reading predictions
    if run is not None:
        store.get_run(int(run))  # the store's one-line 'no run' error
        return _run_baseline(store, int(run), store.quiz_answers())
    fp = str(fingerprint)
    ids = {s.id for s in store.quiz_sessions()
           if fp in (s.config.get("data_fingerprint"), s.config.get("fingerprint"))
           or str(s.config.get("data_fingerprint", "")).split("-")[-1] == fp.split("-")[-1]}
    answers = [a for a in store.quiz_answers() if a.session in ids]
    if not answers:
        return None
    return Baseline(accuracy(sum(a.correct for a in answers), len(answers)), len({a.participant for a in answers}))


def human_baselines(store: Store, runs: Iterable[int]) -> dict[int, Baseline]:
    """human_baseline(store, run=r) for many runs (the runs table): answers read once; only runs with one are keys."""
    if not store.quiz_participants():
        return {}  # the common case: one cheap query, no predictions read
    answers = store.quiz_answers()
    if not answers:
        return {}
    out: dict[int, Baseline] = {}
    for rid in runs:
        base = _run_baseline(store, int(rid), answers)
        if base is not None:
            out[int(rid)] = base
    return out


def _answered_drawings(store: Store, run_id: int, drawings: set[str]) -> bool | None:
    """Whether any of a run's test drawings is in `drawings` (reads provenance only); None if it has no readable predictions."""
    try:
        return not drawings.isdisjoint(predictions.provenance(run_predictions_path(store, run_id)))
    except (StoreError, TypeError):  # unreadable, or not a list of drawings: counts as none
        return None


def _run_baseline(store: Store, run_id: int, answers: list[QuizAnswer]) -> Baseline | None:
    """People vs the run's model on the drawings both saw; without predictions, the answers of quizzes on the run."""
    seen = _answered_drawings(store, run_id, {a.drawing for a in answers})
    if seen is False:
        return None  # nobody answered one of its drawings: its probabilities need not be read
    outcomes = None
    if seen:
        try:
            outcomes = model_outcomes(store, run_id)
        except ConfigError:
            outcomes = None
    if outcomes is not None:
        versus = vs_model(answers, outcomes)
        if versus.matched == 0:
            return None
        people = {a.participant for a in answers
                  if outcomes.by_provenance.get(a.drawing, ("",))[0] == a.truth}  # the answers vs_model matched
        return Baseline(versus.people, len(people), versus.model)
    sessions = {s.id for s in store.quiz_sessions(run_id=run_id)}
    mine = [a for a in answers if a.session in sessions]
    if not mine:
        return None
    return Baseline(accuracy(sum(a.correct for a in mine), len(mine)), len({a.participant for a in mine}))
