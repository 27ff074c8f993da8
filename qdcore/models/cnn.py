"""Study 000's CNN Model 1/2 and study 001's baseline/best CNN: doubling conv stacks."""

from __future__ import annotations

from typing import Any

from qdcore.models import options as op
from qdcore.models.convnet import Block, ConvSpec, Sequential, build_convnet


def check_cnn(o: dict[str, Any], given: set[str], dense_may_be_none: bool = False) -> dict[str, Any]:
    """Validate the shared CNN options; returns them normalised (JSON-able)."""
    r = dict(o)
    r["width"] = op.pos_int("width", o["width"])
    r["depth"] = op.pos_int("depth", o["depth"])
    r["convs"] = op.per_block("convs", o["convs"], r["depth"], "convs" in given)
    r["kernel"] = op.per_block("kernel", o["kernel"], r["depth"], "kernel" in given)
    r["padding"] = op.choice("padding", o["padding"], op.PADDINGS)
    r["pool"] = op.choice("pool", o["pool"], op.POOL_KINDS)
    r["pool_size"] = op.pos_int("pool_size", o["pool_size"])
    r["batch_norm"] = op.flag("batch_norm", o["batch_norm"])
    r["dropout"] = op.rate("dropout", o["dropout"])
    r["head_dropout"] = op.rate("head_dropout", o["head_dropout"])
    if o["dense"] is None and dense_may_be_none:
        r["dense"] = None
    else:
        r["dense"] = op.int_list("dense", [] if o["dense"] is None else o["dense"])
    return r


def doubling_blocks(r: dict[str, Any]) -> list[Block]:
    """Block i: `convs` convs of width * 2**i channels, then pooling and dropout."""
    return [Block([r["width"] * 2 ** i] * op.at(r["convs"], i), op.at(r["kernel"], i), dropout=r["dropout"])
            for i in range(r["depth"])]


def build_doubling(name: str, num_classes: int, o: dict[str, Any], given: set[str]) -> tuple[Sequential, dict]:
    """The generic builder behind cnn1-000, cnn2-000, cnn-001-baseline and cnn-001-best."""
    r = check_cnn(o, given)
    spec = ConvSpec(doubling_blocks(r), num_classes, padding=r["padding"], pool=r["pool"],
                    pool_size=r["pool_size"], batch_norm=r["batch_norm"], head_dropout=r["head_dropout"],
                    dense=r["dense"])
    return build_convnet(spec, name), r

