"""One run-reference resolver: 'last' is the newest top-level run in qd and qdtui alike, never a study trial."""

from __future__ import annotations

import pytest

from qdcore.errors import ConfigError


@pytest.fixture
def refs_store(home):
    """Runs 1 (classifier, 90%), 2 (classifier, 70%), 3 (a study) and 4, 5 (its finished trials, newest)."""
    from qdcore.store import Store

    with Store(home) as store:
        for name, top1 in (("strong", 0.9), ("weak", 0.7)):
            rid = store.create_run(name, "classifier", {"model": "fc"})
            store.finish_run(rid, "done", {"test_top1": top1})
        study = store.create_run("a study", "study", {})
        for i in range(2):
            trial = store.create_run(f"trial {i}", "classifier", {"model": "fc"}, parent=study)
            store.finish_run(trial, "done", {"test_top1": 0.5})
        store.finish_run(study, "done", {})
    return home


def test_last_is_the_newest_top_level_run_never_a_trial(refs_store):
    from qdcore.runs.refs import best_model_run, resolve_ref
    from qdcore.store import Store

    with Store(refs_store) as store:
        assert resolve_ref(store, "last") == 3
        assert resolve_ref(store, "LATEST", ["classifier"]) == 2
        assert resolve_ref(store, "#5") == 5  # a trial by number still works
        assert best_model_run(store) == 1  # the best finished classifier, not the newest trial or run
        with pytest.raises(ConfigError, match="no gan runs .* start one with 'qd gan train'"):
            resolve_ref(store, "last", ["gan"], start="qd gan train")
        for bad in ("seven", "0", "-3"):
            with pytest.raises(ConfigError, match="RUN must be a run id"):
                resolve_ref(store, bad)


def test_qdtui_takes_last_as_qd_does(refs_store):
    from qdtui.app import parse_args, resolve_run_refs

    for argv, attr, want in ((["draw", "--run", "last"], "run", 2), (["attach", "last"], "run_id", 3),
                             (["quiz", "--run", "latest"], "run", 2), (["draw", "--run", "#4"], "run", 4)):
        ns = parse_args([*argv, "--home", str(refs_store)])
        resolve_run_refs(ns)
        assert getattr(ns, attr) == want, argv
    with pytest.raises(SystemExit) as e:
        parse_args(["draw", "--run", "seven"])
    assert e.value.code == 2


def test_qd_commands_resolve_last_the_same_way(refs_store):
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    runner = CliRunner()
    shown = runner.invoke(app, ["runs", "show", "last", "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"id": 3' in shown.output
    status = runner.invoke(app, ["study", "status", "last"])
    assert status.exit_code == 0 and "a study" in status.output, status.output
    gan = runner.invoke(app, ["gan", "quality", "last"])
    assert gan.exit_code == 2 and "no gan runs" in gan.output and "qd gan train" in gan.output, gan.output
