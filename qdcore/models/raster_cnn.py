"""Any zoo CNN over timing rasters: the strokes' rows are drawn on the device (qdcore.data.timing_raster) into
ink / order / time channels at 28 or 64 pixels, and the zoo model, rebuilt for that many channels and pixels,
classifies them. Takes (rows, lengths) like the stroke-sequence models, so it trains, resumes, runs under DDP and
predicts through the stroke kind unchanged."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from qdcore.data.timing_raster import channels, render
from qdcore.models.init import apply_init
from qdcore.models.registry import build_model


def with_input(model: nn.Module, in_channels: int, size: int, init: str) -> nn.Module:
    """`model` (a zoo classifier built for 1 x 28 x 28) rebuilt for in_channels x size x size: its first conv (or
    dense) layer takes the channels, and the first dense layer after the flatten takes what the convolutions now
    give; the replaced layers are initialised as the zoo's are (`init`)."""
    layers: dict[str, Any] = dict(model.named_children())
    names = list(layers)
    first = next(k for k in names if isinstance(layers[k], (nn.Conv2d, nn.Linear)))
    old: Any = layers[first]
    if isinstance(old, nn.Conv2d):
        # A Conv2d's kernel_size, stride, padding and dilation are pairs; torch's stubs type them tuple[int, ...].
        sizes = (old.kernel_size, old.stride, old.padding, old.dilation)
        new = nn.Conv2d(in_channels, old.out_channels, *sizes, old.groups, old.bias is not None)  # type: ignore[arg-type]
        setattr(model, first, new)
        apply_init(new, init)
        flat = names.index("flatten")
        dense = next((k for k in names[flat:] if isinstance(layers[k], nn.Linear)), None)
        with torch.no_grad():
            probe = torch.zeros(1, in_channels, size, size)
            for k in names[:flat + 1]:
                probe = getattr(model, k)(probe)
        if dense is not None and layers[dense].in_features != probe.shape[1]:
            lin = nn.Linear(probe.shape[1], layers[dense].out_features)
            setattr(model, dense, lin)
            apply_init(lin, init)
    else:  # a dense net: its first layer reads the flattened channels
        lin = nn.Linear(in_channels * size * size, old.out_features)
        setattr(model, first, lin)
        apply_init(lin, init)
    return model


class RasterCNN(nn.Module):
    """(N, L, 3 or 4) rows with lengths -> class logits of a zoo CNN over their `raster` channels at `size`."""

    def __init__(self, classes: int, cnn: str = "widthk", raster: str = "time", size: int = 28) -> None:
        super().__init__()

        base: Any = build_model(cnn, classes)
        self.cnn = with_input(base, channels(raster), size, base.arch["init"])
        self.raster, self.size = raster, size
        self.arch = {"name": cnn, "cell": "raster", "cnn": cnn, "raster": raster, "size": size, "classes": classes}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: rows (N, L, 3 or 4), drawn here, or uint8 rasters (N, C, size, size) that `draw` made."""
        images = x if x.dim() == 4 else self._levels(x, lengths)
        return self.cnn(images.float() / 255)

    def _levels(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """uint8 rasters: drawn on the fly or once, a drawing gets the same 256 levels either way."""
        return (render(x, lengths, self.raster, self.size) * 255).round().to(torch.uint8)

    def draw(self, x: torch.Tensor, lengths: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
        """uint8 (N, C, size, size) rasters of all rows, `chunk` drawings at a time (each trimmed to its longest)."""
        out = [self._levels(x[a:a + chunk, :int(lengths[a:a + chunk].max())], lengths[a:a + chunk])
               for a in range(0, len(lengths), chunk)]
        c = channels(self.raster)
        return torch.cat(out) if out else torch.zeros(0, c, self.size, self.size, dtype=torch.uint8, device=x.device)


def build_raster_cnn(arch: dict[str, Any]) -> RasterCNN:
    """The model `arch` (as stored in stroke_model.json) describes."""
    return RasterCNN(int(arch["classes"]), str(arch["cnn"]), str(arch["raster"]), int(arch["size"]))
