"""Analysis results kept on disk per run and parameters (clusters, Grad-CAM), and status lines for slow steps."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from test_analysis import _blob_pred, _tiny_cnn


def _refuse(*args, **kwargs):
    raise AssertionError("computed again although a kept result exists")


def test_clusters_are_computed_once_per_run_and_parameters(tmp_path, monkeypatch):
    from qdcore.analysis import clusters

    pred, _ = _blob_pred()
    pred.save(tmp_path / "predictions.npz")
    first = clusters.cluster_run(tmp_path, pred, "pixels", seed=0)
    kept = list((tmp_path / "analysis").glob("clusters-*.npz"))
    assert len(kept) == 1
    real = clusters.cluster_misclassified
    monkeypatch.setattr(clusters, "cluster_misclassified", _refuse)
    again = clusters.cluster_run(tmp_path, pred, "pixels", seed=0)
    assert again.to_dict() == first.to_dict() and again.scope() == first.scope()
    assert np.array_equal(again.indices, first.indices) and np.array_equal(again.coords2d, first.coords2d)
    for a, b in zip(again.kmeans.clusters, first.kmeans.clusters):
        assert np.array_equal(a.indices, b.indices) and a.representatives == b.representatives
    assert np.array_equal(again.dbscan.labels, first.dbscan.labels)
    monkeypatch.setattr(clusters, "cluster_misclassified", real)
    clusters.cluster_run(tmp_path, pred, "pixels", seed=0, k=2)  # other parameters: another result
    kept[0].write_bytes(b"not an npz")  # an unreadable file is computed again, never an error
    assert clusters.cluster_run(tmp_path, pred, "pixels", seed=0).to_dict() == first.to_dict()
    st = (tmp_path / "predictions.npz").stat()  # a re-evaluated run: its results are made again
    os.utime(tmp_path / "predictions.npz", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    clusters.cluster_run(tmp_path, pred, "pixels", seed=0)
    assert len(list((tmp_path / "analysis").glob("clusters-*.npz"))) == 3


def test_cam_maps_and_layer_are_kept(tmp_path):
    from qdcore.analysis.cam import cam_layer, cams_of_run

    pred, _ = _blob_pred(n_per=8)
    loads = []

    def get_model():
        loads.append(1)
        return _tiny_cnn(), {}

    lock = threading.Lock()
    idx = np.array([0, 3, 9])
    assert cam_layer(tmp_path, get_model) == ("3", "tiny")
    maps = cams_of_run(tmp_path, pred, idx, "predicted", get_model, lock)
    assert maps.shape == (3, 28, 28) and len(loads) == 2
    assert cam_layer(tmp_path, get_model) == ("3", "tiny")
    assert np.array_equal(cams_of_run(tmp_path, pred, idx, "predicted", get_model, lock), maps)
    assert len(loads) == 2  # the second look loaded no model
    cams_of_run(tmp_path, pred, idx, "true", get_model, lock)
    assert len(loads) == 3


@pytest.mark.parametrize("slow", [0.0, 60.0])
def test_a_slow_step_says_what_it_does(slow):
    from qdcore.status import step

    said: list[str] = []
    ready = threading.Event()

    def say(text: str) -> None:
        said.append(text)
        ready.set()

    with step(say, "clustering 330 drawings", slow=slow):
        if slow == 0.0:
            assert ready.wait(30)  # the timer thread spoke while the step ran
    if slow == 0.0:
        assert said[0] == "clustering 330 drawings…" and said[1].startswith("clustering 330 drawings: done in ")
    else:
        assert said == []  # a quick step stays quiet
