"""Which screen a run opens, by its kind: the TUI's own registry (the core names no screens).

A kind whose runs keep sample grids opens the GAN screen, a parent kind (a study) its study screen, a kind
whose finished runs can be evaluated the evaluation screen once done; anything else its live view. A kind
with a screen of its own adds a route to qdtui.routes and registers it here (`register("mykind", "route")`).
"""

from __future__ import annotations

from qdcore.runs.kinds import SAMPLES, find_kind
from qdtui.routes import ROUTES

_BY_KIND: dict[str, str] = {}  # kind -> the route its runs open


def register(kind: str, route: str) -> None:
    """Open runs of `kind` on `route` (a route of qdtui.routes whose factory takes one run)."""
    if not ROUTES[route].arg:
        raise ValueError(f"route {route!r} does not open one run")
    _BY_KIND[kind] = route


def screen_for(kind: str, finished: bool = True) -> str:
    """The route a run of this kind opens: its registered one, else by what its runs can do."""
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    k = find_kind(kind)
    if k is None:
        return "attach"
    if SAMPLES in k.abilities:
        return "gan"
    if k.parent:
        return "study"
    if k.evaluate is not None and k.predictor is not None:
        return "run" if finished else "attach"
    return "attach"


def route_for(kind: str, finished: bool = True) -> tuple[str, str]:
    """(route, factory argument) of the screen a run of this kind opens."""
    route = screen_for(kind, finished)
    return route, ROUTES[route].arg


def own_screen(kind: str) -> bool:
    """Whether runs of this kind have a screen of their own (a study, a GAN), followed there even while running."""
    return screen_for(kind) not in ("run", "attach")


def shows_predictions(kind: str) -> bool:
    """Whether a finished run of this kind opens the evaluation screen (its predictions)."""
    return screen_for(kind) == "run"
