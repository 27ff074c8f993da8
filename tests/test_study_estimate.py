"""`qd study estimate`: the work counted from a spec, hours from a rate (timed or given), nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import scaled_timeout

from qdcore.studies.estimate import estimate, spec_to_estimate, trial_work
from qdcore.studies.spec import StudySpec

TINY = {"name": "tiny", "minority": "square",
        "base": {"data": "demo", "categories": "circle,square,star", "per_class": 50, "val": 0.2, "test": 0.1,
                 "epochs": 3, "model": "widthk", "width": 2},
        "axes": {"batch_size": [32, 33]},
        "variants": [{"name": "plain"}, {"name": "imbalanced", "imbalance": 0.5, "balanced_test": 20}]}


def test_work_count_of_a_tiny_spec_equals_a_hand_count():
    work = trial_work(StudySpec.from_dict(TINY))
    got = [(w.params["batch_size"], w.params["variant"], w.train_images, w.eval_images) for w in work]
    # plain: 50 a class -> test 5, val 10, train 35; 3 classes: 105 train and 30 val an epoch, 15 test once.
    # imbalanced: square 25 (val 5, train 20), circle and star 50 (val 10, train 40): 100 train, 25 val an
    # epoch, and 20 a class of balanced test. Batch 33 leaves a last batch of one for 100: it is dropped.
    assert got == [(32, "plain", 3 * 105, 3 * 30 + 15), (32, "imbalanced", 3 * 100, 3 * 25 + 60),
                   (33, "plain", 3 * 105, 3 * 30 + 15), (33, "imbalanced", 3 * 99, 3 * 25 + 60)]


def test_full_double_descent_is_counted_from_its_protocol_without_data():
    spec, notes, source = spec_to_estimate("double-descent")
    assert source is None
    work = trial_work(spec)
    assert len(work) == 45 * 3
    # 10 categories x 10,000: 8,000 train and 2,000 held out each, 200 epochs, the held-out set every epoch
    assert {(w.train_images, w.eval_images) for w in work} == {(200 * 80_000, 200 * 20_000)}


def test_a_given_rate_gives_images_over_rate_hours_exactly():
    spec = StudySpec.from_dict(TINY)
    est = estimate(spec, images_per_second=1234.5)
    images = sum(w.train_images + w.eval_images for w in trial_work(spec))
    assert est.serial_hours == images / 1234.5 / 3600
    assert est.wall_hours == pytest.approx(est.serial_hours, rel=1e-12)  # one worker
    two = estimate(spec, workers=2, images_per_second=1234.5)
    assert est.serial_hours / 2 <= two.wall_hours < est.serial_hours
    shared = estimate(spec, per_gpu=2, gain=2.0, images_per_second=1234.5)  # two trials share a device at 2x
    assert shared.wall_hours == pytest.approx(two.wall_hours)


def test_timing_here_times_a_few_widths_and_interpolates_the_rest_between_them(home):
    spec = StudySpec.from_dict({**TINY, "variants": [], "axes": {"width": [1, 2, 3, 4, 6]},
                                "base": {**TINY["base"], "batch_size": 16, "epochs": 1}})
    est = estimate(spec, device="cpu", steps=2)
    rates = sorted(est.rates.values(), key=lambda r: r.flops)
    assert [r.how for r in rates].count("timed") == 4 and [r.how for r in rates].count("interpolated") == 1
    assert all(r.train > 0 and r.eval > 0 for r in rates)
    i = next(i for i, r in enumerate(rates) if r.how == "interpolated")
    lo, mid, hi = rates[i - 1], rates[i], rates[i + 1]
    assert lo.flops < mid.flops < hi.flops
    assert min(lo.train, hi.train) <= mid.train <= max(lo.train, hi.train)
    assert all(s is not None and s > 0 for s in est.seconds)
    assert not home.exists()  # real training steps, but no store and no run folder


def test_cli_estimate_writes_nothing_to_the_store(tmp_path):
    home = tmp_path / "home"
    (tmp_path / "tiny.json").write_text(json.dumps(TINY))
    env = dict(os.environ, QD_HOME=str(home), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "estimate", "tiny.json",
                        "--images-per-second", "1000", "--json"], env=env, capture_output=True, text=True,
                       timeout=scaled_timeout(120), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["trials"] == 4 and out["serial_hours"] == (out["train_images"] + out["eval_images"]) / 1000 / 3600
    assert not home.exists() or not any(home.rglob("*"))  # no store, no run folders
    bad = subprocess.run([sys.executable, "-m", "qdcore.cli.main", "study", "estimate", "double-descent",
                          "--device", "tpu"], env=env, capture_output=True, text=True, timeout=scaled_timeout(120), cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("qd: error: --device='tpu' must be one of auto, cpu, cuda, mps")


def test_a_classical_baseline_is_listed_but_not_projected():
    spec, _, _ = spec_to_estimate("baselines", quick=True)
    est = estimate(spec, images_per_second=500.0)
    kinds = [w.kind for w in est.work]
    assert "classical" in kinds and [s is None for s in est.seconds] == [k == "classical" for k in kinds]
    engine = sum(w.train_images + w.eval_images for w in est.work if w.kind != "classical")
    assert est.serial_hours == engine / 500.0 / 3600
    assert any("not projected" in line for line in est.lines())
