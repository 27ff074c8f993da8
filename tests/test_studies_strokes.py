"""Studies with stroke trials: an axis (or variants) over models may mix bitmap CNNs and stroke models; each trial
runs as its model's kind, end to end, and the study's table and JSON hold them side by side."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.store import Store
from qdcore.studies.spec import StudySpec, expand

BASE = '[base]\ndata = "demo"\ncategories = "circle,square,triangle"\nper_class = 24\nepochs = 2\nbatch_size = 8\n'


def test_an_axis_over_models_gives_each_trial_its_models_kind():
    spec = StudySpec.from_dict({"name": "mixed", "base": {"data": "demo"},
                                "axes": {"model": ["widthk", "stroke-gru", "stroke-transformer"]}})
    assert [(t.kind, t.options["model"]) for t in expand(spec)] == [
        ("classifier", "widthk"), ("strokes", "stroke-gru"), ("strokes", "stroke-transformer")]
    spec = StudySpec.from_dict({"name": "kinded", "kind": "strokes", "axes": {"model": ["stroke-lstm"]}})
    assert [t.kind for t in expand(spec)] == ["strokes"]


def test_a_study_of_a_bitmap_cnn_and_stroke_models_runs_end_to_end(home, tmp_path):
    spec = tmp_path / "mixed.toml"
    spec.write_text('name = "bitmap vs strokes"\n' + BASE
                    + '[[variants]]\nname = "cnn"\nmodel = "widthk"\nwidth = 2\n'
                    + '[[variants]]\nname = "gru"\nmodel = "stroke-gru"\nhidden = 8\nconv = 8\nlayers = 1\n'
                    + '[[variants]]\nname = "transformer"\nmodel = "stroke-transformer"\nhidden = 8\nconv = 8\n'
                    + 'layers = 1\n')
    r = CliRunner().invoke(app, ["study", "run", str(spec)])
    assert r.exit_code == 0, r.output
    assert "3 done, 0 failed" in r.output, r.output
    with Store(home) as store:
        study = store.list_runs(kind="study")[0]
        children = {c.config["model"]: c for c in store.list_runs(parent=study.id)}
        assert {m: c.kind for m, c in children.items()} == {"widthk": "classifier", "stroke-gru": "strokes",
                                                          "stroke-transformer": "strokes"}
        assert all(c.status == "done" and c.summary["num_test"] > 0 for c in children.values())
    r = CliRunner().invoke(app, ["study", "show", str(study.id), "--json", "--include-untrained"])
    assert r.exit_code == 0, r.output
    trials = json.loads(r.output)["trials"]
    assert sorted(t["variant"] for t in trials) == ["cnn", "gru", "transformer"]
    assert all(0 <= t["test_top1"] <= 1 and t["images_per_second"] > 0 for t in trials), trials
