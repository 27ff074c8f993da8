"""CAM tab: Grad-CAM maps over right and wrong test drawings of a chosen class (CNNs only)."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from qdcore.fmt import literal
from qdtui.loaders import user_message
from qdtui.messages import DrawingFocused, DrawingHighlighted, DrawingSelected
from qdtui.screens.dialogs import DrawingDialog
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.widgets.heatmap_drawing import HeatItem, HeatmapGrid
from qdtui.workers import deliver

PER_CLASS = 6  # right and as many wrong drawings per class


class CamPane(EvalPane):
    """Classes on the left; their drawings with the class activation map blended in on the right."""

    TAB, LABEL = "cam", "CAM"  # its id and its tab's label

    DEFAULT_CSS = """
    CamPane #cam-main { height: 1fr; }
    CamPane #cam-classes { width: 20; height: 1fr; border: none; padding: 0; scrollbar-size-vertical: 1; }
    CamPane #cam-right { width: 1fr; }
    """
    BINDINGS = [Binding("t", "toggle_target", "Map of pred/true")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target = "predicted"  # or "true": which class the map explains
        self.picks: dict[str, dict[str, np.ndarray]] | None = None
        self.shown = np.zeros(0, np.int64)
        self.cam_layer = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="cam-main"):
            yield OptionList(id="cam-classes")
            with Vertical(id="cam-right"):
                yield Static("", id="cam-line", classes="pane-line")
                yield HeatmapGrid(id="cam-grid")

    def start(self) -> None:
        self.busy(f"Loading run {self.data.run_id}'s model to find its last convolutional layer…")
        self.prepare()

    @work(thread=True, exclusive=True, group="cam-prepare", exit_on_error=False)
    def prepare(self) -> None:
        """Load the model, check it is a CNN and pick right and wrong drawings per class."""
        from qdcore.analysis.cam import cam_layer, right_and_wrong

        try:
            layer, name = cam_layer(self.data.run_dir, self.models.get)
        except Exception as e:  # noqa: BLE001
            deliver(self, self.say, f"Class activation maps need the run's model: {user_message(e)}")
            return
        if not layer:
            deliver(self, self.say,
                    f"Class activation maps need a CNN: model {name} has no convolutional layers.\n"
                    "Train a CNN (e.g. widthk or cnn2-000) to see which strokes drive its predictions.")
            return
        picks = right_and_wrong(self.data.pred, per_class=PER_CLASS, seed=0)
        deliver(self, self._ready, picks, layer)

    def _ready(self, picks, layer: str) -> None:
        self.loaded()
        self.picks, self.cam_layer = picks, layer
        options = self.query_one("#cam-classes", OptionList)
        options.clear_options()
        options.add_options([Option(f"{name} {len(p['right'])}✓ {len(p['wrong'])}✗", id=name)
                             for name, p in picks.items()])
        if picks:
            options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#cam-classes")
    def _class_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and self.picks is not None:
            self._computing(event.option.id)
            self.maps(event.option.id, self.target)

    def _computing(self, name: str) -> None:
        """The line says whose maps are being computed while the grid loads."""
        self.query_one("#cam-grid", HeatmapGrid).loading = True
        self.query_one("#cam-line", Static).update(Text(f"{literal(name)}: Grad-CAM of its right and wrong drawings…"))

    @on(OptionList.OptionSelected, "#cam-classes")
    def _class_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#cam-grid", HeatmapGrid).focus()

    @work(thread=True, exclusive=True, group="cam-maps", exit_on_error=False)
    def maps(self, name: str, target: str) -> None:
        """Grad-CAM of one class's right and wrong drawings."""
        from qdcore.analysis.cam import cams_of_run

        p = self.picks[name]
        idx = np.concatenate([p["right"], p["wrong"]]).astype(np.int64)
        try:
            cams = cams_of_run(self.data.run_dir, self.data.pred, idx, target, self.models.get, self.models.use,
                               lambda i: self.models.inputs(self.data.pred, i))
        except Exception as e:  # noqa: BLE001
            deliver(self, self.say, f"Grad-CAM failed: {user_message(e)}")
            return
        deliver(self, self._show, name, target, idx, cams, len(p["right"]))

    def _show(self, name: str, target: str, idx: np.ndarray, cams: np.ndarray, n_right: int) -> None:
        grid = self.query_one("#cam-grid", HeatmapGrid)
        self.loaded(grid)
        pred = self.data.pred
        classes = pred.classes
        items = []
        for k, i in enumerate(idx.tolist()):
            p = int(self.data.predicted[i])
            items.append(HeatItem(pred.images[i], truth=classes[int(pred.labels[i])], pred=classes[p],
                                  prob=float(pred.probs[i, p]),
                                  provenance=pred.provenance[i] if i < len(pred.provenance) else "", heat=cams[k]))
        self.shown = idx
        grid.set_items(items)
        n_wrong = idx.size - n_right
        what = "the predicted class" if target == "predicted" else "the true class"
        line = Text(f"{literal(name)}: {n_right} right, then {n_wrong} wrong", style="bold")
        line.append(f" · map of {what} at {self.cam_layer}", style="")
        if not idx.size:
            line = Text(f"{literal(name)}: no test drawings", style="yellow")
        self.query_one("#cam-line", Static).update(line)

    def on_drawing_highlighted(self, message: DrawingHighlighted) -> None:
        if 0 <= message.index < self.shown.size:
            self.post_message(DrawingFocused(int(self.shown[message.index])))

    def on_drawing_selected(self, message: DrawingSelected) -> None:
        message.stop()
        self.app.push_screen(DrawingDialog(message.item, title=f"Grad-CAM · {message.item.truth}"))

    def action_toggle_target(self) -> None:
        """Explain the predicted class or the true class."""
        self.target = "true" if self.target == "predicted" else "predicted"
        options = self.query_one("#cam-classes", OptionList)
        if self.picks is not None and options.highlighted is not None:
            name = options.get_option_at_index(options.highlighted).id
            self._computing(name)
            self.maps(name, self.target)

    def focus_main(self) -> None:
        self.query_one("#cam-classes", OptionList).focus()
