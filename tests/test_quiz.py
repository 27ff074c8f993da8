"""Quiz sessions (items, answers, undo, resume) and report figures against hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import hand_wilson

from qdcore.errors import ConfigError, DataError, QDError, StoreError
from qdcore.predictions import Predictions
from qdcore.quiz.report import accuracy, build_report, confusion, human_baseline, leaderboard, per_category
from qdcore.quiz.session import QuizConfig, QuizSession, build_items, open_sessions, quiz_runs, resume_latest
from qdcore.store import Store

DEMO3 = "circle,star,moon"
CLASSES = ["apple", "bee", "cat"]


@pytest.fixture
def store(tmp_path) -> Store:
    with Store(tmp_path / "home") as s:
        yield s


def save_run(store: Store, labels, predicted, classes=CLASSES, name="tiny", save=True) -> int:
    """A run whose test predictions put probability 0.7 on `predicted` for each drawing."""
    labels = np.asarray(labels, dtype=np.int64)
    n, c = len(labels), len(classes)
    probs = np.full((n, c), 0.3 / (c - 1), np.float32)
    probs[np.arange(n), np.asarray(predicted)] = 0.7
    images = np.zeros((n, 28, 28), np.uint8)
    images[np.arange(n), np.arange(n) % 28, :] = 255  # each drawing differs
    rid = store.create_run(name, "classifier", {"data": "demo"}, fingerprint="aaaa-bbbb-cccc")
    if save:
        Predictions(probs, labels, list(classes), images, [f"t.npy#{i}" for i in range(n)]).save(
            store.run_dir(rid) / "predictions.npz")
    store.finish_run(rid, "done", {"test_top1": float(np.mean(labels == np.asarray(predicted)))})
    return rid


# -- config checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cfg, words", [
    (QuizConfig(participant="  "), "participant name is empty"),
    (QuizConfig(participant="a", n=0), "--n=0 must be a whole number >= 1"),
    (QuizConfig(participant="a", choices=1), "--choices=1 must be a whole number >= 2 and <= 10"),
    (QuizConfig(participant="a", choices=11), "--choices=11 must be a whole number >= 2 and <= 10"),
    (QuizConfig(participant="a", hard=True), "--run"),
    (QuizConfig(participant="a", time_limit=-1), "time-limit"),
])
def test_config_errors_are_one_line(cfg, words):
    with pytest.raises(ConfigError) as e:
        cfg.check()
    assert words in str(e.value) and "\n" not in str(e.value)


def test_config_round_trips_through_a_dict():
    cfg = QuizConfig(participant="ann", n=7, categories=DEMO3, run=3, seed=5, choices=4, hard=True,
                     time_limit=2.5, feedback=False)
    assert QuizConfig.from_dict({**cfg.to_dict(), "unknown": 1}) == cfg


# -- items from the demo data ---------------------------------------------------------------------


def test_demo_items_are_deterministic_and_balanced():
    a = build_items(QuizConfig(participant="ann", n=7, categories=DEMO3, seed=3))
    b = build_items(QuizConfig(participant="someone else", n=7, categories=DEMO3, seed=3))
    c = build_items(QuizConfig(participant="ann", n=7, categories=DEMO3, seed=4))
    assert [i.provenance for i in a.items] == [i.provenance for i in b.items]
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a.items, b.items))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert len(a) == 7 and len({i.provenance for i in a.items}) == 7
    counts = sorted(sum(i.truth == k for i in a.items) for k in DEMO3.split(","))
    assert counts == [2, 2, 3]
    # <= 10 classes: every class is a numbered candidate, in class order; the truth is one of them.
    assert a.keyed and all(i.choices == ("circle", "star", "moon") for i in a.items)
    assert a.synthetic and a.classes == ["circle", "star", "moon"]
    for it in a.items:  # the drawing is the one its provenance names
        cat, row = it.provenance.removeprefix("demo:").split("#")
        from qdcore.data.demo import DemoSource

        assert cat == it.truth
        assert np.array_equal(DemoSource().read(cat, np.array([int(row)]))[0].reshape(28, 28), it.image)


def test_multiple_choice_offers_k_candidates_with_the_truth():
    items = build_items(QuizConfig(participant="a", n=6, categories=DEMO3, choices=2, seed=1)).items
    assert all(len(i.choices) == 2 and i.truth in i.choices for i in items)
    order = ["circle", "star", "moon"]
    assert all(list(i.choices) == sorted(i.choices, key=order.index) for i in items)  # position gives nothing away
    assert len({i.choices for i in items}) > 1  # the distractor varies


def test_more_drawings_than_exist_is_a_clear_error():
    with pytest.raises(ConfigError, match="asked for 6001 drawings but .* holds 6000"):
        build_items(QuizConfig(participant="a", n=6001, categories=DEMO3))
    with pytest.raises(ConfigError, match="holds 6: use --n 6 or fewer"):
        build_items(QuizConfig(participant="a", n=7, categories=DEMO3, per_class=2))
    with pytest.raises(QDError, match="did you mean"):
        build_items(QuizConfig(participant="a", n=3, categories="circel"))


# -- items from a run's test split --------------------------------------------------------------------


def test_run_items_and_hard_mode(store):
    labels = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    predicted = [0, 2, 2, 1, 1, 0, 0, 1, 2]
    rid = save_run(store, labels, predicted)
    items = build_items(QuizConfig(participant="a", n=9, run=rid, hard=True, choices=2), store)
    assert items.classes == CLASSES and items.data_fingerprint == "aaaa-bbbb-cccc"
    assert sorted(i.provenance for i in items.items) == sorted(f"t.npy#{i}" for i in range(9))
    for it in items.items:
        j = int(it.provenance.split("#")[1])
        assert it.truth == CLASSES[labels[j]]
        assert it.truth in it.choices and len(it.choices) == 2
        assert CLASSES[predicted[j]] in it.choices  # the model's top guess is always offered
    again = build_items(QuizConfig(participant="b", n=9, run=rid, hard=True, choices=2), store)
    assert again.fingerprint == items.fingerprint


def test_run_errors(store):
    bare = save_run(store, [0, 1], [0, 1], save=False)
    with pytest.raises(ConfigError, match=f"run {bare} has no test predictions"):
        build_items(QuizConfig(participant="a", n=1, run=bare), store)
    with pytest.raises(StoreError, match="no run 99"):
        build_items(QuizConfig(participant="a", n=1, run=99), store)
    rid = save_run(store, [0, 1, 2], [0, 1, 2])
    with pytest.raises(ConfigError, match=f"asked for 4 drawings but run {rid}'s test split holds 3"):
        build_items(QuizConfig(participant="a", n=4, run=rid), store)
    with pytest.raises(ConfigError, match="not trained on .*'zebra'"):
        build_items(QuizConfig(participant="a", n=1, run=rid, categories="zebra"), store)
    assert [r.id for r, n in quiz_runs(store)] == [rid]


# -- sessions -----------------------------------------------------------------------------------------


def test_answers_are_stored_at_once_with_undo_and_resume(store):
    rid = save_run(store, [0, 1, 2, 0, 1, 2], [0, 1, 2, 0, 1, 2])
    cfg = QuizConfig(participant=" ann ", n=5, run=rid, seed=2)
    s = QuizSession.start(store, cfg)
    assert s.participant == "ann" and s.position == 0 and s.progress() == (0, 5)
    first = s.current
    s.answer(first.truth, 1200)
    second = s.current
    wrong = next(c for c in CLASSES if c != second.truth)
    s.answer_key(CLASSES.index(wrong) + 1, 800)  # all 3 classes are numbered 1..3 in class order
    s.skip(5000)
    stored = store.quiz_answers(session=s.id)
    assert [(a.item, a.drawing, a.truth, a.answer, a.skipped, a.ms) for a in stored] == [
        (0, first.provenance, first.truth, first.truth, False, 1200.0),
        (1, second.provenance, second.truth, wrong, False, 800.0),
        (2, s.items.items[2].provenance, s.items.items[2].truth, None, True, 5000.0)]
    assert stored[0].choices == CLASSES
    sc = s.score()
    assert (sc.correct, sc.answered, sc.skipped, sc.total, sc.done) == (1, 2, 1, 5, 3)
    assert sc.top1 == pytest.approx(1 / 3)

    undone = s.undo()
    assert undone.skipped and s.position == 2 and len(store.quiz_answers(session=s.id)) == 2

    # A new process resumes from the store alone: same drawings, same place.
    r = QuizSession.resume(Store(store.home), s.id, "ann")
    assert r.position == 2 and r.current.provenance == s.items.items[2].provenance
    assert [i.provenance for i in r.items.items] == [i.provenance for i in s.items.items]
    assert [a.id for a in open_sessions(store, "ann")] == [s.id]
    assert resume_latest(store, "ann").id == s.id
    with pytest.raises(ConfigError, match="belongs to 'ann', not 'bob'"):
        QuizSession.resume(store, s.id, "bob")
    with pytest.raises(ConfigError, match="not a choice"):
        r.answer("zebra", 10)
    for it in r.items.items[2:]:
        r.answer(it.truth, 10)
    assert r.complete and r.current is None and open_sessions(store) == []
    with pytest.raises(ConfigError, match="complete"):
        r.skip(1)
    r.finish()
    with pytest.raises(ConfigError, match="finished"):
        r.undo()
    with pytest.raises(ConfigError, match="finished"):
        QuizSession.resume(store, s.id)


def test_resume_errors_name_the_participants(store):
    with pytest.raises(ConfigError, match="nobody has taken a quiz yet"):
        resume_latest(store, "zoe")
    with pytest.raises(ConfigError, match="participant name is empty"):
        resume_latest(store, " ")
    rid = save_run(store, [0, 1, 2], [0, 1, 2])
    QuizSession.start(store, QuizConfig(participant="ann", n=2, run=rid))
    with pytest.raises(ConfigError, match=r"no quiz by 'zoe' .*participants: ann"):
        resume_latest(store, "zoe")
    with pytest.raises(StoreError, match="no quiz session 42"):
        QuizSession.resume(store, 42)


def test_resume_refuses_changed_drawings(store):
    rid = save_run(store, [0, 1, 2], [0, 1, 2])
    s = QuizSession.start(store, QuizConfig(participant="ann", n=3, run=rid))
    save = store.run_dir(rid) / "predictions.npz"
    p = Predictions.load(save)
    p.images[:] = 7
    p.save(save)
    with pytest.raises(DataError, match="changed since it started"):
        QuizSession.resume(store, s.id)


# -- report figures -----------------------------------------------------------------------------------


@pytest.fixture
def answered(store):
    """Ten drawings; ann answers all ten (8 right), bob five (2 right, 1 skipped)."""
    labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    predicted = [0, 0, 1, 1, 1, 1, 1, 2, 0, 0]  # model right on 0,1,4,5,6,7
    rid = save_run(store, labels, predicted)
    s = store.create_quiz_session("ann", {"quiz": {"n": 10}, "classes": CLASSES, "n_items": 10}, run_id=rid)
    ann = ["apple", "apple", "apple", "bee", "bee", "bee", "cat", "cat", "cat", "cat"]  # wrong on 3 and 6
    for i, a in enumerate(ann):
        store.add_quiz_answer(s, f"t.npy#{i}", CLASSES[labels[i]], a, CLASSES, 1000 + i, item=i)
    t = store.create_quiz_session("bob", {"quiz": {"n": 5}, "classes": CLASSES, "n_items": 5}, run_id=rid)
    bob = [("apple", False), ("cat", False), (None, True), ("apple", False), ("cat", False)]
    for i, (a, skip) in enumerate(bob):
        store.add_quiz_answer(t, f"t.npy#{i}", CLASSES[labels[i]], a, CLASSES, 500, skipped=skip, item=i)
    return store, rid, s, t


def test_report_figures_match_hand_counts(answered):
    store, rid, s, t = answered
    rep = build_report(store)
    # 8 + 2 right out of 15 shown (the skip counts as wrong).
    assert (rep.overall.correct, rep.overall.total, rep.skipped) == (10, 15, 1)
    lo, hi = hand_wilson(10, 15)
    assert rep.overall.lo == pytest.approx(lo) and rep.overall.hi == pytest.approx(hi)
    rows = {r.category: r for r in rep.per_category}
    # apple: ann 3/4 (#3 taken for bee), bob 2/4 (#1 taken for cat, #2 skipped) -> 5/8; ties go by name.
    assert (rows["apple"].accuracy.correct, rows["apple"].accuracy.total, rows["apple"].skipped) == (5, 8, 1)
    assert rows["apple"].top_mistake == "bee"
    # bee: ann 2/3 (#6 taken for cat), bob 0/1 (#4 taken for cat).
    assert (rows["bee"].accuracy.correct, rows["bee"].accuracy.total) == (2, 4)
    assert rows["bee"].top_mistake == "cat"
    assert (rows["cat"].accuracy.correct, rows["cat"].accuracy.total) == (3, 3)
    assert rep.confusion.classes == CLASSES
    assert rep.confusion.matrix == [[5, 1, 1], [0, 2, 2], [0, 0, 3]]
    assert rep.confusion.skipped == [1, 0, 0]
    assert rep.confusion.pairs(2) == [("bee", "cat", 2), ("apple", "bee", 1)]

    # People vs model, answer by answer (the model is right on drawings 0,1,4,5,6,7):
    # ann: 0 both, 1 both, 2 only people, 3 both wrong, 4 both, 5 both, 6 only model, 7 both, 8 only p, 9 only p
    # bob: 0 both, 1 only model, 2 both wrong (a skip), 3 only people, 4 only model
    v = rep.vs_model
    assert v.run_id == rid and v.matched == 15 and v.unmatched == 0
    assert (v.both_right, v.only_people, v.only_model, v.both_wrong) == (6, 4, 3, 2)
    assert v.people.correct == 10 and v.model.correct == 9
    # McNemar exact (b + c = 7 < 25): p = 2 * P(X <= 3), X ~ Bin(7, 1/2) = 2 * (1+7+21+35)/128 = 1.0
    assert v.test.exact and v.test.p_value == pytest.approx(1.0)

    lb = leaderboard(store.quiz_answers())
    assert [(r.rank, r.participant, r.accuracy.correct, r.accuracy.total, r.skipped) for r in lb] == [
        (1, "ann", 8, 10, 0), (2, "bob", 2, 5, 1)]
    assert lb[0].median_ms == pytest.approx(1004.5)
    d = rep.as_dict()
    import json

    assert json.loads(json.dumps(d))["vs_model"]["mcnemar"]["b"] == 4


def test_report_scopes_and_errors(answered):
    store, rid, s, t = answered
    rep = build_report(store, participant="bob")
    assert (rep.overall.correct, rep.overall.total) == (2, 5) and rep.participants == ["bob"]
    assert build_report(store, session=s).overall.correct == 8
    with pytest.raises(ConfigError, match="no quiz by 'carl'.*participants: ann, bob"):
        build_report(store, participant="carl")
    with pytest.raises(ConfigError, match="belongs to 'ann'"):
        build_report(store, participant="bob", session=s)
    with pytest.raises(StoreError, match="no quiz session 77"):
        build_report(store, session=77)
    bare = save_run(store, [0], [0], save=False)
    with pytest.raises(ConfigError, match="no test predictions"):
        build_report(store, run=bare)
    with pytest.raises(StoreError, match="no run 999"):
        build_report(store, run=999)


def test_ties_share_a_rank_and_pure_functions_agree():
    from qdcore.store import QuizAnswer

    def ans(p, truth, answer, skipped=False):
        return QuizAnswer(0, 1 if p == "x" else 2, p, 0, "d#0", truth, answer, [], 10.0, skipped, 0.0)

    answers = [ans("x", "a", "a"), ans("x", "b", "a"), ans("y", "a", "a"), ans("y", "b", "a"), ans("z", "a", None, True)]
    lb = leaderboard(answers)
    assert [(r.participant, r.rank) for r in lb] == [("x", 1), ("y", 1), ("z", 3)]
    assert lb[2].median_ms is None
    rows = per_category(answers)
    assert [(r.category, r.accuracy.correct, r.accuracy.total) for r in rows] == [("a", 2, 3), ("b", 0, 2)]
    cm = confusion(answers, ["c"])
    assert cm.classes == ["a", "b", "c"] and cm.matrix == [[2, 0, 0], [2, 0, 0], [0, 0, 0]] and cm.skipped == [1, 0, 0]
    assert accuracy(0, 0).top1 is None
    assert accuracy(8, 10).lo == pytest.approx(0.4902, abs=1e-4)


def test_human_baseline(answered, tmp_path):
    store, rid, s, t = answered
    b = human_baseline(store, run=rid)
    assert (b.accuracy.correct, b.accuracy.total, b.participants) == (10, 15, 2)
    assert b.model.correct == 9
    other = save_run(store, [0, 1], [0, 1], name="other")
    other_preds = store.run_dir(other) / "predictions.npz"
    p = Predictions.load(other_preds)
    p.provenance = ["elsewhere#0", "elsewhere#1"]
    p.save(other_preds)
    assert human_baseline(store, run=other) is None  # nobody answered its drawings
    assert human_baseline(Store(tmp_path / "empty"), run=1) is None
    with Store(tmp_path / "fp") as fresh:
        sid = fresh.create_quiz_session("ann", {"data_fingerprint": "d1", "classes": CLASSES})
        fresh.add_quiz_answer(sid, "x#1", "apple", "apple", [], 10)
        fresh.add_quiz_answer(sid, "x#2", "apple", "bee", [], 10)
        fb = human_baseline(fresh, fingerprint="d1")
        assert (fb.accuracy.correct, fb.accuracy.total) == (1, 2)
        assert human_baseline(fresh, fingerprint="zzz") is None


def test_items_from_real_quickdraw_files():
    from qdcore.paths import shared_quickdraw

    root = shared_quickdraw()
    if root is None:
        pytest.skip("../shared/quickdraw is not here")
    folder = root / "numpy_bitmap"
    cfg = QuizConfig(participant="a", n=6, data=str(folder), categories="cat,fish,eye", seed=0)
    items = build_items(cfg)
    assert not items.synthetic and items.keyed and items.label == "numpy_bitmap · 3 classes"
    for it in items.items:  # provenance names the file and row the drawing was read from
        path, row = it.provenance.rsplit("#", 1)
        assert path.endswith(f"{it.truth}.npy")
        rows = np.load(path, mmap_mode="r")
        assert np.array_equal(np.asarray(rows[int(row)]).reshape(28, 28), it.image)
    assert build_items(cfg).fingerprint == items.fingerprint
