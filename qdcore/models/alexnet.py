"""Study 002's two AlexNet-like models, scaled from 64x64x3 to 28x28x1 ('same' convs so four 2x2 pools fit)."""

from __future__ import annotations

from typing import Any

from qdcore.models import options as op
from qdcore.models.cnn import check_cnn
from qdcore.models.convnet import Block, ConvSpec, Sequential, build_convnet


def build_alexnet1(name: str, num_classes: int, o: dict[str, Any], given: set[str]) -> tuple[Sequential, dict]:
    """Model 1: channels w, 2w, 4w, 4w, ... (capped at 4w like the study's 32-64-128-128)."""
    r = check_cnn(o, given)
    w = r["width"]
    # Model 1 has no BN in the study; batch_norm=true puts one after each block's pooling.
    blocks = [Block([w * 2 ** min(i, 2)] * op.at(r["convs"], i), op.at(r["kernel"], i), bn="pool", dropout=r["dropout"])
              for i in range(r["depth"])]
    return _build(name, num_classes, r, blocks), r


def build_alexnet2(name: str, num_classes: int, o: dict[str, Any], given: set[str]) -> tuple[Sequential, dict]:
    """Model 2: [w, w] pool BN drop, [w, 2w] pool BN drop, 4w pool, 4w pool BN; flatten drop dense 512, 1024."""
    r = check_cnn(o, given)
    w, depth, convs = r["width"], r["depth"], r["convs"]
    blocks = []
    for i in range(depth):
        k = op.at(r["kernel"], i)
        if i < 2:
            # [w, w] then [w, 2w]: the block's last conv doubles in the second block, as in the study.
            chans = [w] * (op.at(convs, i) - 1) + [w * (1 + i)]
            blocks.append(Block(chans, k, bn="pool", dropout=r["dropout"]))
        else:
            blocks.append(Block([4 * w], k, bn="pool" if i == depth - 1 else "none"))
    return _build(name, num_classes, r, blocks), r


def _build(name: str, num_classes: int, r: dict[str, Any], blocks: list[Block]) -> Sequential:
    spec = ConvSpec(blocks, num_classes, padding=r["padding"], pool=r["pool"], pool_size=r["pool_size"],
                    batch_norm=r["batch_norm"], head_dropout=r["head_dropout"], dense=r["dense"])
    return build_convnet(spec, name)
