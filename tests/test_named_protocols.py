"""The named studies' full protocols against their papers: every trial builds, deviations are declared, 001's
training recipe (lr, split, plateau schedule, extra convs) is the paper's."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["data-size", "imbalance", "classes-rows", "one-at-a-time", "double-descent",
                                  "categories", "baselines"])
def test_full_named_specs_build_every_trial_and_declare_their_deviations(name):
    import torch

    from qdcore.models import build_model
    from qdcore.runs.kinds import get_kind
    from qdcore.studies.named import named_spec
    from qdcore.studies.spec import expand

    spec, _ = named_spec(name, offline=True)  # the paper's protocol as written, without its data
    assert spec.paper["deviations"] and all(isinstance(d, str) and d for d in spec.paper["deviations"])
    seen = set()
    for trial in expand(spec):
        cfg = get_kind(trial.kind).config.from_dict(trial.options, origin=name)
        if trial.kind == "classifier" and (cfg.model, str(cfg.model_options())) not in seen:
            seen.add((cfg.model, str(cfg.model_options())))
            with torch.device("meta"):
                assert build_model(cfg.model, 11, **cfg.model_options()).arch["init"] == "keras"


def test_one_at_a_time_full_protocol_is_001s():
    from qdcore.models import build_model, count_params
    from qdcore.studies.named import named_spec

    spec, _ = named_spec("one-at-a-time", offline=True)
    b = spec.base
    assert (b["lr"], b["val"], b["test"], b["plateau_patience"], b["plateau_factor"]) == (0.01, 0.2, 0.2, 2, 0.1)
    assert b["patience"] % b["plateau_patience"] == 0  # 001: early stopping a multiple of the plateau's patience
    plus2 = next(v for v in spec.variants if v["name"] == "+2 convs")
    model = build_model("cnn-001-baseline", 11, **plus2["model_opts"])
    # Two more 3x3 convs than the baseline (32->32, 64->64), valid padding kept, flatten still 128 wide.
    assert count_params(model) == 164_363 + 9_248 + 36_928
    assert sum(1 for n, _ in model.named_children() if n.startswith("conv")) == 5
    assert model.arch["padding"] == "valid" and model.dense1.in_features == 128


def test_001s_plateau_schedule_lowers_the_lr_on_a_plateau():
    """The one-at-a-time base's ReduceLROnPlateau (factor 0.1 after 2 flat epochs) on demo data: with a min_delta no
    loss can beat, every epoch after the first is flat, so the lr falls tenfold after every second flat epoch until
    the early stopping (patience 6) ends the run."""
    import torch

    from qdcore.data.selection import load_splits
    from qdcore.studies.named import named_spec
    from qdcore.train.config import TrainConfig
    from qdcore.train.engine import train

    torch.set_num_threads(1)
    spec, _ = named_spec("one-at-a-time", offline=True)
    keep = ("optimizer", "lr", "eps", "patience", "plateau_patience", "plateau_factor", "min_lr")
    cfg = TrainConfig(data="demo", categories="circle,square", per_class=40, val=0.25, test=0.25, model="fc",
                      epochs=10, batch_size=16, min_delta=1e6, amp=False, **{k: spec.base[k] for k in keep})
    r = train(cfg, splits=load_splits(cfg))
    assert r.summary["stopped_early"] and r.summary["epochs"] == 7 and r.summary["best_epoch"] == 1
    # Epochs 2 and 3 are flat: epoch 4 runs at a tenth, and so on every second epoch, as Keras's callback does.
    assert r.history["lr"] == pytest.approx([1e-2, 1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4])


STAGED = ["gan-augment", "d-classifier", "gan-classes", "clusters"]
# Tiny: a few drawings and one or two epochs; the specs' structure (stages, refs, kinds, claims) is what is tested.
SHRINK = {"per_class": 40, "epochs": 2, "g_width": 4, "d_width": 4, "width": 2, "quality_n": 16, "batch_size": 16}


def _shrunk(value):
    if isinstance(value, dict):
        return {k: (SHRINK[k] if k in SHRINK else _shrunk(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_shrunk(v) for v in value]
    return value


@pytest.mark.parametrize("name", STAGED)
def test_staged_named_specs_validate_and_declare(name):
    from qdcore.studies.named import named_spec
    from qdcore.studies.validate import validate

    spec, notes = named_spec(name, quick=True, data="demo")
    assert spec.then or name == "d-classifier"
    assert spec.paper["claims"] and spec.paper["deviations"]
    assert validate(spec)  # the first stage's trials; later ones are checked when the runs they use exist
    full, _ = named_spec(name, offline=True)
    assert full.base["per_class"] > spec.base["per_class"]


@pytest.mark.parametrize("name", STAGED)
def test_staged_named_study_runs_end_to_end_on_demo(name, home, tmp_path):
    """A tiny copy of the quick spec: every stage runs, later trials use the earlier trials' runs, the claims
    are judged (a verdict each, whatever it is at this size)."""
    import json

    from qdcore.kinds.study import StudyConfig
    from qdcore.store import Store
    from qdcore.studies import trials as T
    from qdcore.studies.claims import Claim, judge_all
    from qdcore.studies.named import named_spec
    from qdcore.studies.results import study_table
    from qdcore.studies.runner import create_study, run_study

    spec, _ = named_spec(name, quick=True, data="demo", seeds=2)
    doc = {**_shrunk(spec.to_dict()), "min_steps": None}  # tiny: the quick protocol's step floor left out
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(doc))
    with Store(home) as store:
        sid = create_study(store, StudyConfig().replace(spec=str(path)))
        first = len(T.trials(store, sid))
        p = run_study(store, sid, workers=1)
        rows = T.trials(store, sid)
        assert p.counts["failed"] == 0 and p.counts["queued"] == 0, [r.error for r in rows if r.error]
        assert store.get_run(sid).status == "done"
        later = rows[first:]
        assert len(later) == sum(len(s["variants"]) for s in doc["then"]) * 2
        earlier = {(r.params.get("variant"), r.config["seed"]): r.run_id for r in rows[:first]}
        for stage in doc["then"]:
            for option, variant in stage["refs"].items():
                for r in later:
                    want = earlier[(variant, r.config["seed"])]
                    # "real" opts out of the GAN's drawings; every other later trial uses its seed's run
                    assert r.config[option] in (want, None) and (r.config[option] == want or option == "synthetic")
        table = study_table(store, sid)
        verdicts = judge_all([Claim.from_dict(c) for c in doc["paper"]["claims"]], table)
        assert len(verdicts) == len(doc["paper"]["claims"])
        assert all(v.verdict in ("agrees", "disagrees", "inconclusive") for v in verdicts)
        for c in doc["paper"]["claims"]:  # every claim's numbers are columns of the study's table
            assert {c["metric"], c.get("minus") or c["metric"]} <= set(table.metrics), (c, table.metrics)


def test_qd_study_named_lists_a_studys_deviations():
    from typer.testing import CliRunner

    from qdcore.cli.main import app

    r = CliRunner().invoke(app, ["study", "named"])
    assert r.exit_code == 0 and "deviations" in r.output and "gan-augment" in r.output and "clusters" in r.output
    r = CliRunner().invoke(app, ["study", "named", "one-at-a-time"], terminal_width=200)
    assert r.exit_code == 0 and "+2 convs" in r.output and "ReduceLROnPlateau" in r.output
    assert "--quick cannot judge it: Keras's SGD" in r.output and "--quick: sgd is not run" in r.output
    r = CliRunner().invoke(app, ["study", "named", "one-at-a-tim"])
    assert r.exit_code == 2 and "did you mean 'one-at-a-time'" in r.output


def test_init_is_a_declared_option_of_classifier_and_gan_runs():
    from qdcore.errors import ConfigError
    from qdcore.options import field_of, parse_text
    from qdcore.train.config import TrainConfig, build_config
    from qdcore.train.gan_config import GanConfig

    cfg = build_config(None, None, {"model": "cnn2-000", "init": "torch"})
    assert cfg.model_options()["init"] == "torch"
    assert GanConfig().replace(init="torch").model_options()["init"] == "torch"
    f = field_of(TrainConfig, "init")
    assert f.flag == "--init" and f.opt.form == "Init" and parse_text(f, "KERAS", "") == "keras"
    with pytest.raises(ConfigError, match="--init='xavier' must be one of keras, torch"):
        parse_text(f, "xavier", "")


def test_double_descent_label_noise_where_the_literature_has_it_and_quick_runs_only_claimed_variants():
    from qdcore.studies.named import named_spec
    from qdcore.studies.paper_claims import ONE_AT_A_TIME
    from qdcore.studies.spec import expand

    small, _ = named_spec("double-descent-small", offline=True)
    assert {t.options["label_noise"] for t in expand(small)} == {0.2}  # Nakkiran et al.'s setting
    full, _ = named_spec("double-descent", offline=True)
    assert all(t.options.get("label_noise", 0.0) == 0.0 for t in expand(full))  # 003 used none
    quick, _ = named_spec("one-at-a-time", quick=True, offline=True)
    claimed = {c.where["variant"] for c in ONE_AT_A_TIME} | {c.versus["variant"] for c in ONE_AT_A_TIME}
    # sgd cannot leave the prior in --quick's steps: not run, declared (its claim is then inconclusive)
    assert {v["name"] for v in quick.variants} == claimed - {"sgd"} and len(claimed) == 15
    assert any(d.startswith("--quick: sgd is not run") for d in quick.paper["deviations"])
    assert len(named_spec("one-at-a-time", offline=True)[0].variants) == 20  # the full protocol keeps them all


def test_one_at_a_time_quick_compares_batches_at_equal_epochs_warmed_up_to_001s_lr():
    """001 trained every variant for the same epochs: --quick gives the batch variants the baseline's epochs
    (not its steps), and warms the lr up to 001's 0.01; both are declared only in the quick protocol."""
    from qdcore.studies.named import named_spec
    from qdcore.studies.spec import expand, steps_per_epoch

    quick, notes = named_spec("one-at-a-time", quick=True, offline=True)
    trials = {t.params["variant"]: t.options for t in expand(quick) if t.params["seed"] == 0}
    assert {o["epochs"] for o in trials.values()} == {trials["baseline"]["epochs"]}
    steps = {v: steps_per_epoch(o) * o["epochs"] for v, o in trials.items()}
    assert steps["batch 32"] > steps["baseline"] >= quick.min_steps > steps["batch 1000"]
    assert {o["warmup_epochs"] for o in trials.values()} == {2.0} and trials["baseline"]["lr"] == 0.01
    assert "equal epochs" in notes[0]
    full, _ = named_spec("one-at-a-time", offline=True)
    assert not any(d.startswith("--quick") for d in full.paper["deviations"]) and "warmup_epochs" not in full.base
    assert sum(d.startswith("--quick") for d in quick.paper["deviations"]) == 3


def test_fidelity_benchmark_defaults_to_every_quick_study_and_tables_each_claim(monkeypatch, capsys):
    """benchmarks/fidelity.py runs every named study that has a --quick protocol (double-descent-small has none:
    hours) and prints one row per claim with its interval, verdict and minutes."""
    import importlib.util
    import sys
    from pathlib import Path

    from qdcore.studies.named import NAMED

    assert [n for n, st in NAMED.items() if not st.has_quick] == ["double-descent-small"]
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "fidelity.py"
    spec = importlib.util.spec_from_file_location("fidelity_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    claim = {"claim": "b beats a", "paper_text": "better", "estimate": 0.05, "low": 0.01, "high": 0.09,
             "seeds": 3, "verdict": "agrees"}
    rows = mod.table([{"study": "s", "minutes": 2.0, "cpu_minutes": 1.5, "claims": [claim]},
                      {"study": "t", "minutes": 0.1, "cpu_minutes": 0.1, "claims": [], "error": "boom"}])
    assert "| s | b beats a | better | 0.05 [0.01, 0.09] | agrees | 2.0 / 1.5 |" in rows
    assert "| t | — | — | — | failed: boom | 0.1 / 0.1 |" in rows
    monkeypatch.setattr(sys, "argv", ["fidelity.py", "--data", str(path.parent / "no-such-data")])
    mod.main()
    assert "fidelity: skipped: no drawings at" in capsys.readouterr().out
