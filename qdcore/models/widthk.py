"""Study 003's width-k CNN family: k, 2k, 4k, 8k conv 3x3 'same' + 2x2 max pool, dense 8k."""

from __future__ import annotations

from typing import Any

from qdcore.models.cnn import check_cnn, doubling_blocks
from qdcore.models.convnet import ConvSpec, Sequential, build_convnet


def build_widthk(name: str, num_classes: int, o: dict[str, Any], given: set[str]) -> tuple[Sequential, dict]:
    """Width-k CNN; the double-descent sweeps vary `width` (k) with batch_norm on or off."""
    r = check_cnn(o, given, dense_may_be_none=True)
    # dense=None: one hidden layer as wide as the last conv block (8k at depth 4) -> 65,002 params at k=12.
    dense = r["dense"] if r["dense"] is not None else [r["width"] * 2 ** (r["depth"] - 1)]
    spec = ConvSpec(doubling_blocks(r), num_classes, padding=r["padding"], pool=r["pool"],
                    pool_size=r["pool_size"], batch_norm=r["batch_norm"], head_dropout=r["head_dropout"],
                    dense=dense)
    return build_convnet(spec, name), r
