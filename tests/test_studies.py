"""Studies on the demo set: child runs, kill and resume, atomic claims, OLS against numpy, named specs, bad input."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import scaled_timeout

from qdcore.kinds.study import StudyConfig
from qdcore.store import Store
from qdcore.studies import trials as T
from qdcore.studies.runner import create_study, run_study, work

TINY = {"name": "tiny", "seeds": [0, 1], "pool": ["circle", "square", "star"],
        "base": {"data": "demo", "per_class": 30, "epochs": 1, "batch_size": 32, "val": 0.2, "test": 0.2,
                 "model": "widthk", "width": 2, "log_every": 5},
        "axes": {"categories": [2, 3], "width": [2, 3]}}


def tiny(tmp_path: Path, **over) -> StudyConfig:
    """The config of a study whose spec is TINY with `over` (written as JSON, which specs may be)."""
    import json

    path = tmp_path / f"tiny-{len(list(tmp_path.glob('tiny-*')))}.json"
    path.write_text(json.dumps({**TINY, **over}))
    return StudyConfig().replace(spec=str(path))


def test_tiny_grid_trials_are_child_runs(home, tmp_path):
    with Store(home) as store:
        sid = create_study(store, tiny(tmp_path))
        assert store.get_run(sid).kind == "study"
        assert [t.status for t in T.trials(store, sid)] == ["queued"] * 8
        p = run_study(store, sid, workers=1)
        assert p.counts == {"queued": 0, "running": 0, "done": 8, "failed": 0}
        children = store.list_runs(parent=sid)
        assert len(children) == 8 and all(c.kind == "classifier" and c.status == "done" for c in children)
        rows = T.trials(store, sid)
        assert sorted(r.run_id for r in rows) == sorted(c.id for c in children)
        # the grid's values reach the runs: categories=2 means the pool's first two
        first = store.get_run(rows[0].run_id)
        assert first.config["categories"] == "circle,square" and first.config["width"] == 2
        assert rows[0].params == {"categories": 2, "width": 2, "seed": 0}
        assert store.get_run(sid).status == "done"
        from qdcore.studies.results import aggregate, study_table

        table = study_table(store, sid)
        assert {"test_top1", "best_epoch_loss", "val_top1", "seconds"} <= set(table.metrics)
        aggs = aggregate(table, include_untrained=True)  # one epoch of width 2: flagged not trained, kept here
        assert len(aggs) == 4 and all(a["n"] == 2 for a in aggs)


def test_failing_trial_is_marked_and_the_study_goes_on(home, tmp_path):
    # Apple's MPS passes the option checks but no Linux machine has one: that trial fails when it starts
    spec = tiny(tmp_path, seeds=[0], axes={"device": ["cpu", "mps"]}, base={**TINY["base"],
                                                                          "categories": "circle,square"})
    with Store(home) as store:
        sid = create_study(store, spec)
        p = run_study(store, sid)
        assert p.counts["done"] == 1 and p.counts["failed"] == 1
        bad = [r for r in T.trials(store, sid) if r.status == "failed"][0]
        assert bad.params == {"device": "mps"} and bad.error and "\n" not in bad.error
        assert store.get_run(sid).status == "done"


def _claim_all(home: str, sid: int, q) -> None:
    with Store(home) as store:
        got = []
        while (t := T.claim(store, sid)) is not None:
            got.append(t.idx)
        q.put(got)


def test_two_workers_never_claim_the_same_trial(home):
    with Store(home) as store:
        sid = store.create_run("race", "study", {})
        T.add_trials(store, sid, [({"i": i}, {}) for i in range(60)])
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(str(home), sid, q)) for _ in range(3)]
    for p in procs:
        p.start()
    got = [q.get(timeout=scaled_timeout(60)) for _ in procs]
    for p in procs:
        p.join(30)
    claimed = [i for g in got for i in g]
    assert sorted(claimed) == list(range(60))  # each trial exactly once


def test_two_worker_processes_run_each_trial_once(home, tmp_path):
    with Store(home) as store:
        sid = create_study(store, tiny(tmp_path, seeds=[0]))
        p = run_study(store, sid, workers=2)
        assert p.counts["done"] == 4
        children = store.list_runs(parent=sid)
        assert len(children) == 4  # no trial ran twice
        assert len({r.run_id for r in T.trials(store, sid)}) == 4


def _qd(*args: str, home: Path) -> subprocess.Popen:
    env = dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "qdcore.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_and_resume_skips_finished_trials(home, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "killme"\npool = ["circle", "square", "star"]\n[base]\ndata = "demo"\nper_class = 60\n'
                    'epochs = 3\nbatch_size = 16\nval = 0.2\ntest = 0.2\nwidth = 2\nlog_every = 2\n'
                    '[axes]\ncategories = [2, 3]\nwidth = [2, 3, 4]\n')
    proc = _qd("study", "run", str(spec), home=home)
    deadline = time.time() + 90
    with Store(home) as store:
        while time.time() < deadline:
            time.sleep(0.2)
            studies = store.list_runs(kind="study")
            if studies and T.counts(store, studies[0].id)["done"] >= 2:
                break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        sid = studies[0].id
        before = {r.idx: r.run_id for r in T.trials(store, sid) if r.status == "done"}
        assert len(before) >= 2, proc.stderr.read()
        assert len(before) < 6, "the study finished before it could be killed"
        run_study(store, sid)
        after = T.trials(store, sid)
        assert all(r.status == "done" for r in after)
        assert {r.idx: r.run_id for r in after if r.idx in before} == before  # finished trials were not re-run
        assert len(store.list_runs(parent=sid)) == 6  # an interrupted trial resumed its own run
        assert store.get_run(sid).status == "done"


def test_ols_equals_numpy_least_squares():
    from qdcore.studies.fit import fit
    from qdcore.studies.results import StudyTable

    rng = np.random.default_rng(0)
    rows = []
    for c in range(3, 11):
        for n in range(7000, 20001, 1000):
            y = 1.03 - 0.0188 * c + 1.6e-5 * n + rng.normal(0, 0.01)
            rows.append({"trial": len(rows) + 1, "status": "done", "classes": c, "rows": n, "test_top1": y})
    res = fit(StudyTable(["classes", "rows"], ["test_top1"], rows), "test_top1 ~ classes + rows")
    X = np.array([[1.0, r["classes"], r["rows"]] for r in rows])
    y = np.array([r["test_top1"] for r in rows])
    beta, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
    n, k = X.shape
    sigma2 = rss[0] / (n - k)
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(X.T @ X)))
    r2 = 1 - rss[0] / np.sum((y - y.mean()) ** 2)
    assert res.names == ["Intercept", "classes", "rows"]
    np.testing.assert_allclose(res.coef, beta, rtol=1e-8)
    np.testing.assert_allclose(res.se, se, rtol=1e-6)
    np.testing.assert_allclose(res.t, beta / se, rtol=1e-6)
    assert res.r2 == pytest.approx(r2, rel=1e-9) and res.n == 112
    f = (r2 / (k - 1)) / ((1 - r2) / (n - k))
    assert res.f == pytest.approx(f, rel=1e-6)
    assert "OLS Regression Results" in res.text


@pytest.mark.parametrize("name", ["data-size", "imbalance", "classes-rows", "one-at-a-time", "double-descent",
                                  "categories", "baselines"])
def test_quick_named_specs_validate(name):
    from qdcore.runs.kinds import find_kind
    from qdcore.studies.named import named_spec
    from qdcore.studies.validate import validate

    spec, notes = named_spec(name, quick=True, data="demo")
    kinds = {v.get("kind", "classifier") for v in spec.variants}
    if any(find_kind(k) is None for k in kinds):
        pytest.skip(f"run kinds {sorted(k for k in kinds if find_kind(k) is None)} are not in this qd yet")
    pairs = validate(spec)
    assert len(pairs) >= 3
    assert any("substituted" in n for n in notes) or name == "categories"


def _cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], env=env, capture_output=True, text=True,
                          timeout=scaled_timeout(120), cwd=cwd)


def test_bad_input_is_one_line_and_starts_nothing(home, tmp_path):
    base = '[base]\ndata = "demo"\nper_class = 20\nepochs = 1\n'
    specs = {
        "unknown.toml": (base + '[axes]\nwidht = [2, 4]\n', "unknown training option 'widht' (did you mean 'width'"),
        "refused.toml": (base + '[axes]\nlr = [0.1, -1]\n', "lr=-1 must be a number > 0"),
        "toomany.toml": ('pool = ["circle", "square"]\n' + base + '[axes]\ncategories = [2, 5]\n',
                         "categories = 5 is beyond the pool's 2 categories"),
        "nodata.toml": (base.replace("per_class = 20", "per_class = 5000") + '[axes]\nwidth = [2]\n',
                        "asked for 5000 drawings of"),
    }
    for name, (text, needle) in specs.items():
        (tmp_path / name).write_text(text)
        p = _cli("study", "run", name, home=home, cwd=tmp_path)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and lines[0].startswith("qd: error: "), (name, p.stderr)
        assert needle in lines[0] and name in lines[0], (name, lines[0])
    with Store(home) as store:
        assert store.list_runs() == []  # nothing half-written
        rid = store.create_run("plain", "classifier", {})
        store.finish_run(rid, "done", {})
        sid = create_study(store, tiny(tmp_path, seeds=[0], axes={"width": [2]}))
        work(store, sid)
    for args, needle in ((["study", "show", str(rid)], f"run {rid} is a classifier run, not a study"),
                         (["study", "fit", str(sid), "-f", "test_top1 ~ nope", "--include-untrained"], "names column 'nope'"),
                         (["study", "status", "99"], "no run 99")):
        p = _cli(*args, home=home, cwd=tmp_path)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and needle in lines[0], (args, p.stderr)


def test_show_fit_and_report(home, tmp_path):
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    with Store(home) as store:
        sid = create_study(store, tiny(tmp_path, seeds=[0, 1], axes={"categories": [2, 3]}))
        run_study(store, sid)
    r = CliRunner().invoke(app, ["study", "show", str(sid), "--include-untrained"], catch_exceptions=False)
    assert r.exit_code == 0 and "test_top1 over seeds" in r.stdout and "95% low" in r.stdout
    assert "note: this study declares no claims" in r.stdout
    r = CliRunner().invoke(app, ["study", "fit", str(sid), "-f", "test_loss ~ classes", "--json", "--include-untrained"])
    assert r.exit_code == 0 and '"r2"' in r.stdout
    out = tmp_path / "rep"
    r = CliRunner().invoke(app, ["study", "report", str(sid), "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0
    assert (out / "trials.csv").read_text().count("\n") == 5
    assert (out / "test_top1.png").read_bytes()[:4] == b"\x89PNG"
    assert "# Study" in (out / "README.md").read_text() and "## Claims" in (out / "README.md").read_text()


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_resume_continues_the_same_runs(home, tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "stopme"\npool = ["circle", "square", "star"]\n[base]\ndata = "demo"\nper_class = 80\n'
                    'epochs = 4\nbatch_size = 8\nval = 0.2\ntest = 0.2\nlog_every = 2\n'
                    '[axes]\ncategories = [2, 3]\nwidth = [2, 3]\n')
    proc = _qd("study", "run", str(spec), home=home)
    deadline = time.time() + 90
    with Store(home) as store:
        while time.time() < deadline:
            time.sleep(0.2)
            studies = store.list_runs(kind="study")
            if studies and any(r.run_id and r.status == "running" for r in T.trials(store, studies[0].id)):
                break
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=scaled_timeout(60))
        assert proc.returncode == 0 and "Traceback" not in err, err
        sid = studies[0].id
        assert store.get_run(sid).status == "interrupted"
        rows = T.trials(store, sid)
        assert not any(r.status == "running" for r in rows)
        stopped = [r for r in rows if r.status == "queued" and r.run_id is not None]
        assert len(stopped) == 1 and store.get_run(stopped[0].run_id).status == "interrupted"
        assert f"qd study resume {sid}" in out
        run_study(store, sid)
        assert all(r.status == "done" for r in T.trials(store, sid))
        resumed = store.get_run(stopped[0].run_id)
        assert resumed.status == "done" and resumed.summary.get("resumed") == 1
        assert len(store.list_runs(parent=sid)) == 4


def test_imbalance_axis_shrinks_the_minority_and_reports_its_accuracy(home, tmp_path):
    import numpy as np

    from qdcore.predictions import Predictions
    from qdcore.studies.results import study_table

    spec = tiny(tmp_path, seeds=[0], minority="square", axes={"imbalance": [0.5, 1.0]},
                base={**TINY["base"], "categories": "circle,square", "per_class": 40})
    with Store(home) as store:
        sid = create_study(store, spec)
        run_study(store, sid)
        rows = T.trials(store, sid)
        assert [r.config["imbalance"] for r in rows] == ["square=0.5", "square=1"]
        table = study_table(store, sid)
        for row in table.rows:
            p = Predictions.load(store.home / "runs" / str(row["run"]) / "predictions.npz")
            minority = p.labels == p.classes.index("square")
            assert row["top1_minority"] == pytest.approx(np.mean(p.predicted[minority] == p.labels[minority]))
            assert row["top1_majority"] == pytest.approx(np.mean(p.predicted[~minority] == p.labels[~minority]))
        first = store.get_run(rows[0].run_id)
        assert first.summary["num_train"] < store.get_run(rows[1].run_id).summary["num_train"]
