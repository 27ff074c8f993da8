"""The stroke-sequence kind's options (declared once: CLI flags, TOML keys, TUI form rows)."""

from __future__ import annotations

from dataclasses import dataclass

from qdcore.data.raster_inputs import RASTERS, SIZES
from qdcore.errors import ConfigError
from qdcore.options import RunConfig, option
from qdcore.train.config import DEVICES

SEQUENCE_MODELS = ("stroke-lstm", "stroke-gru", "stroke-transformer")
# Every zoo CNN (1 x 28 x 28 bitmaps in the classifier kind) as raster-<name>: it reads --raster channels drawn from
# the strokes here (a kind owns its model names, so the prefix says which kind trains it).
ZOO_CNNS = ("cnn1-000", "cnn2-000", "cnn-001-baseline", "cnn-001-best", "widthk", "alexnet1", "alexnet2")
RASTER_CNNS = tuple("raster-" + m for m in ZOO_CNNS)
STROKE_MODELS = SEQUENCE_MODELS + RASTER_CNNS
_M, _S, _O, _R = "Model", "Strokes", "Optimization", "Runtime"


@dataclass
class StrokeConfig(RunConfig):
    """A classifier over strokes as (dx, dy, pen) rows: 1-D convolutions, then a bidirectional LSTM or GRU or a
    small transformer encoder."""

    STORED_BEFORE = {"pool": 1}  # a run stored before --pool existed pooled nothing

    model: str = option("stroke-gru", help="stroke-gru or stroke-lstm (a bidirectional recurrent stack), "
                        "stroke-transformer (a small encoder, 4 heads), or any zoo CNN over --raster channels of the "
                        "strokes (raster-widthk, raster-cnn2-000, ...).", panel=_M,
                        choices=STROKE_MODELS, form="Model")
    conv: int = option(48, help="Channels of the two 1-D convolutions.", panel=_M, min=1, max=512, form="Conv")
    kernel: int = option(5, help="Width of the 1-D convolutions (odd), in points.", panel=_M, min=1, max=15)
    pool: int = option(2, help="Max over this many neighbouring points after each 1-D convolution: 2 runs the "
                       "recurrent (or transformer) layers over a sequence 4x shorter (1: none).", panel=_M, min=1, max=4)
    hidden: int = option(128, help="Hidden units of each direction of the recurrent layers (the transformer's "
                         "width: a multiple of 4).", panel=_M, min=1,
                         max=512, form="Hidden")
    layers: int = option(1, help="Recurrent (or transformer) layers.", panel=_M, min=1, max=4)
    dropout: float = option(0.0, help="Dropout between recurrent layers (in the transformer's blocks).", panel=_M,
                            min=0, max=1, max_open=True)
    raster: str = option("none", help="raster-<CNN> models only: the strokes drawn on the device as channels: ink; "
                         "order (ink, stroke order); time (ink, order, share of drawing time).", panel=_M,
                         choices=("none",) + RASTERS, form="Raster")
    size: int = option(28, help="raster-<CNN> models only: raster size in pixels (28 or 64).", panel=_M, min=min(SIZES),
                      max=max(SIZES))
    max_points: int = option(256, help="Points read per drawing (the first ones, as drawn); Google's simplified "
                             "drawings rarely pass 200.", panel=_S, min=2, max=4096)
    prefix: float = option(0.0, help="Partial-drawing augmentation: the share of each training batch cut to a "
                           "random prefix of its points (0 = off).", panel=_S, min=0, max=1, form="Prefix")
    epochs: int = option(10, help="Epochs.", panel=_O, short="-e", min=1, max=100_000, form="Epochs")
    batch_size: int = option(64, help="Drawings per step and rank (padded to the longest on the device).",
                             panel=_O, min=2, max=8192, form="Batch")
    bucket: int = option(32, help="Batches of drawings of similar lengths: each window of this many batches is "
                         "sorted by length, the batches shuffled (less padding, fewer recurrent steps); 0 = random "
                         "batches.", panel=_O, min=0, max=4096)
    lr: float = option(2e-3, help="Adam learning rate.", panel=_O, min=0, max=100, min_open=True, form="LR")
    clip: float = option(1.0, help="Clip the gradient norm to this (0 = off); recurrent nets need it.", panel=_O,
                         min=0, max=1e6)
    patience: int = option(0, help="Early stopping: epochs without val-loss improvement (0 = off).", panel=_O,
                           min=0, max=100_000)
    device: str = option("auto", help="auto (cuda, then mps, then cpu), cpu, cuda or mps.", panel=_R,
                         choices=DEVICES, form="Device")
    log_every: int = option(20, help="Steps between progress updates (host syncs).", panel=_R, min=1,
                            max=1_000_000)
    eval_batch_size: int = option(512, help="Drawings per evaluation batch.", panel=_R, min=1, max=65536)

    def validate(self, origin: str = "option") -> StrokeConfig:
        """Checks across fields."""
        super().validate(origin)
        if self.kernel % 2 == 0:
            raise ConfigError(f"{origin}: kernel={self.kernel} must be odd (a point's features stay at its place)")
        if self.size not in SIZES:
            raise ConfigError(f"{origin}: size={self.size} must be {' or '.join(map(str, SIZES))}")
        if self.model in RASTER_CNNS and self.raster == "none":
            raise ConfigError(f"{origin}: model={self.model} reads the strokes as raster channels: give --raster "
                              f"{'|'.join(RASTERS)} (--model {self.model[len('raster-'):]} trains it on the bitmaps)")
        if self.model in SEQUENCE_MODELS and (self.raster != "none" or self.size != 28):
            given = f"size={self.size}" if self.raster == "none" else f"raster={self.raster}"
            raise ConfigError(f"{origin}: {given} is for raster-<CNN> models; {self.model} reads the strokes' rows, "
                              "not a raster")
        if self.model == "stroke-transformer" and self.hidden % 4:
            raise ConfigError(f"{origin}: hidden={self.hidden} must be a multiple of 4 for stroke-transformer "
                              "(4 attention heads)")
        return self

    def arch(self, classes: int) -> dict:
        """The model's description (stored in stroke_model.json)."""
        if self.model in RASTER_CNNS:  # rebuilt by qdcore.models.raster_cnn
            return {"cell": "raster", "cnn": self.model[len("raster-"):], "raster": self.raster, "size": self.size,
                    "classes": classes, "max_points": self.max_points}
        return {"cell": self.model.split("-", 1)[1], "conv": self.conv, "kernel": self.kernel, "pool": self.pool,
                "hidden": self.hidden,
                "layers": self.layers, "dropout": self.dropout, "classes": classes, "max_points": self.max_points}
