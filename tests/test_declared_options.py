"""Every option of `qd train`, `qd gan train`, `qd study run`, the data commands, `qd analyze` and `qdtui quiz`
comes from a declaration (qdcore.options): a flag added by hand, or a declaration left out, fails here."""

from __future__ import annotations

import re

import typer.main
from typer.testing import CliRunner

from qdcore.cli.main import app
from qdcore.options import fields_of

WIDE = {"COLUMNS": "400", "TERM": "dumb", "NO_COLOR": "1"}


def command(*path: str):
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def options_of(*path: str) -> dict[str, list[str]]:
    """name -> flags of a command's options (arguments and --help left out)."""
    return {p.name: [*p.opts, *p.secondary_opts] for p in command(*path).params
            if p.param_type_name == "option" and p.name != "help"}


def declared(*classes: type, select=lambda f: True) -> dict[str, str]:
    """name -> long flag of the declared fields of `classes` picked by `select`."""
    return {f.name: f.flag for cls in classes for f in fields_of(cls) if select(f)}


def assert_generated(path: tuple[str, ...], expected: dict[str, str]) -> None:
    got = options_of(*path)
    assert set(got) == set(expected), (f"qd {' '.join(path)}: options not declared: {sorted(set(got) - set(expected))}; "
                                       f"declared but missing: {sorted(set(expected) - set(got))}")
    for name, flag in expected.items():
        assert got[name][0] == flag, (name, got[name])


def test_qd_train_has_exactly_the_kinds_and_start_options():
    from qdcore.runs.kinds import all_kinds
    from qdcore.runs.start_options import TrainStart

    kinds = [k.config for k in all_kinds()]
    assert_generated(("train",), {**declared(*kinds, select=lambda f: f.opt.cli), **declared(TrainStart)})


def test_qd_gan_train_has_exactly_the_gan_and_start_options():
    from qdcore.runs.start_options import StartOptions
    from qdcore.train.gan_config import GanConfig

    assert_generated(("gan", "train"), {**declared(GanConfig, select=lambda f: f.opt.cli), **declared(StartOptions)})


def _row(text: str, flag: str) -> str:
    """The help row of `flag`, its wrapped lines joined."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(rf"│ {re.escape(flag)}\s", ln))
    row = [lines[start].strip("│ ")]
    for ln in lines[start + 1:]:
        if not re.match(r"│\s{10,}\S", ln):
            break
        row.append(ln.strip("│ "))
    return " ".join(row)


def test_train_help_shows_each_kinds_own_default_and_help():
    from qdcore.options import field_of
    from qdcore.runs.kinds import get_kind

    text = CliRunner().invoke(app, ["train", "--help"], env=WIDE).output
    lr = _row(text, "--lr")
    for kind in ("classifier", "classical", "strokes"):
        f = field_of(get_kind(kind).config, "lr")
        assert f"{f.default:g} for {kind}" in lr, lr
    assert "(default 0.001 for classifier" in lr and "0.1 for classical" in lr, lr
    assert "LightGBM: learning rate" in lr, lr  # the classical kind's own help beside the classifier's
    model = _row(text, "--model")
    assert "widthk for classifier" in model and "lightgbm for classical" in model and "dcgan for gan" in model
    # An option every kind declares alike keeps one plain default; one kind's option names that kind.
    assert _row(text, "--data").endswith("(default demo)"), _row(text, "--data")
    assert "(default 100 for gan)" in _row(text, "--latent-dim")
    # `qd gan train` has one kind: plain defaults.
    gan = CliRunner().invoke(app, ["gan", "train", "--help"], env=WIDE).output
    epochs = field_of(get_kind("gan").config, "epochs").default
    assert _row(gan, "--epochs").endswith(f"(default {epochs})") and " for gan" not in gan


def test_qd_study_run_and_resume_have_exactly_the_study_options():
    from qdcore.kinds.study import RESUMABLE, StudyConfig, StudyResume, StudyStart, study_option

    study = declared(StudyConfig, select=lambda f: study_option(f) and not f.opt.argument)
    assert {"quick", "data", "categories", "seeds", "workers", "per_gpu", "max_trials"} <= set(study)
    assert_generated(("study", "run"), {**study, **declared(StudyStart)})
    assert [p.name for p in command("study", "run").params if p.param_type_name == "argument"] == ["spec"]
    assert_generated(("study", "resume"), {**declared(StudyConfig, select=lambda f: f.name in RESUMABLE),
                                           **declared(StudyResume)})


def test_study_options_are_checked_by_their_declarations(home):
    runner = CliRunner()
    out = runner.invoke(app, ["study", "run", "data-size", "--workers", "0", "--dry-run"])
    assert out.exit_code == 2 and "--workers=0 must be a whole number >= 1" in out.output, out.output
    out = runner.invoke(app, ["study", "run", "data-size", "--executor", "slurm", "--dry-run"])
    assert out.exit_code == 2 and "--executor='slurm' must be one of local, ray" in out.output, out.output
    out = runner.invoke(app, ["study", "estimate", "data-size", "--seeds", "0"])
    assert out.exit_code == 2 and "--seeds=0 must be a whole number >= 1" in out.output, out.output


def test_the_study_dialogs_rows_are_the_declared_study_options(home):
    import asyncio

    from textual.widgets import Input, Select, Static
    from tui_helpers import wait_for

    from qdcore.kinds.study import StudyConfig, study_option
    from qdcore.options import form_fields
    from qdtui.app import QdApp
    from qdtui.screens.study_form import NewStudyDialog
    from qdtui.state import AppState
    from qdtui.widgets.option_rows import row_id

    declared_rows = sorted((f for f in form_fields(StudyConfig) if study_option(f)), key=lambda f: not f.opt.argument)
    assert [f.name for f in declared_rows] == ["spec", "data", "categories", "quick", "workers"]

    async def run() -> None:
        app = QdApp(AppState(home=home))
        async with app.run_test(size=(100, 40)) as pilot:
            app.push_screen(NewStudyDialog(home))
            await wait_for(pilot, lambda: isinstance(app.screen, NewStudyDialog) and app.screen.query("#f-workers"))
            form = app.screen
            ids = [w.id for w in form.query("Input, Select")]
            assert ids == [row_id(f.name) for f in declared_rows]
            assert [str(lb.render()) for lb in form.query(".form-row Label")] == [f.opt.form for f in declared_rows]
            assert isinstance(form.query_one("#f-spec"), Select) and isinstance(form.query_one("#f-quick"), Select)
            # A bad value is refused with the line `qd study run --workers 0` prints.
            form.query_one("#f-workers", Input).value = "0"
            form.start()
            await app.workers.wait_for_complete()
            await wait_for(pilot, lambda: "--workers=0" in str(form.query_one("#new-note", Static).render()))
            assert "must be a whole number >= 1" in str(form.query_one("#new-note", Static).render())

    asyncio.run(run())


# Commands that read drawings without a run config: their data options are DataSelection's declarations.
DATA_COMMANDS = [("data", "info"), ("data", "show"), ("data", "quality"), ("data", "export"), ("data", "list"),
                 ("eval",), ("predict",)]
NARROWER = {("eval",): {"data"}, ("data", "list"): {"data"}}  # the same flag with this command's own help


def test_the_data_options_of_data_commands_are_the_declared_ones():
    from qdcore.options import DataSelection, fields_of

    data = {f.name: f for f in fields_of(DataSelection)}
    seen = set()
    for path in DATA_COMMANDS:
        for p in command(*path).params:
            if p.name not in data:
                continue
            f = data[p.name]
            seen.add(p.name)
            assert p.opts[0] == f.flag and (f.opt.short is None or f.opt.short in p.opts), (path, p.opts)
            if p.name not in NARROWER.get(path, ()):
                assert (p.help or "").startswith(f.opt.help), (path, p.name, p.help)
    assert seen == {"data", "categories", "per_class", "seed", "imbalance", "strict"}


def test_data_commands_check_values_by_the_declarations(home):
    runner = CliRunner()
    for args, line in [(["data", "show", "--seed", "-1"], "--seed=-1 must be a whole number >= 0"),
                       (["data", "quality", "--per-class", "0"], "--per-class=0 must be a whole number >= 1"),
                       (["eval", "1", "--device", "gpu"], "--device='gpu' must be one of auto, cpu, cuda, mps")]:
        out = runner.invoke(app, args)
        assert out.exit_code == 2 and line in out.output, (args, out.output)


def test_qd_analyze_has_the_declared_analysis_options():
    from qdcore.analysis.options import AnalyzeOptions, AnalyzeOutput

    # --progressive's narrower data options (DataSelection's, with this command's help) and --json.
    own = {"json_out", "data", "categories", "per_class"}
    ours = declared(AnalyzeOptions, AnalyzeOutput)
    got = options_of("analyze")
    assert set(got) == set(ours) | own, sorted(set(got) ^ (set(ours) | own))
    for name, flag in ours.items():
        assert got[name][0] == flag


def _argparse_flags(sub: str | None) -> set[str]:
    """The long flags of a `qdtui` subcommand (None: of `qdtui` itself)."""
    import argparse

    from qdtui.app import parse_args

    captured: dict[str | None, argparse.ArgumentParser] = {}
    real = argparse.ArgumentParser.parse_args

    def grab(self, args=None, namespace=None):  # the root parser: keep it and its subparsers, parse nothing
        captured[None] = self
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                captured.update(action.choices)
        return real(self, ["attach", "1"])

    argparse.ArgumentParser.parse_args = grab
    try:
        parse_args([])
    finally:
        argparse.ArgumentParser.parse_args = real
    return {s for a in captured[sub]._actions for s in a.option_strings if s.startswith("--")} - {"--help"}


def test_every_qdtui_flag_is_a_declaration():
    from qdcore.draw.options import DrawStart
    from qdcore.options import DataSelection, StoreHome, fields_of
    from qdcore.quiz.session import QuizConfig, QuizResume
    from qdtui.graphics import Display
    from qdtui.serve import ServeConfig

    def flags(*classes):
        return {("--no-" + f.flag[2:]) if f.base is bool and f.default is True else f.flag
                for cls in classes for f in fields_of(cls) if f.opt.cli}

    shared = {"--data", "--home", "--graphics"}
    assert shared == {fields_of(DataSelection)[0].flag} | flags(StoreHome, Display)
    assert _argparse_flags(None) == _argparse_flags("attach") == shared  # attach's RUN is its only argument
    assert _argparse_flags("quiz") == flags(QuizConfig, QuizResume) | shared
    assert _argparse_flags("serve") == flags(ServeConfig) | shared
    assert _argparse_flags("draw") == flags(DrawStart) | shared
    assert {"--name", "--n", "--run", "--choices", "--hard", "--time-limit", "--no-feedback", "--ink"} <= flags(QuizConfig)


def test_qdtui_checks_its_shared_flags_by_their_declarations(monkeypatch, capsys):
    import pytest

    from qdtui.app import parse_args

    assert parse_args(["--graphics", "SIXEL"]).graphics == "sixel"
    for argv, env, line in [(["--graphics", "vt100"], None, "--graphics='vt100' must be one of auto, kitty, sixel"),
                            ([], "vt100", "$QD_GRAPHICS: graphics='vt100' must be one of"),
                            (["draw", "--name", "x" * 5000], None, "--name is too long"),
                            (["quiz", "--resume", "x"], None, "--resume='x' must be a whole number >= 1")]:
        if env:
            monkeypatch.setenv("QD_GRAPHICS", env)
        else:
            monkeypatch.delenv("QD_GRAPHICS", raising=False)
        with pytest.raises(SystemExit) as e:
            from qdtui.app import state_from_args

            state_from_args(parse_args(argv))
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and err[0].startswith("qdtui: error:") and line in err[0], err


def test_train_kind_help_shows_only_that_kinds_options_and_defaults():
    from qdcore.options import field_of
    from qdcore.runs.kinds import get_kind

    runner = CliRunner()
    text = runner.invoke(app, ["train", "--kind", "classical", "--help"], env=WIDE).output
    lr = field_of(get_kind("classical").config, "lr")
    assert _row(text, "--lr").endswith(f"(default {lr.default:g})") and " for classical" not in text, _row(text, "--lr")
    assert "--num-leaves" in text and "--width " not in text and "--latent-dim" not in text
    gan = runner.invoke(app, ["train", "--kind=gan", "-h"], env=WIDE).output
    assert "--latent-dim" in gan and "--num-leaves" not in gan
    out = runner.invoke(app, ["train", "--kind", "nope", "--help"], env=WIDE)
    assert out.exit_code == 2 and out.output.startswith("qd: error: unknown kind of run 'nope'"), out.output
    # Without --help, --kind keeps every kind's options (it picks which one trains).
    assert "--width " in runner.invoke(app, ["train", "--help"], env=WIDE).output


def _every_command(cmd, path=()):
    yield path, cmd
    for name, sub in sorted(getattr(cmd, "commands", {}).items()):
        yield from _every_command(sub, (*path, name))


# Options and arguments not generated from a declaration (command path -> names), each with the reason.
HAND_WRITTEN: dict[tuple[str, ...], set[str]] = {
    (): {"show_completion", "install_completion"}}  # Typer's own shell-completion flags: no qd setting


def test_every_qd_option_and_argument_is_generated_from_a_declaration():
    from qdcore.cli.options import GENERATED

    root = typer.main.get_command(app)  # builds every command, so GENERATED holds what the declarations made
    hand: dict[tuple[str, ...], set[str]] = {}
    for path, cmd in _every_command(root):
        for p in cmd.params:
            if p.name == "help":
                continue
            f = GENERATED.get((p.opts[0] if p.param_type_name == "option" else p.metavar, p.help or ""))
            if f is None:
                hand.setdefault(path, set()).add(p.name)
            else:  # a declared_option's default is the function's: it must be the declared one, not a second value
                assert p.default in (None, f.default), (path, p.name, p.default, f.default)
    assert hand == HAND_WRITTEN, f"options written by hand instead of declared: {hand}"


def test_qdtui_usage_mistakes_are_one_line(capsys):
    import pytest

    from qdtui.app import parse_args

    for argv, line in [(["quiz", "--run", "zz!"], "--run: RUN must be a run id"),
                       (["nosuch\x1b[31m"], "invalid choice: 'nosuch\\x1b[31m'"),
                       (["quiz", "--n"], "--n: expected one argument; see 'qdtui quiz --help'"),
                       (["--frobnicate"], "unrecognized arguments: --frobnicate; see 'qdtui --help'")]:
        with pytest.raises(SystemExit) as e:
            parse_args(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert e.value.code == 2 and len(err) == 1 and err[0].startswith("qdtui: error:") and line in err[0], err
        assert "\x1b" not in err[0]
