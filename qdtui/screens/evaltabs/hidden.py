"""Hidden tab: the feature maps after each conv and pool layer for one test drawing, as grids."""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from qdcore.fmt import literal
from qdtui.loaders import user_message
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.widgets.drawing import Drawing
from qdtui.workers import deliver

MAX_MAPS = 64  # channels shown per layer


def layout(c: int, h: int, w: int, width: int) -> tuple[float, int, int]:
    """(zoom, columns, pad) to tile c maps of h x w pixels into `width` cells: small maps larger, big ones halved."""
    zoom = 2.0 if w <= 7 else 1.0 if w <= 16 else 0.5
    pad = 2 if zoom < 1 else 1
    cols = max(1, int((width / zoom + pad) // (w + pad)))
    return zoom, min(c, cols), pad


def tile_image(maps: np.ndarray, cols: int, pad: int) -> np.ndarray:
    """uint8 (H, W): maps (C, h, w) in a grid, each scaled to its own range."""
    from qdcore.analysis.hidden import tile

    return np.round(tile(maps, cols=cols, pad=pad) * 255).astype(np.uint8)


class HiddenPane(EvalPane):
    """The chosen drawing on the left; each layer's maps below one another on the right."""

    TAB, LABEL = "hidden", "Hidden"  # its id and its tab's label

    DEFAULT_CSS = """
    HiddenPane #hidden-main { height: 1fr; }
    HiddenPane #hidden-input { width: 30; height: 1fr; }
    HiddenPane #hidden-drawing { width: 28; height: 14; }
    HiddenPane #hidden-caption { height: auto; padding: 0 1; color: $text-muted; }
    HiddenPane #hidden-layers { width: 1fr; height: 1fr; }
    HiddenPane .layer-heading { height: 1; text-style: bold; color: $text-accent; }
    HiddenPane .layer-maps { margin-bottom: 1; }
    """
    BINDINGS = [
        Binding("left_square_bracket", "step(-1)", "Prev drawing", key_display="["),
        Binding("right_square_bracket", "step(1)", "Next drawing", key_display="]"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.index = 0  # the drawing shown
        self.maps_of: int | None = None  # the drawing whose maps are shown
        self.layer_maps: list[tuple[str, np.ndarray]] = []

    def compose_body(self) -> ComposeResult:
        yield Static("", id="hidden-line", classes="pane-line")
        with Horizontal(id="hidden-main"):
            with Vertical(id="hidden-input"):
                yield Drawing(id="hidden-drawing")
                yield Static("", id="hidden-caption")
            yield VerticalScroll(id="hidden-layers", can_focus=True)

    def set_data(self, data, models) -> None:
        super().set_data(data, models)
        self.maps_of = None
        self.index = 0

    def select(self, index: int) -> None:
        """Show drawing `index` (maps computed when the tab is visible)."""
        self.index = int(index)
        if self.started and self.is_visible_tab:
            self.start()

    @property
    def is_visible_tab(self) -> bool:
        """The tab is the visible one."""
        return self.display and self.region.area > 0

    def start(self) -> None:
        if self.data is None or not self.data.ok or self.maps_of == self.index:
            return
        self.loading = True
        self.compute(self.index)

    def activate(self) -> None:
        super().activate()
        if self.started and self.maps_of != self.index:
            self.start()

    @work(thread=True, exclusive=True, group="hidden", exit_on_error=False)
    def compute(self, index: int) -> None:
        """One forward pass with hooks on every conv and pool layer."""
        from qdcore.analysis.hidden import feature_maps

        try:
            model, _ = self.models.get()
            with self.models.use:
                layers = feature_maps(model, self.models.inputs(self.data.pred, [index])[0])
        except Exception as e:  # noqa: BLE001 - non-CNN, missing model
            deliver(self, self.say, f"Hidden-layer maps: {user_message(e)}")
            return
        deliver(self, self._show, index, layers)

    def _show(self, index: int, layers: list[tuple[str, np.ndarray]]) -> None:
        self.loaded()
        self.unsay()
        self.maps_of, self.layer_maps = index, layers
        pred = self.data.pred
        self.query_one("#hidden-drawing", Drawing).image = pred.images[index]
        t, p = int(pred.labels[index]), int(self.data.predicted[index])
        cap = Text(f"truth {literal(pred.classes[t])}\npredicted {literal(pred.classes[p])} {self.data.p_pred(index):.2f}\n",
                   style="")
        cap.append(literal(pred.provenance[index]) if index < len(pred.provenance) else "", style="dim")
        self.query_one("#hidden-caption", Static).update(cap)
        self.query_one("#hidden-line", Static).update(Text(
            f"drawing #{index} of {len(pred):,} · {len(layers)} conv/pool layers · "
            "pick a drawing in another tab, or [ ]"))
        self._render_layers()

    def _render_layers(self) -> None:
        box = self.query_one("#hidden-layers", VerticalScroll)
        box.remove_children()
        width = max(20, box.scrollable_content_region.width or (self.size.width - 32))
        widgets = []
        for name, maps in self.layer_maps:
            c, h, w = maps.shape
            shown = maps[:MAX_MAPS]
            zoom, cols, pad = layout(len(shown), h, w, width - 1)
            img = tile_image(shown, cols, pad)
            more = f", first {MAX_MAPS}" if c > MAX_MAPS else ""
            widgets.append(Static(f"{name} · {c}×{h}×{w}{more}", classes="layer-heading"))
            d = Drawing(img, zoom=zoom, classes="layer-maps")
            d.styles.width = int(math.ceil(img.shape[1] * zoom))
            d.styles.height = int(math.ceil(img.shape[0] * zoom / 2))
            widgets.append(d)
        if widgets:
            box.mount_all(widgets)

    def on_resize(self) -> None:
        if self.layer_maps:
            self._render_layers()

    def action_step(self, step: int) -> None:
        """The previous or next test drawing."""
        if self.data is not None and self.data.ok:
            self.select((self.index + step) % len(self.data.pred))

    def focus_main(self) -> None:
        self.query_one("#hidden-layers", VerticalScroll).focus()
