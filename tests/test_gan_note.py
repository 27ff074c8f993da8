"""A GAN run without a judge says why its judged share and Frechet distance are empty, wherever they show."""

from __future__ import annotations

from typer.testing import CliRunner


def _gan_run(home, config):
    from qdcore.store import Store

    with Store(home) as store:
        rid = store.create_run("g", "gan", {"model": "dcgan", "epochs": 2, **config})
        store.set_started(rid, "cpu", "", {"judge": None})
        store.log_metrics(rid, [(10, 1, "train", "g_loss", 1.5), (10, 1, "train", "d_loss", 0.7)])
        store.finish_run(rid, "done", {"epochs": 1, "judge": None})
        return store.get_run(rid)


def test_the_reason_is_given_in_qd_and_the_live_view(home):
    from qdcore.cli.main import app
    from qdcore.runs.kinds import get_kind
    from qdtui.live_state import LiveState

    rec = _gan_run(home, {"no_judge": True})
    note = get_kind("gan").note_for(rec.config, rec.summary)
    assert note == "not judged: the run was started with --no-judge (losses only)"
    out = CliRunner().invoke(app, ["gan", "quality", "last"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and f"judged, FD: {note}" in out.output, out.output
    view = LiveState()
    view.on_record(rec)
    assert note in view.status_text().plain
    other = _gan_run(home, {"categories": "apple,banana"})
    assert "no finished classifier covering apple,banana" in get_kind("gan").note_for(other.config, other.summary)
    assert get_kind("gan").note_for({}, {"judge": 3}) == "" and get_kind("gan").note_for({}, {}) == ""
    assert get_kind("classifier").note_for({}, {}) == ""


def test_the_gan_screen_says_why_its_quality_is_empty(home):
    from tui_helpers import settle, sync, wait_for

    from qdtui.app import QdApp
    from qdtui.screens.gan import GanScreen
    from qdtui.state import AppState

    rid = _gan_run(home, {"no_judge": True}).id

    @sync
    async def check() -> None:
        app = QdApp(AppState(home=home, attach_run=rid))
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, GanScreen) and app.screen.polls > 0, 30, "the run")
            screen = app.screen
            assert "--no-judge" in str(screen.query_one("#gan-info").content)
            await pilot.press("p", "p")  # the judged panel
            await settle(app, pilot)
            curves = screen.query_one("#gan-curves")
            assert "not judged" in curves.empty_note and "not judged" in str(curves.render())

    check()
