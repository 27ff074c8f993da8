"""Clusters tab: the misclassified drawings grouped by PCA + K-Means or DBSCAN, and "misclassified as X"."""

from __future__ import annotations

from collections import Counter

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from qdcore.fmt import percent
from qdtui.literal import plain
from qdtui.loaders import user_message
from qdtui.messages import DrawingFocused, DrawingHighlighted
from qdtui.screens.evaltabs.common import EvalPane
from qdtui.screens.gallery import GalleryScreen, GallerySection, by_confidence, drawing_items
from qdtui.widgets.drawing_grid import DrawingGrid
from qdtui.widgets.scatter import RICH_COLORS, Scatter, group_color
from qdtui.workers import deliver

METHODS = ("kmeans", "dbscan")
FEATURES = ("pixels", "penultimate")
REPRESENTATIVES = 12


class Group:
    """A row of the table: a cluster or the drawings taken for one class."""

    def __init__(self, key: int, label: str, indices: np.ndarray, shown: np.ndarray) -> None:
        self.key, self.label, self.indices, self.shown = key, label, indices, shown


class ClustersPane(EvalPane):
    """A table of groups, their 2-D PCA scatter and the highlighted group's representative drawings."""

    TAB, LABEL = "clusters", "Clusters"  # its id and its tab's label

    DEFAULT_CSS = """
    ClustersPane #clusters-main { height: 1fr; }
    ClustersPane #clusters-left { width: 1fr; }
    ClustersPane #clusters-table { height: 1fr; }
    ClustersPane #clusters-scatter { height: 1fr; }
    ClustersPane #clusters-reps { width: 1fr; }
    """
    BINDINGS = [
        Binding("m", "toggle_method", "K-Means/DBSCAN"),
        Binding("f", "toggle_features", "Pixels/penult."),
        Binding("a", "toggle_view", "Clusters/taken as"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.method = "kmeans"
        self.features = "pixels"
        self.view = "clusters"  # or "as": misclassified as X
        self.results: dict[str, object] = {}  # features -> ClusterResult
        self.groups: list[Group] = []

    def compose_body(self) -> ComposeResult:
        yield Static("", id="clusters-line", classes="pane-line")
        with Horizontal(id="clusters-main"):
            with Vertical(id="clusters-left"):
                yield DataTable(id="clusters-table", cursor_type="row", zebra_stripes=True)
                yield Scatter(id="clusters-scatter")
            yield DrawingGrid(id="clusters-reps", zoom=0.5)

    def set_data(self, data, models) -> None:
        super().set_data(data, models)
        self.results.clear()

    def start(self) -> None:
        self.compute(self.features)

    def compute(self, features: str) -> None:
        """Cluster with these features (cached per features)."""
        self.features = features
        if features in self.results:
            self.unsay()
            self.show()
            return
        self.unsay()
        wrong = int((self.data.predicted != self.data.pred.labels).sum())
        self.busy(f"Clustering {wrong:,} misclassified drawings ({features}: PCA, K-Means with k chosen by "
                  "silhouette, DBSCAN). The first time takes up to a minute on a CPU; the result is kept in the "
                  "run's folder for next time.")
        self._cluster(features)

    @work(thread=True, exclusive=True, group="clusters", exit_on_error=False)
    def _cluster(self, features: str) -> None:
        """PCA + K-Means + DBSCAN on the misclassified drawings (seconds for thousands)."""
        from qdcore.analysis.clusters import cluster_run

        try:
            if features == "penultimate":
                model, _ = self.models.get()
                with self.models.use:
                    result = cluster_run(self.data.run_dir, self.data.pred, features, model=model, seed=0,
                                         inputs=lambda i: self.models.inputs(self.data.pred, i))
            else:
                result = cluster_run(self.data.run_dir, self.data.pred, features, seed=0)
        except Exception as e:  # noqa: BLE001 - too few drawings, a missing model: a message in the tab
            deliver(self, self._failed, features, user_message(e))
            return
        deliver(self, self._done, features, result)

    def _failed(self, features: str, error: str) -> None:
        hint = ""
        if features == "penultimate":
            hint = "\nPress f to cluster pixels instead."
        self.say(f"Cannot cluster the misclassified drawings: {error}.{hint}")

    def _done(self, features: str, result) -> None:
        self.results[features] = result
        if features == self.features:
            self.unsay()
            self.show()
        self.loaded()

    # --- table ----------------------------------------------------------------

    def _clustering(self):
        result = self.results.get(self.features)
        if result is None:
            return None, None
        c = getattr(result, self.method) or result.kmeans or result.dbscan
        return result, c

    def show(self) -> None:
        """Fill the line, table and scatter for the chosen method and view."""
        result, clustering = self._clustering()
        if result is None:
            return
        self.method = clustering.method
        table = self.query_one("#clusters-table", DataTable)
        table.clear(columns=True)
        scatter = self.query_one("#clusters-scatter", Scatter)
        if self.view == "clusters":
            self.groups = self._cluster_groups(clustering)
            table.add_columns("", "#", "size", "truth → predicted", "share")
            for g, c in zip(self.groups, clustering.clusters):
                name = "noise" if c.id < 0 else str(c.id)
                table.add_row(Text("●", style=RICH_COLORS[group_color(c.id)]), name, Text(str(c.size), justify="right"),
                              plain(f"{c.truth} → {c.predicted}"), Text(percent(c.pair_count / c.size, 0), justify="right"),
                              key=str(g.key))
            scatter.set_points(result.coords2d, clustering.labels)
        else:
            self.groups = self._as_groups()
            table.add_columns("", "misclassified as", "n", "commonest truths")
            truth = np.asarray(self.data.pred.labels)
            classes = self.data.pred.classes
            for g in self.groups:
                top = Counter(truth[g.indices].tolist()).most_common(2)
                table.add_row(Text("●", style=RICH_COLORS[group_color(g.key)]), plain(g.label),
                              Text(str(g.indices.size), justify="right"),
                              plain(", ".join(f"{classes[c]} {n}" for c, n in top)), key=str(g.key))
            predicted = self.data.predicted[result.indices]
            keys = {int(self.data.pred.classes.index(g.label)): g.key for g in self.groups}
            scatter.set_points(result.coords2d, np.array([keys[int(p)] for p in predicted], np.int64))
        self._line(result, clustering)
        if self.groups:
            table.move_cursor(row=0)
            self._highlight(0)

    def _cluster_groups(self, clustering) -> list[Group]:
        return [Group(c.id, f"cluster {'noise' if c.id < 0 else c.id}: {c.truth} → {c.predicted}",
                      c.indices, np.asarray(c.representatives[:REPRESENTATIVES], np.int64))
                for c in clustering.clusters]

    def _as_groups(self) -> list[Group]:
        from qdcore.analysis.clusters import misclassified_as

        out = []
        for k, (name, idx) in enumerate(misclassified_as(self.data.pred).items()):
            ordered = by_confidence(self.data, idx)
            out.append(Group(k, name, ordered, ordered[:REPRESENTATIVES]))
        return out

    def _line(self, result, clustering) -> None:
        p = clustering.params
        if clustering.method == "kmeans":
            how = f"K-Means k={p['k']}" + (" (best silhouette)" if p.get("silhouette") else "")
        else:
            how = f"DBSCAN eps={p['eps']:.2f}" + (" (k-distance knee)" if p.get("auto_eps") else "") + f", noise {p['noise']}"
        view = "" if self.view == "clusters" else " · by predicted class"
        self.query_one("#clusters-line", Static).update(Text(
            f"{result.scope()} · {how} · {result.features}, PCA {result.n_components} "
            f"({percent(result.explained, 0)} var){view}"))

    def _highlight(self, row: int) -> None:
        if not 0 <= row < len(self.groups):
            return
        g = self.groups[row]
        self.query_one("#clusters-reps", DrawingGrid).set_items(drawing_items(self.data, g.shown))
        self.query_one("#clusters-scatter", Scatter).set_highlight(g.key)

    @on(DataTable.RowHighlighted, "#clusters-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._highlight(event.cursor_row)

    @on(DataTable.RowSelected, "#clusters-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if not 0 <= event.cursor_row < len(self.groups):
            return
        g = self.groups[event.cursor_row]
        title = g.label if self.view == "clusters" else f"misclassified as {g.label}"
        self.app.push_screen(GalleryScreen(title, self.data, [GallerySection(title, by_confidence(self.data, g.indices))]))

    def on_drawing_highlighted(self, message: DrawingHighlighted) -> None:
        row = self.query_one("#clusters-table", DataTable).cursor_row
        if 0 <= row < len(self.groups) and message.index < self.groups[row].shown.size:
            self.post_message(DrawingFocused(int(self.groups[row].shown[message.index])))

    # --- actions ----------------------------------------------------------------

    def action_toggle_method(self) -> None:
        """Switch between the K-Means and the DBSCAN clusters."""
        self.method = METHODS[(METHODS.index(self.method) + 1) % len(METHODS)]
        self.view = "clusters"
        self.show()

    def action_toggle_features(self) -> None:
        """Cluster pixels or the model's penultimate-layer features."""
        if self.data is not None and self.data.ok:
            self.compute(FEATURES[(FEATURES.index(self.features) + 1) % len(FEATURES)])

    def action_toggle_view(self) -> None:
        """Show the clusters or the groups "misclassified as X"."""
        self.view = "as" if self.view == "clusters" else "clusters"
        self.show()

    def focus_main(self) -> None:
        self.query_one("#clusters-table", DataTable).focus()
