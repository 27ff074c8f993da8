"""Every `qd ... --help` in one style: help texts printed literally, one metavar style, flags shown as flags,
defaults as '(default x)'; plurals and units from one formatter; `qd predict` compares with a file's words."""

from __future__ import annotations

import json
import re

import pytest
import typer.main
from typer.testing import CliRunner

from qdcore.cli.main import app

WIDE = {"COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"}


def _commands(cmd, path=()):
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def test_every_help_text_is_printed_literally_in_one_style():
    runner = CliRunner()
    raw = typer.main.get_command(app)  # the declarations as written, before qd tidies them for printing
    checked = 0
    for path, cmd in _commands(raw):
        out = runner.invoke(app, [*path, "--help"], env=WIDE)
        assert out.exit_code == 0, (path, out.output)
        text = out.output
        assert not re.search(r"<(bool|str|int|float|text|path)>", text, re.I), (path, text)
        assert "--no-no-" not in text and "[default:" not in text, (path, text)
        assert "{" not in text.split("\n", 3)[1], (path, text)  # the usage line names arguments RUN, not {run}
        for param in cmd.params:
            flat = " ".join((param.help or "").split())
            for token in re.findall(r"\S*\[[^\]\s]*\]\S*", flat):  # e.g. 'qd[ray]': Rich markup must not eat it
                assert token in text, (path, param.name, token)
            if getattr(param, "is_flag", False):
                row = next((ln for ln in text.splitlines() if param.opts[0] + " " in ln), "")
                assert not re.search(r"\b(BOOL|BOOLEAN|TEXT)\b", row), (path, row)
        checked += 1
    assert checked > 30


def test_the_ray_extra_and_single_negative_flags_read_right():
    runner = CliRunner()
    study = runner.invoke(app, ["study", "run", "--help"], env=WIDE).output
    assert "pip install 'qd[ray]'" in study and "(default local)" in study
    gan = runner.invoke(app, ["gan", "train", "--help"], env=WIDE).output
    assert re.search(r"--no-judge\s+Record losses only", gan), gan


def test_one_plural_and_unit_formatter_in_the_run_lines(home):
    from qdcore.runs.kinds import get_kind

    out = CliRunner().invoke(app, ["train", "--model", "logreg", "--categories", "circle,square", "--per-class", "60",
                                   "--max-iter", "4", "--iters-per-step", "2"], env=WIDE)
    assert out.exit_code == 0, out.output
    assert "L-BFGS chunks" in out.output and " epoch" not in out.output, out.output
    assert get_kind("classical").unit({"model": "lightgbm"}) == "boosting round"
    one = CliRunner().invoke(app, ["train", "--categories", "circle,square", "--per-class", "60", "--epochs", "1",
                                   "--width", "4"], env=WIDE)
    assert one.exit_code == 0 and "1 epoch " in one.output and "1 epochs" not in one.output, one.output


def test_the_train_screens_help_names_real_commands():
    from qdcore.data.categories import NAMED_SETS
    from qdtui.screens.train import TrainScreen

    text = " ".join(t for _, t in TrainScreen.HELP_EXTRA)
    assert "qd data sets" not in text and "qd data list" in text and all(s in text for s in NAMED_SETS)


def test_predict_compares_with_the_files_words_and_says_which_are_not_classes(home, tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["train", "--categories", "circle,square", "--per-class", "60", "--epochs", "1",
                               "--width", "4"]).exit_code == 0
    lines = [{"word": w, "countrycode": "US", "timestamp": "2017", "recognized": True, "key_id": str(i),
              "drawing": [[[0, 50, 100, 50, 0], [0, 50, 0, 100, 0]]]}
             for i, w in enumerate(["circle", "square", "hexagon", "circle"])]
    f = tmp_path / "mix.ndjson"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = runner.invoke(app, ["predict", "last", str(f)], env=WIDE)
    assert out.exit_code == 0, out.output
    assert "'hexagon' is not among run 1's 2 classes" in out.output and "truth" in out.output
    data = json.loads(runner.invoke(app, ["predict", "last", str(f), "--json"]).stdout)
    assert [r["truth"] for r in data["predictions"]] == ["circle", "square", None, "circle"]
    assert data["with_truth"] == 3 and data["file_category"] is None
    expected = sum(r["top"][0]["class"] == r["truth"] for r in data["predictions"] if r["truth"]) / 3
    assert data["top1_where_truth_known"] == pytest.approx(expected)
