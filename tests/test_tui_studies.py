"""Pilot and snapshot tests of the studies screens: list with progress, a study's table, plot and OLS, attach, form."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Select, Static
from tui_helpers import sync, wait_for

from qdcore.store import Store
from qdcore.studies import trials as T
from qdtui.app import QdApp
from qdtui.screens.studies import StudiesScreen, StudyScreen
from qdtui.screens.study_form import NewStudyDialog
from qdtui.state import AppState

SIZES = [(80, 24), (120, 40)]
# (classes, rows, test_top1): a plane with a little noise, so the OLS table has real numbers
POINTS = [(3, 100, 0.91), (3, 200, 0.93), (4, 100, 0.88), (4, 200, 0.905), (5, 100, 0.86), (5, 200, 0.87)]


def make_study(home: Path) -> int:
    """A study of 8 trials with fixed values (no clocks): 6 done with child runs, 1 failed, 1 queued."""
    with Store(home) as store:
        sid = store.create_run("classes x rows", "study", {"name": "classes x rows", "description": "fixture"})
        rows = [({"categories": c, "per_class": n}, {"kind": "classifier", "categories": ",".join("abcde"[:c]),
                                                       "per_class": n}) for c, n, _ in POINTS]
        rows += [({"categories": 5, "per_class": 300}, {"kind": "classifier", "per_class": 300}),
                 ({"categories": 6, "per_class": 300}, {"kind": "classifier", "per_class": 300})]
        T.add_trials(store, sid, rows)
        for i, (c, _n, acc) in enumerate(POINTS):
            rid = store.create_run(f"trial {i + 1}", "classifier", {"model": "cnn2-000", "data": "demo"}, parent=sid)
            store.log_metrics(rid, [(10, 1, "val", "top1", acc - 0.05), (10, 1, "val", "loss", 0.6),
                                    (20, 2, "val", "top1", acc - 0.01), (20, 2, "val", "loss", 0.4)])
            store.finish_run(rid, "done", {"test_top1": acc, "test_loss": 1.2 - acc, "classes": c})
            T.set_run(store, sid, i, rid)
            T.finish(store, sid, i, "done")
        T.finish(store, sid, 6, "failed", "RuntimeError: kernel size can't be greater than actual input size")
        store.finish_run(sid, "interrupted", {"trials": 8})
        with store._write() as conn:  # fixed trial times: snapshots show no clock
            conn.execute("UPDATE study_trials SET started = 1000.0, ended = 1000.0 + 7.5 * (idx + 1)"
                         " WHERE status != 'queued'")
    return sid


async def open_study(app, pilot) -> StudyScreen:
    await pilot.pause()
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded >= 1, what="studies")
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, StudyScreen) and app.screen.loaded >= 1, what="study")
    await pilot.pause()
    return app.screen


@sync
async def test_list_table_plot_keys_and_ols(home):
    sid = make_study(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded >= 1)
        table = app.screen.query_one("#studies", DataTable)
        assert table.row_count == 1
        assert [str(c) for c in table.get_row(str(sid))[3:7]] == ["6", "0", "1", "1"]  # done running failed queued
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, StudyScreen) and app.screen.loaded >= 1)
        screen = app.screen
        assert screen.query_one("#trials", DataTable).row_count == 8
        assert screen.metric == "test_top1" and screen.x == "categories" and screen.by == "per_class"
        await pilot.press("m")
        assert screen.metric != "test_top1"
        await pilot.press("x")
        assert screen.x == "per_class"
        await pilot.press("b")
        assert screen.by == "categories"
        screen.metric = "test_top1"
        assert screen.formula() == "test_top1 ~ classes + rows"
        await pilot.press("f")
        await wait_for(pilot, lambda: screen.fitted >= 1, what="fit")
        text = str(screen.query_one("#study-ols", Static).render())
        assert "OLS Regression Results" in text and "classes" in text and "No. Observations:" in text


@sync
async def test_enter_on_a_trial_opens_its_run(home):
    make_study(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(100, 32)) as pilot:
        screen = await open_study(app, pilot)
        await pilot.press("enter")  # trial 1: a finished classifier run
        await wait_for(pilot, lambda: app.screen is not screen, what="the trial's run")
        assert type(app.screen).__name__ == "EvaluationScreen"
        assert app.state.current_run == screen.table.rows[0]["run"]


@sync
async def test_attach_to_a_study_opens_the_study_screen(home):
    sid = make_study(home)
    app = QdApp(AppState(home=home, attach_run=sid))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StudyScreen) and app.screen.loaded >= 1)
        assert app.screen.study == sid


@sync
async def test_form_refuses_bad_data_then_starts_a_named_study(home):
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(100, 32)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded >= 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewStudyDialog))
        form = app.screen
        form.query_one("#f-data", Input).value = "/no/such/folder"
        form.query_one("#f-spec", Select).value = "categories"
        form.start()
        await app.workers.wait_for_complete()
        await pilot.pause()
        note = str(form.query_one("#new-note", Static).render())
        assert "does not exist" in note and app.screen is form
        with Store(home) as store:
            assert store.list_runs() == []
        form.query_one("#f-data", Input).value = "demo"
        form.start()
        await wait_for(pilot, lambda: isinstance(app.screen, StudyScreen) and app.screen.loaded >= 1,
                       what="the new study", timeout=60)
        await pilot.pause()
        sid = app.screen.study
    with Store(home) as store:
        assert store.get_run(sid).kind == "study" and store.get_run(sid).name == "categories quick"
        end = time.time() + 60
        while store.get_run(sid).pid == os.getpid() and time.time() < end:
            time.sleep(0.1)  # the detached `qd study resume` takes the study over
        pid = store.get_run(sid).pid
        assert pid != os.getpid()
        os.kill(pid, signal.SIGTERM)  # stop it cleanly: the study is left interrupted, resumable
        while store.get_run(sid).status == "running" and time.time() < end + 60:
            time.sleep(0.2)
            store.reap()
        assert store.get_run(sid).status in ("interrupted", "done")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("keys", [(), ("f",)], ids=["plot", "ols"])
def test_snapshot_study(snap_compare, tmp_path, monkeypatch, size, keys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    make_study(Path("qd-home"))

    async def run_before(pilot) -> None:
        app = pilot.app
        screen = await open_study(app, pilot)
        for k in keys:
            await pilot.press(k)
        if keys:
            await wait_for(pilot, lambda: screen.fitted >= 1, what="fit")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(QdApp(AppState(home=Path("qd-home"))), terminal_size=size, run_before=run_before)


def test_snapshot_studies_list(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    make_study(Path("qd-home"))

    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded >= 1)
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(QdApp(AppState(home=Path("qd-home"))), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_new_study_dialog(snap_compare, tmp_path, monkeypatch):
    """The dialog's rows are the declared study options (Study, Data, Categories, Quick, Workers)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")

    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StudiesScreen) and app.screen.loaded >= 1)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewStudyDialog) and app.screen.query("#f-workers"))
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(QdApp(AppState(home=Path("qd-home"))), terminal_size=(80, 24), run_before=run_before)


# (categories, per_class, test_top1 per seed): accuracy falls with categories, rises a little with rows
CLAIM_POINTS = [(c, n, [0.95 - 0.04 * (c - 3) + 0.00002 * n + d for d in (0.0, 0.012, -0.009)])
                for c in (3, 4, 5) for n in (100, 200)]


def make_claims_study(home: Path) -> int:
    """A study of 18 done trials over 3 seeds whose spec declares three claims (one agrees, one is inconclusive,
    one names a metric the study does not record) and whose last trial sits at the majority share (not trained)."""
    from qdcore.studies.claims import coef, trend

    claims = [coef("test_top1 ~ classes + rows", "classes", "-", "accuracy falls with each extra category",
                   paper=-0.0188),
              trend("test_top1", "per_class", "+", "accuracy rises with rows", paper_text="+0.0016 points a row"),
              trend("val_top1", "per_class", "+", "validation accuracy rises with rows")]
    spec = {"name": "claims fixture", "paper": {"claims": [c.to_dict() for c in claims]}}
    with Store(home) as store:
        sid = store.create_run("claims fixture", "study", {"name": "claims fixture"})
        rows, values = [], []
        for c, n, accs in CLAIM_POINTS:
            for seed, acc in enumerate(accs):
                cats = ",".join("abcde"[:c])
                rows.append(({"categories": c, "per_class": n, "seed": seed},
                             {"kind": "classifier", "categories": cats, "per_class": n}))
                values.append((c, acc))
        T.add_trials(store, sid, rows)
        for i, (c, acc) in enumerate(values):
            rid = store.create_run(f"trial {i + 1}", "classifier", {"model": "cnn2-000"}, parent=sid)
            train = 1 / c if i == len(values) - 1 else acc + 0.03  # the last one never left the prior
            store.finish_run(rid, "done", {"test_top1": acc, "test_loss": 1.2 - acc, "classes": c})
            store.log_metrics(rid, [(20, 2, "train", "top1", train), (20, 2, "train", "loss", 0.3)])
            T.set_run(store, sid, i, rid)
            T.finish(store, sid, i, "done")
        store.update_summary(sid, {"spec": spec})
        store.finish_run(sid, "done", {"trials": len(values)})
        with store._write() as conn:
            conn.execute("UPDATE study_trials SET started = 1000.0, ended = 1000.0 + 7.5 * (idx + 1)")
    return sid


@sync
async def test_claims_panel_shows_the_verdicts(home):
    make_claims_study(home)
    app = QdApp(AppState(home=home))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_study(app, pilot)
        await pilot.press("c")
        assert screen.has_class("-claims")
        claims = screen.query_one("#study-claims", DataTable)
        verdicts = [str(claims.get_row(str(i))[0]) for i in range(claims.row_count)]
        assert verdicts == ["agrees", "inconclusive", "inconclusive"]
        note = str(screen.query_one("#study-claims-note", Static).render())
        assert "does not record metric 'val_top1'" in note and "1 trial flagged 'not trained'" in note
        await pilot.press("f")
        assert screen.has_class("-ols") and not screen.has_class("-claims")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_study_claims(snap_compare, tmp_path, monkeypatch, size):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QD_HOME", "qd-home")
    make_claims_study(Path("qd-home"))

    async def run_before(pilot) -> None:
        app = pilot.app
        await open_study(app, pilot)
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(QdApp(AppState(home=Path("qd-home"))), terminal_size=size, run_before=run_before)
