"""A Keras-like sequential CNN assembled from block specs; every zoo CNN is one of these."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from torch import nn

from qdcore.errors import ConfigError

INPUT_SIZE = 28


@dataclass
class Block:
    """Convs (one per channel entry), then pooling, then block BN / dropout."""

    channels: list[int]
    kernel: int
    pool: bool = True
    bn: str = "conv"  # where BN goes when ConvSpec.batch_norm: conv (after each conv), pool (after pooling), none
    dropout: float = 0.0


@dataclass
class ConvSpec:
    """Everything a ConvNet needs; builders fill this from resolved options."""

    blocks: list[Block]
    num_classes: int
    padding: str = "valid"
    pool: str = "max"
    pool_size: int = 2
    batch_norm: bool = False  # conv -> BN -> ReLU, or BN after pooling where a block says so (study 002)
    head_dropout: float = 0.0
    dense: list[int] = field(default_factory=list)
    in_channels: int = 1


class Sequential(nn.Sequential):
    """nn.Sequential with `arch` (rebuild recipe) and `feature_layer` (for CAM / activations)."""

    arch: dict
    feature_layer: str


class _Namer:
    """Keras-style layer names: conv1, conv2, pool1, dense1 ..."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.layers: OrderedDict[str, nn.Module] = OrderedDict()

    def add(self, kind: str, module: nn.Module) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        name = f"{kind}{self.counts[kind]}"
        self.layers[name] = module
        return name


def build_convnet(spec: ConvSpec, model_name: str) -> Sequential:
    """Assemble the layers, checking that the 28x28 input never shrinks to nothing."""
    n = _Namer()
    size, ch, feature = INPUT_SIZE, spec.in_channels, ""
    for bi, block in enumerate(spec.blocks, 1):
        for out in block.channels:
            if spec.padding == "valid":
                size = size - block.kernel + 1
                if size < 1:
                    raise ConfigError(f"model {model_name!r}: block {bi} shrinks the 28x28 input to nothing "
                                      f"(kernel {block.kernel}, padding valid); use padding=same, a smaller "
                                      "kernel or a smaller depth")
            n.add("conv", nn.Conv2d(ch, out, block.kernel, padding=0 if spec.padding == "valid" else "same"))
            ch = out
            if spec.batch_norm and block.bn == "conv":
                n.add("bn", nn.BatchNorm2d(ch))
            feature = n.add("relu", nn.ReLU())
        if block.pool and spec.pool != "none":
            if size < spec.pool_size:
                raise ConfigError(f"model {model_name!r}: block {bi} pools a {size}x{size} map with pool_size "
                                  f"{spec.pool_size}; use padding=same, pool=none, a smaller pool_size or depth")
            size //= spec.pool_size
            pool_cls = nn.MaxPool2d if spec.pool == "max" else nn.AvgPool2d
            n.add("pool", pool_cls(spec.pool_size))
        if spec.batch_norm and block.bn == "pool":
            n.add("bn", nn.BatchNorm2d(ch))
        if block.dropout > 0:
            n.add("dropout", nn.Dropout(block.dropout))
    n.layers["flatten"] = nn.Flatten()
    if spec.head_dropout > 0:
        n.add("dropout", nn.Dropout(spec.head_dropout))
    features = ch * size * size
    for units in spec.dense:
        n.add("dense", nn.Linear(features, units))
        n.add("relu", nn.ReLU())
        features = units
    n.layers["output"] = nn.Linear(features, spec.num_classes)
    model = Sequential(n.layers)
    model.feature_layer = feature
    return model

