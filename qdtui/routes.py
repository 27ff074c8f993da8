"""The app's screens by name: one registry for the home keys, the command palette, and what a run opens.

A route names a screen class as 'module:Class', imported on first use so the first paint stays fast. `key` puts
it on the home screen, `title` in the command palette (ctrl+p), and `arg` is the argument its factory takes
when it opens one run (qdtui.kind_screens says which route a run's kind opens).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """One screen that `app.open(name)` opens."""

    name: str
    target: str  # 'module:Class'
    label: str = ""  # the home footer's word
    key: str = ""  # the home screen's key
    title: str = ""  # its name in the command palette (ctrl+p)
    about: str = ""  # the palette's line under the title
    arg: str = ""  # the factory's argument when it opens one run (run_id, study)

    def load(self) -> type:
        """The screen class."""
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


# In the home footer's order; the next screens slot in here.
ROUTES: dict[str, Route] = {r.name: r for r in (
    Route("train", "qdtui.screens.train:TrainScreen", "Train", "t", "Train a model", "the training form"),
    Route("runs", "qdtui.screens.runs:RunsScreen", "Runs", "r", "Runs", "every run in the store, sortable"),
    Route("studies", "qdtui.screens.studies:StudiesScreen", "Studies", "s"),
    Route("data", "qdtui.screens.data_browser:DataBrowserScreen", "Data", "d",
          "Data", "browse the drawings of a source"),
    Route("quiz", "qdtui.screens.quiz_setup:QuizSetupScreen", "Quiz", "z",
          "Quiz", "how well people recognise the drawings"),
    Route("draw", "qdtui.screens.draw:DrawScreen", "Draw", "g"),  # factory(run_id=..., game=..., drawer=...)
    Route("attach", "qdtui.screens.live:LiveScreen", arg="run_id"),  # following a run live
    Route("run", "qdtui.screens.evaluation:EvaluationScreen", arg="run_id"),  # evaluation of a finished run
    Route("study", "qdtui.screens.studies:StudyScreen", arg="study"),  # one study's trials, plot and OLS
    Route("gan", "qdtui.screens.gan:GanScreen", arg="run_id"),  # a GAN run's samples and quality, live or finished
)}
