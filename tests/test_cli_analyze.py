"""`qd analyze` on a real store with real predictions and checkpoints (Typer runner and subprocess)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import scaled_timeout
from typer.testing import CliRunner

from qdcore.predictions import Predictions
from qdcore.store import Store

CLASSES = ["cat", "airplane", "tree"]


def _predictions(n_per: int = 40, wrong_every: int = 3, seed: int = 0) -> Predictions:
    """Three classes of squares in distinct places; cats are often read as airplanes, rarely anything else."""
    rng = np.random.default_rng(seed)
    spots = [(2, 2), (2, 16), (16, 9)]
    imgs, labels, guess = [], [], []
    for c, (y, x) in enumerate(spots):
        for i in range(n_per):
            im = rng.integers(0, 30, (28, 28)).astype(np.uint8)
            im[y: y + 9, x: x + 9] = 255
            imgs.append(im)
            labels.append(c)
            g = c
            if c == 0 and i % wrong_every == 0:
                g = 1
            elif c == 2 and i == 0:
                g = 0
            guess.append(g)
    probs = np.full((len(labels), 3), 0.05, np.float32)
    probs[np.arange(len(labels)), guess] = 0.9
    n = len(labels)
    return Predictions(probs, np.array(labels), CLASSES, np.stack(imgs), [f"cat.npy#{i}" for i in range(n)])


def _run_with(home, pred: Predictions | None, model_name: str | None = None) -> int:
    store = Store(home)
    rid = store.create_run("t", "classifier", {"model": model_name or "none"})
    d = store.run_dir(rid)
    if pred is not None:
        pred.save(d / "predictions.npz")
    if model_name:
        import torch

        from qdcore.models import build_model
        from qdcore.train.checkpoint import save_model

        torch.manual_seed(0)
        opts = {"width": 2} if model_name == "widthk" else {}
        save_model(d, build_model(model_name, 3, **opts), {"classes": CLASSES})
    store.finish_run(rid, "done", {})
    store.close()
    return rid


def _invoke(*args: str):
    from qdcore.cli.main import app

    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_analyze_json_and_report_files(home, tmp_path):
    rid = _run_with(home, _predictions(), "widthk")
    out = tmp_path / "report"
    res = _invoke("analyze", str(rid), "--json", "--out", str(out), "--top", "2", "--k", "3")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["run"] == rid and doc["n"] == 120
    assert doc["top1"] == pytest.approx((120 - 14 - 1) / 120)
    first = doc["pairs"][0]
    assert (first["a"], first["b"], first["a_as_b"], first["b_as_a"]) == ("cat", "airplane", 14, 0)
    assert first["share"] == pytest.approx(14 / 80) and len(doc["pairs"]) == 2
    assert [r["class"] for r in doc["per_class"]] == CLASSES
    assert doc["clusters"]["kmeans"]["params"]["k"] == 3
    assert doc["clusters"]["kmeans"]["clusters"][0]["truth"] == "cat"
    assert doc["worst"]["wrong"] == 15 and len(doc["worst"]["around"]) == 2
    assert doc["quality"]["label_errors"] == 15
    cal = doc["calibration"]
    assert len(cal["bins"]) == 15 and sum(b["count"] for b in cal["bins"]) == 120
    # every drawing has top-1 confidence 0.9: one bin, accuracy 105/120, so ECE = |0.875 - 0.9|
    assert cal["ece"] == pytest.approx(abs(105 / 120 - 0.9), abs=1e-6)
    rows = list(csv.DictReader((out / "calibration.csv").open()))
    assert [int(r["count"]) for r in rows if r["count"] != "0"] == [120]
    per_class = list(csv.DictReader((out / "per_class.csv").open()))
    assert float(per_class[0]["recall_lo"]) < float(per_class[0]["recall"]) < float(per_class[0]["recall_hi"])
    for name in ("pairs.csv", "per_class.csv", "ranking.csv", "clusters.csv", "confusion.png", "worst.png",
                 "calibration.csv", "reliability.png",
                 "cam.png", "scatter_kmeans.png", "cluster_kmeans_0.png", "pair_cat__airplane.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    rows = list(csv.DictReader((out / "ranking.csv").open()))
    assert len(rows) == 120 and rows[0]["correct"] == "False"
    assert [float(r["p_true"]) for r in rows] == sorted(float(r["p_true"]) for r in rows)
    pairs_csv = list(csv.DictReader((out / "pairs.csv").open()))
    assert (pairs_csv[0]["a"], pairs_csv[0]["b"], pairs_csv[0]["a_as_b"]) == ("cat", "airplane", "14")


def test_analyze_tables_penultimate_features_and_a_non_cnn(home, tmp_path):
    rid = _run_with(home, _predictions(), "widthk")
    res = _invoke("analyze", str(rid), "--features", "penultimate", "--components", "0.9")
    assert res.exit_code == 0, res.output
    assert "Most confused pairs" in res.stdout and "cat" in res.stdout and "K-Means" in res.stdout
    _run_with(home, _predictions(), "fc")  # the newest run: "last" below
    out = tmp_path / "fc"
    res = _invoke("analyze", "last", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert (out / "confusion.png").exists() and not (out / "cam.png").exists()


def test_the_report_is_a_library_call_that_matches_the_cli(home):
    """A notebook gets the same report as `qd analyze --json`, with no UI package involved."""
    from qdcore.analysis.report import AnalyzeOptions, analyze_run, public

    rid = _run_with(home, _predictions())
    store = Store(home)
    try:
        report = public(analyze_run(store, rid, AnalyzeOptions(top=2, k=3)))
    finally:
        store.close()
    doc = json.loads(_invoke("analyze", str(rid), "--json", "--top", "2", "--k", "3").stdout)
    assert json.loads(json.dumps(report)) == doc
    assert report["pairs"][0]["a_as_b"] == 14


def test_too_few_mistakes_skip_clustering_without_failing(home):
    rid = _run_with(home, _predictions(wrong_every=100))
    res = _invoke("analyze", str(rid), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert "only 2 misclassified drawings" in doc["clusters"]["skipped"]


def _qd(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QD_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "qdcore.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=scaled_timeout(120))


def test_bad_input_gives_one_line_errors_from_the_real_entry_point(home):
    rid = _run_with(home, None)
    for args, msg in [(("analyze", str(rid)), f"evaluate it first with 'qd eval {rid}'"),
                      (("analyze", "999"), "no run 999")]:
        r = _qd(home, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, msg", [
    (("--k", "1"), "--k=1 must be a whole number >= 2"),
    (("--eps", "0"), "--eps=0.0 must be a number > 0"),
    (("--features", "strokes"), "--features='strokes' must be one of"),
    (("--components", "2.5"), "--components=2.5 must be a whole number"),
    (("--top", "0"), "--top=0 must be a whole number >= 1"),
    (("--percentile", "120"), "--percentile=120.0 must be a number >= 0 and <= 100"),
    (("--bins", "1"), "--bins=1 must be a whole number >= 2 and <= 100"),
    (("--features", "penultimate"), "use --features pixels"),
])
def test_bad_options_are_one_line_errors(home, args, msg):
    rid = _run_with(home, _predictions())
    res = _invoke("analyze", str(rid), *args)
    assert res.exit_code == 2 and msg in res.output and "Traceback" not in res.output, res.output
