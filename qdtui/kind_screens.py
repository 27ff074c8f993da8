"""Which screen a run opens, by its kind: the TUI's own registry (the core names no screens).

A kind whose runs keep sample grids opens the GAN screen, a parent kind (a study) its study screen, a kind
whose finished runs can be evaluated the evaluation screen once done; anything else its live view. A kind
with a screen of its own registers it here (`register("mykind", "route", "arg")`).
"""

from __future__ import annotations

from qdcore.runs.kinds import SAMPLES, find_kind

# screen name -> (route in qdtui.app.ROUTES, the factory's argument)
SCREENS: dict[str, tuple[str, str]] = {"evaluation": ("run", "run_id"), "live": ("attach", "run_id"),
                                       "study": ("study", "study"), "samples": ("gan", "run_id")}
_BY_KIND: dict[str, str] = {}


def register(kind: str, route: str, arg: str = "run_id") -> None:
    """Open runs of `kind` on `route` (a screen of qdtui.app.ROUTES taking `arg`)."""
    SCREENS[f"kind:{kind}"] = (route, arg)
    _BY_KIND[kind] = f"kind:{kind}"


def screen_for(kind: str, finished: bool = True) -> str:
    """The screen a run of this kind opens: its registered one, else by what its runs can do."""
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    k = find_kind(kind)
    if k is None:
        return "live"
    if SAMPLES in k.abilities:
        return "samples"
    if k.parent:
        return "study"
    if k.evaluate is not None and k.predictor is not None:
        return "evaluation" if finished else "live"
    return "live"


def route_for(kind: str, finished: bool = True) -> tuple[str, str]:
    """(route, factory argument) of the screen a run of this kind opens."""
    return SCREENS[screen_for(kind, finished)]


def own_screen(kind: str) -> bool:
    """Whether runs of this kind have a screen of their own (a study, a GAN), followed there even while running."""
    return screen_for(kind) not in ("evaluation", "live")


def shows_predictions(kind: str) -> bool:
    """Whether a finished run of this kind opens the evaluation screen (its predictions)."""
    return screen_for(kind) == "evaluation"
