"""Progress that moves: logging windows close on time as well as steps, a view attached before the first epoch ends
knows how far the run is, and a resumed run's bars start where the run is."""

from __future__ import annotations

import io

import pytest

from qdcore.events import EpochEnd, ListSink, Progress, RunStarted

# One epoch of a dozen steps with a logging window longer than the epoch: only time can close a window early.
SMALL = dict(data="demo", categories="circle,square", per_class=200, epochs=2, batch_size=32, width=4, amp=False,
             log_every=1000)


def _steps_logged(sink: ListSink, epoch: int) -> list[int]:
    return [e.step for e in sink.of(Progress) if e.epoch == epoch]


@pytest.mark.parametrize("seconds", [0.0, 1e9])
def test_a_window_closes_after_log_seconds_whatever_the_epoch_size(home, monkeypatch, seconds):
    import qdcore.events
    from qdcore.runs.run import start
    from qdcore.train.config import TrainConfig

    monkeypatch.setattr(qdcore.events, "LOG_SECONDS", seconds)
    sink = ListSink()
    start(TrainConfig(**{**SMALL, "epochs": 1}), sink=sink)
    spe = sink.of(RunStarted)[0].steps_per_epoch
    assert spe > 5
    # Every step takes longer than 0 s; with an endless window only the epoch's end closes it.
    assert _steps_logged(sink, 1) == (list(range(1, spe + 1)) if seconds == 0 else [spe])


def test_a_gan_window_closes_on_time_too(home, monkeypatch):
    import qdcore.events
    from qdcore.runs.run import start
    from qdcore.train.gan_config import GanConfig

    monkeypatch.setattr(qdcore.events, "LOG_SECONDS", 0.0)
    sink = ListSink()
    start(GanConfig(data="demo", categories="circle", per_class=96, epochs=1, batch_size=32, g_width=4, d_width=4,
                    latent_dim=8, no_judge=True, quality_n=8, amp=False, log_every=1000), sink=sink)
    spe = sink.of(RunStarted)[0].steps_per_epoch
    assert [e.step for e in sink.of(Progress)] == list(range(1, spe + 1))


def test_a_view_attached_before_the_first_epoch_ends_knows_how_far_the_run_is(home, monkeypatch):
    import qdcore.events
    from qdcore.runs.run import start
    from qdcore.store import Store
    from qdcore.train.config import TrainConfig
    from qdtui.live_state import LiveState

    monkeypatch.setattr(qdcore.events, "LOG_SECONDS", 0.0)
    seen: list[tuple[float, str]] = []
    store = Store(home)

    def attach(event) -> None:  # what `qdtui attach` reads, at the third step of the first epoch
        if isinstance(event, Progress) and event.step == 3 and not seen:
            rec = store.list_runs()[0]
            view = LiveState()
            view.on_record(rec)
            view.on_rows(store.metrics(rec.id))
            seen.append((view.fraction, view.progress_text()))

    start(TrainConfig(**SMALL), store, sink=attach)
    fraction, text = seen[0]
    spe = store.list_runs()[0].summary["steps_per_epoch"]
    assert fraction == pytest.approx(3 / (2 * spe)) and f"step 3/{spe}" in text and "epoch 1/2" in text, text


def test_a_resumed_run_starts_its_bars_where_it_is(home):
    from rich.console import Console

    from qdcore.cli.progress import RichProgressSink
    from qdcore.runs.run import resume, start
    from qdcore.store import Store
    from qdcore.train.config import TrainConfig
    from qdtui.live_state import LiveState

    store = Store(home)
    first = ListSink()
    calls = {"n": 0}

    def stop_in_epoch_two() -> bool:
        calls["n"] += 1
        return bool(first.of(EpochEnd)) and calls["n"] >= len(_steps_logged(first, 1)) + 3

    cfg = TrainConfig(**{**SMALL, "log_every": 1})
    out = start(cfg, store, first, stop_in_epoch_two)
    assert out.status == "interrupted"
    stopped_at = first.of(Progress)[-1]
    assert stopped_at.epoch == 2
    later = ListSink()
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    bar = RichProgressSink(console, live=True)
    view = LiveState()

    def watch(event) -> None:
        bar(event)
        later(event)
        if isinstance(event, RunStarted):
            view.on_event(event)
            later.events.append(("bar", bar.progress.tasks[0].completed, bar.progress.tasks[0].fields["epoch"]))

    assert resume(out.run_id, store, watch).status == "done"
    started = later.of(RunStarted)[0]
    assert (started.start_step, started.start_epoch) == (stopped_at.step, 2)
    assert ("bar", stopped_at.step, 2) in later.events
    spe = started.steps_per_epoch
    assert view.step_in_epoch() == (stopped_at.step - spe, spe)
    assert "resuming at epoch 2" in console.file.getvalue()
