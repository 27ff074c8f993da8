"""Claims judged over seeds: a planted effect agrees, a planted null is inconclusive, bad claims are one line."""

from __future__ import annotations

import numpy as np
import pytest

from qdcore.errors import ConfigError
from qdcore.studies.claims import Claim, coef, decide, differs, hump, judge, trend
from qdcore.studies.results import StudyTable
from qdcore.studies.verdicts import study_verdicts


def _table(effect: float, seeds: int = 3, noise: float = 0.02, untrained: tuple[int, ...] = ()) -> StudyTable:
    """A grid over x = 1..5 and two variants, whose accuracy is 0.5 + effect * x (+ noise), variant b 0.1 higher
    when effect is set; the seed-0 trials listed in `untrained` are flagged not trained."""
    rng = np.random.default_rng(7)
    rows = []
    for s in range(seeds):
        for x in range(1, 6):
            for v in ("a", "b"):
                acc = 0.5 + effect * x + (0.1 * (effect != 0) if v == "b" else 0.0) + rng.normal(0, noise)
                i = len(rows) + 1
                rows.append({"trial": i, "variant": v, "x": x, "seed": s, "status": "done", "test_top1": acc,
                             "test_loss": 2 - acc, "classes": x + 2, "rows": 100 * (6 - x) + s,
                             "not_trained": "predicts one class" if (s == 0 and i in untrained) else None})
    return StudyTable(["variant", "x", "seed"], ["test_top1", "test_loss"], rows)


CLAIMS = [trend("test_top1", "x", "+", "accuracy rises with x"),
          differs("test_top1", {"variant": "b"}, {"variant": "a"}, "+", "b beats a"),
          coef("test_top1 ~ classes + rows", "classes", "+", "accuracy rises with classes"),
          differs("test_loss", {"x": "min"}, None, "+", "loss above accuracy at the smallest x", minus="test_top1")]


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.kind)
def test_planted_effect_agrees_and_planted_null_is_inconclusive(claim):
    v = judge(claim, _table(0.05))
    assert v.verdict == "agrees", v
    assert v.n == 3 and v.low < v.estimate < v.high
    if claim.kind != "diff" or claim.versus is None:
        return
    assert judge(claim, _table(0.0)).verdict == "inconclusive"


def test_null_trend_is_inconclusive_and_opposite_disagrees():
    assert judge(trend("test_top1", "x", "+", "rises"), _table(0.0)).verdict == "inconclusive"
    v = judge(trend("test_top1", "x", "-", "falls"), _table(0.05))
    assert v.verdict == "disagrees" and "against the paper" in v.why
    assert abs(v.estimate - 0.05) < 0.01  # the slope planted


def test_within_margin_and_hump():
    near = Claim("diff", "test_top1", "b within 0.2 of a", "~", where={"variant": "b"}, versus={"variant": "a"},
                 margin=0.2)
    assert judge(near, _table(0.05)).verdict == "agrees"
    far = Claim.from_dict({**near.to_dict(), "margin": 0.01})
    assert judge(far, _table(0.05)).verdict == "disagrees"
    assert decide(near, -0.1, 0.3)[0] == "inconclusive"
    rows = [{"seed": s, "status": "done", "w": w, "loss": y + 0.01 * s}
            for s in range(3) for w, y in zip(range(1, 7), (1.0, 0.8, 1.2, 1.1, 0.7, 0.6))]
    assert judge(hump("loss", "w", "double descent"), StudyTable(["w", "seed"], ["loss"], rows)).verdict == "agrees"
    mono = [{**r, "loss": 2.0 - r["w"] / 10 + 0.01 * r["seed"]} for r in rows]
    assert judge(hump("loss", "w", "dd"), StudyTable(["w", "seed"], ["loss"], mono)).verdict == "disagrees"
    two = judge(hump("loss", "w", "dd"), StudyTable(["w", "seed"], ["loss"], [r for r in rows if r["seed"] < 2]))
    assert two.verdict == "inconclusive" and "at least 3 seeds" in two.why


def _noise_studies(hump_height: float, studies: int, seeds: int = 3, widths: int = 8):
    """Verdicts of the hump claim on `studies` simulated studies: N(0, 1) noise per trial on a curve that is flat
    (height 0) or has a hump of `hump_height` at the middle width."""
    rng = np.random.default_rng(20)
    claim = hump("loss", "w", "double descent")
    shape = [hump_height * (w == widths // 2) for w in range(widths)]
    out = []
    for _ in range(studies):
        rows = [{"seed": s, "w": w + 1, "status": "done", "loss": shape[w] + rng.normal()}
                for s in range(seeds) for w in range(widths)]
        out.append(judge(claim, StudyTable(["w", "seed"], ["loss"], rows)).verdict)
    return {v: out.count(v) / studies for v in ("agrees", "disagrees", "inconclusive")}


@pytest.mark.parametrize("seeds", [3, 5])
def test_hump_in_pure_noise_is_inconclusive_at_the_nominal_rate(seeds):
    # Picking each seed's own highest point found a hump in 53% of these flat curves (3 seeds) and 98% (5 seeds).
    rates = _noise_studies(0.0, 600, seeds)
    assert rates["agrees"] <= 0.04 and rates["disagrees"] <= 0.04, rates
    assert rates["inconclusive"] >= 0.92, rates
    assert _noise_studies(4.0, 100, seeds)["agrees"] >= 0.5  # a planted hump is found


def test_too_few_seeds_unknown_metric_and_untrained_trials():
    one = judge(CLAIMS[0], _table(0.05, seeds=1))
    assert one.verdict == "inconclusive" and "one seed" in one.why and one.estimate is not None
    bad = judge(trend("val_top1", "x", "+", "nope"), _table(0.05))
    assert bad.verdict == "inconclusive" and bad.why == "the study does not record metric 'val_top1'"
    axis = judge(trend("test_top1", "width", "+", "nope"), _table(0.05))
    assert "no axis 'width'" in axis.why
    v = judge(CLAIMS[0], _table(0.05, untrained=(1, 3)))
    assert v.left_out == 2 and v.verdict == "agrees"
    absent = judge(differs("test_top1", {"variant": "sgd"}, {"variant": "a"}, "-", "sgd below"), _table(0.05))
    assert absent.verdict == "inconclusive" and absent.why == "the study runs no trial with variant 'sgd'"


def test_a_claim_quick_cannot_judge_is_inconclusive_under_quick_only():
    """A claim declaring why --quick cannot judge it: inconclusive there with that reason, its estimate still
    shown; the full protocol judges it."""
    claim = differs("test_top1", {"variant": "b"}, {"variant": "a"}, "+", "b beats a", quick_cannot="too few steps")
    spec = {"name": "s", "paper": {"claims": [claim.to_dict()]}}
    full, _ = study_verdicts(spec, _table(0.05))
    quick, _ = study_verdicts({**spec, "paper": {**spec["paper"], "quick": True}}, _table(0.05))
    assert full[0].verdict == "agrees" and quick[0].estimate == full[0].estimate
    assert quick[0].verdict == "inconclusive" and quick[0].why == "--quick cannot judge this: too few steps"
    with pytest.raises(ConfigError, match="quick_cannot=3 must be a string"):
        Claim.from_dict({**claim.to_dict(), "quick_cannot": 3})


def test_stored_specs_without_claims_and_malformed_claims():
    verdicts, notes = study_verdicts({"name": "mine", "paper": {}}, _table(0.05))
    assert verdicts == [] and "declares no claims" in notes[0]
    verdicts, notes = study_verdicts({"name": "imbalance quick", "paper": {"quick": True}}, _table(0.05))
    assert len(verdicts) == 3 and "stored before claims" in notes[0]
    assert all(v.verdict == "inconclusive" and "does not record" in v.why for v in verdicts)
    verdicts, notes = study_verdicts({"paper": {"claims": [{"kind": "trend", "metric": "m"}]}}, _table(0.05))
    assert verdicts == [] and notes == ["claims cannot be judged: claim 1: a claim needs text = \"...\""]
    with pytest.raises(ConfigError, match="unknown claim key 'metrc'"):
        Claim.from_dict({"kind": "trend", "metrc": "x"})
    with pytest.raises(ConfigError, match="where must be a table"):
        Claim.from_dict({"kind": "diff", "metric": "m", "text": "t", "where": "b", "versus": {}})
    with pytest.raises(ConfigError, match="margin='x' must be a number"):
        Claim.from_dict({"kind": "diff", "metric": "m", "text": "t", "versus": {}, "margin": "x"})
    with pytest.raises(ConfigError, match="a trend claim needs axis"):
        Claim.from_dict({"kind": "trend", "metric": "m", "text": "t"})


def test_claims_round_trip_and_every_named_study_declares_valid_ones():
    from qdcore.studies.named import NAMED

    for st in NAMED.values():
        assert st.claims, st.name
        for c in st.claims:
            assert Claim.from_dict(c.to_dict()) == c


def test_spec_file_claims_are_checked(tmp_path):
    from qdcore.studies.spec import load_spec

    p = tmp_path / "s.toml"
    p.write_text('[base]\nper_class = 20\n[[paper.claims]]\nkind = "trend"\nmetric = "test_top1"\ntext = "up"\n')
    with pytest.raises(ConfigError, match=r"s.toml: claim 1: a trend claim needs axis"):
        load_spec(p)
    p.write_text(p.read_text() + 'axis = "width"\n')
    assert load_spec(p).paper["claims"][0]["axis"] == "width"


@pytest.mark.parametrize("name", ["data-size", "imbalance", "classes-rows", "one-at-a-time", "double-descent",
                                  "categories", "baselines", "double-descent-small"])
def test_quick_protocol_gives_every_trial_its_minimum_steps(name):
    from qdcore.studies.named import QUICK_STEPS, named_spec
    from qdcore.studies.work import trial_work

    spec, _ = named_spec(name, quick=True, offline=True)
    assert spec.min_steps == QUICK_STEPS[name] and len(spec.seeds) == 3
    full, _ = named_spec(name, quick=False, offline=True)
    batches = {v.get("batch_size", full.base.get("batch_size")) for v in full.variants or [{}]}
    epochs = set()
    for w in trial_work(spec):
        batch = w.cfg.batch_size if hasattr(w.cfg, "batch_size") else None
        if batch is None or not hasattr(w.cfg, "epochs"):
            continue  # LightGBM: no optimizer steps
        epochs.add(w.cfg.epochs)
        counted = spec.base["batch_size"] if spec.equal_epochs else batch  # equal epochs: the base's steps
        per_epoch = -(-(w.train_images // w.cfg.epochs) // counted)
        assert per_epoch * w.cfg.epochs >= spec.min_steps, (name, w.params, per_epoch, w.cfg.epochs)
        assert batch in batches or batch == full.base.get("batch_size"), batch  # the protocol's batch sizes
    assert len(epochs) == 1 or not spec.equal_epochs, epochs


def test_equal_epochs_sizes_every_trial_by_the_base_batch(tmp_path):
    """min_steps with equal_epochs: each trial trains the epochs the base's batch needs for min_steps, so a batch
    variant is compared at equal epochs (a fixed-epoch protocol's comparison), not at equal steps."""
    from qdcore.studies.spec import StudySpec, expand, steps_per_epoch

    doc = {"base": {"categories": "a,b", "per_class": 100, "val": 0.0, "test": 0.0, "batch_size": 20},
           "variants": [{"name": "base"}, {"name": "small", "batch_size": 5}, {"name": "big", "batch_size": 200}],
           "min_steps": 30}
    own = {t.params["variant"]: t.options["epochs"] for t in expand(StudySpec.from_dict(doc))}
    assert own == {"base": 3, "small": 1, "big": 30}  # each trial its own steps: 30, 40, 30
    equal = expand(StudySpec.from_dict({**doc, "equal_epochs": True}))
    assert {t.options["epochs"] for t in equal} == {3}
    steps = {t.params["variant"]: steps_per_epoch(t.options) * t.options["epochs"] for t in equal}
    assert steps == {"base": 30, "small": 120, "big": 3}
    with pytest.raises(ConfigError, match=r"s: equal_epochs = 'yes' must be true or false"):
        StudySpec.from_dict({**doc, "equal_epochs": "yes"}, origin="s")
    assert StudySpec.from_dict(StudySpec.from_dict({**doc, "equal_epochs": True}).to_dict()).equal_epochs


def test_only_double_descent_says_quick_cannot_show_it():
    from qdcore.studies.named import NAMED
    from qdcore.studies.quick_limits import cannot_quick_note

    assert cannot_quick_note("imbalance", "demo") is None
    cannot = [n for n, st in NAMED.items() if st.quick_cannot]
    assert "double-descent" in cannot
    assert all(NAMED[n].smallest in NAMED for n in cannot)
    line = cannot_quick_note("double-descent", "demo", project=False)
    assert "cannot show in minutes" in line and "qd study estimate double-descent-small --seeds 3" in line
