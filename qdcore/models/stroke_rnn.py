"""Stroke-sequence classifiers over (dx, dy, pen) rows: 1-D convolutions, then a bidirectional LSTM or GRU, or a
small transformer encoder.

The recurrent layout is Google's Quick, Draw! RNN tutorial (convolutions, a bidirectional recurrent stack, the
outputs summed over the drawing's points, a linear head), with padded batches packed so padding never reaches the
recurrent state and the sum covers each drawing's own points only. The transformer keeps the convolutions (local
shape), adds sinusoidal positions, and attends with the padding masked out, then averages its drawing's points.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from qdcore.models.raster_cnn import build_raster_cnn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
HEADS = 4  # attention heads of the transformer (its width, --hidden, is a multiple of this)


class StrokeConvs(nn.Module):
    """Two same-length 1-D convolutions over the rows, each followed by a max over `pool` neighbouring points
    (pool 2: the sequence after them is 4x shorter, so the recurrent or attention layers do a quarter of the
    steps), the padding zeroed before each (a drawing's features do not depend on its batch)."""

    def __init__(self, conv: int, kernel: int, pool: int = 1) -> None:
        super().__init__()
        pad = kernel // 2  # same length out as in: row t's features stay at t
        self.a, self.b = nn.Conv1d(3, conv, kernel, padding=pad), nn.Conv1d(conv, conv, kernel, padding=pad)
        self.pool = pool

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, L', conv) zero past each drawing's end, each drawing's length L' = ceil(L / pool²)).

        The lengths come back on the device they came on (packing wants them on the CPU); the masks use one
        copy on x's device, so a GPU batch copies its lengths over once, not once per mask."""
        on = lengths.to(x.device)
        for conv in (self.a, self.b):
            mask = _mask(x, on)  # conv keeps the length, so one mask serves before and after it
            h = torch.relu(conv((x * mask).transpose(1, 2)))
            if self.pool > 1:  # after the ReLU, zeroed padding never wins a max over a drawing's own points
                h = F.max_pool1d(h * mask.transpose(1, 2), self.pool, ceil_mode=True)
                on, lengths = (on - 1) // self.pool + 1, (lengths - 1) // self.pool + 1
            x = h.transpose(1, 2)
        return x * _mask(x, on), lengths


def _mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(N, L, 1) float: 1 on a drawing's own rows, 0 on padding (lengths on x's device)."""
    return (torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]).unsqueeze(-1).to(x.dtype)


class StrokeRNN(nn.Module):
    """(N, L, 3) rows with lengths -> class logits."""

    def __init__(self, classes: int, cell: str = "lstm", conv: int = 48, kernel: int = 5, hidden: int = 128,
                 layers: int = 2, dropout: float = 0.0, pool: int = 1) -> None:
        super().__init__()
        self.arch = {"name": "stroke-" + cell, "cell": cell, "conv": conv, "kernel": kernel, "pool": pool,
                     "hidden": hidden, "layers": layers, "dropout": dropout, "classes": classes}
        self.convs = StrokeConvs(conv, kernel, pool)
        self.rnn = CELLS[cell](conv, hidden, layers, batch_first=True, bidirectional=True,
                               dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: float (N, L, 3); lengths: int64 (N,) on the CPU (what packing needs), each >= 1."""
        h, lengths = self.convs(x, lengths.cpu())
        packed = pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=h.shape[1])
        return self.head(out.sum(1))


def positions(length: int, width: int, device: torch.device) -> torch.Tensor:
    """(length, width) sinusoidal position codes (Vaswani et al.): no learned table, so any --max-points fits."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10_000.0) / width))
    out = torch.zeros(length, width, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: width // 2])
    return out


class StrokeTransformer(nn.Module):
    """(N, L, 3) rows with lengths -> class logits: convolutions, positions, a pre-norm encoder, a masked mean."""

    def __init__(self, classes: int, conv: int = 48, kernel: int = 5, hidden: int = 128, layers: int = 2,
                 dropout: float = 0.0, pool: int = 1, **_: Any) -> None:
        super().__init__()
        self.arch = {"name": "stroke-transformer", "cell": "transformer", "conv": conv, "kernel": kernel,
                     "pool": pool, "hidden": hidden, "layers": layers, "dropout": dropout, "classes": classes}
        self.convs = StrokeConvs(conv, kernel, pool)
        self.embed = nn.Linear(conv, hidden)
        block = nn.TransformerEncoderLayer(hidden, HEADS, 2 * hidden, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: float (N, L, 3); lengths: int64 (N,), each >= 1."""
        h, lengths = self.convs(x, lengths.to(x.device))
        mask = _mask(h, lengths)
        h = self.embed(h) + positions(h.shape[1], self.head.in_features, x.device)
        h = self.norm(self.encoder(h, src_key_padding_mask=mask[..., 0] == 0))
        return self.head((h * mask).sum(1) / mask.sum(1))


def build_stroke_model(arch: dict[str, Any]) -> nn.Module:
    """The model `arch` (as stored in stroke_model.json) describes."""
    keys = ("conv", "kernel", "pool", "hidden", "layers", "dropout")  # a model stored before --pool has none: 1
    options = {k: arch[k] for k in keys if k in arch}
    if arch.get("cell") == "raster":
        return build_raster_cnn(arch)
    if arch.get("cell") == "transformer":
        return StrokeTransformer(int(arch["classes"]), **options)
    return StrokeRNN(int(arch["classes"]), cell=arch.get("cell", "lstm"), **options)
