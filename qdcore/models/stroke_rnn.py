"""Stroke-sequence classifiers: 1-D convolutions over (dx, dy, pen) rows, then a bidirectional LSTM or GRU.

The layout of Google's Quick, Draw! RNN tutorial (convolutions, a bidirectional recurrent stack, the outputs
summed over the drawing's points, a linear head), with padded batches packed so padding never reaches the
recurrent state and the sum covers each drawing's own points only.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class StrokeRNN(nn.Module):
    """(N, L, 3) rows with lengths -> class logits."""

    def __init__(self, classes: int, cell: str = "lstm", conv: int = 48, kernel: int = 5, hidden: int = 128,
                 layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.arch = {"name": "stroke-" + cell, "cell": cell, "conv": conv, "kernel": kernel, "hidden": hidden,
                     "layers": layers, "dropout": dropout, "classes": classes}
        pad = kernel // 2  # same length out as in: row t's features stay at t
        self.convs = nn.Sequential(nn.Conv1d(3, conv, kernel, padding=pad), nn.ReLU(),
                                   nn.Conv1d(conv, conv, kernel, padding=pad), nn.ReLU())
        self.rnn = CELLS[cell](conv, hidden, layers, batch_first=True, bidirectional=True,
                               dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(2 * hidden, classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x: float (N, L, 3); lengths: int64 (N,) on the CPU (what packing needs), each >= 1."""
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]).unsqueeze(-1)
        # Zeroing the padding before each convolution keeps a drawing's features independent of its batch.
        h = self.convs[1](self.convs[0]((x * mask).transpose(1, 2))).transpose(1, 2) * mask
        h = self.convs[3](self.convs[2]((h).transpose(1, 2))).transpose(1, 2) * mask
        packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=x.shape[1])
        return self.head(out.sum(1))


def build_stroke_model(arch: dict[str, Any]) -> StrokeRNN:
    """The model `arch` (as stored in stroke_model.json) describes."""
    keys = ("cell", "conv", "kernel", "hidden", "layers", "dropout")
    return StrokeRNN(int(arch["classes"]), **{k: arch[k] for k in keys if k in arch})
