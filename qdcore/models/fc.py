"""Study 000's fully connected net 784-25-12-n (20,067 params at 10 classes)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from torch import nn

from qdcore.models import options as op
from qdcore.models.convnet import INPUT_SIZE, Sequential


def build_fc(name: str, num_classes: int, o: dict[str, Any], given: set[str]) -> tuple[Sequential, dict]:
    """Flatten, then Linear + (BN) + ReLU + (dropout) per hidden size, then the output layer."""
    r: dict[str, Any] = {"hidden": op.int_list("hidden", o["hidden"]), "batch_norm": op.flag("batch_norm", o["batch_norm"]),
         "dropout": op.rate("dropout", o["dropout"])}
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten())
    features, feature = INPUT_SIZE * INPUT_SIZE, "flatten"
    for i, units in enumerate(r["hidden"], 1):
        layers[f"dense{i}"] = nn.Linear(features, units)
        if r["batch_norm"]:
            layers[f"bn{i}"] = nn.BatchNorm1d(units)
        feature = f"relu{i}"
        layers[feature] = nn.ReLU()
        if r["dropout"] > 0:
            layers[f"dropout{i}"] = nn.Dropout(r["dropout"])
        features = units
    layers["output"] = nn.Linear(features, num_classes)
    model = Sequential(layers)
    model.feature_layer = feature
    return model, r
