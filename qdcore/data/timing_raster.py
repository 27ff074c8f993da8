"""Strokes rendered as several channels for CNNs (issue 24 point 2): ink, stroke order, time, at 28 or 64 pixels.

The Kaggle Quick, Draw! challenge's best single CNNs saw strokes drawn with order/time colours; here a batch of
(dx, dy, pen) rows (qdcore.data.sequence, on the training device) is drawn in torch on that device, so no bitmap
crosses the host. Geometry is Google's numpy recipe (qdcore.data.raster: 256 canvas, centred by the bounding box's
max corner, padded, line 16 units wide); a pixel's coverage by a segment is the box-filter ramp of its centre's
distance to it. Channels (the `--raster` choice adds them in this order):

- ink: the highest coverage of any segment (a stroke's overlaps do not add up);
- order: coverage x (stroke index + 1) / strokes, the highest over segments: later strokes are brighter;
- time: coverage x the share of the drawing's time at the segment's end (raw ndjson and the draw canvas keep
  times; without them the share of points drawn stands in), the highest over segments: later ink is brighter.
"""

from __future__ import annotations

import torch

from qdcore.data.raster import CANVAS, geometry
from qdcore.data.raster_inputs import RASTERS
from qdcore.data.sequence import SCALE

_BUDGET = 1 << 23  # floats of one (drawings x segments x pixels) block: bounds the memory of a render


def channels(raster: str) -> int:
    """How many channels `--raster` gives: ink 1, order 2 (ink, order), time 3 (ink, order, time)."""
    return RASTERS.index(raster) + 1


def render(x: torch.Tensor, lengths: torch.Tensor, raster: str, size: int) -> torch.Tensor:
    """float (N, C, size, size) in 0..1 of rows x (N, L, 3 or 4: dx, dy scaled by SCALE, pen, [time share])."""
    n, length = x.shape[0], x.shape[1]
    dev = x.device
    lengths = lengths.to(dev)
    scale, shift, radius = geometry(size)
    t_idx = torch.arange(length, device=dev)
    real = t_idx[None, :] < lengths[:, None]
    pts = torch.cumsum(torch.where(real[..., None], x[..., :2], 0) / SCALE, 1)  # absolute 0..255 coordinates
    pen = (x[..., 2] > 0.5) & real
    big = torch.full_like(pts[..., 0], -1e9)
    corner = torch.where(real[..., None], pts, big[..., None]).amax(1)  # (N, 2) max corner of the drawing
    px = (pts + (CANVAS - corner[:, None, :]) / 2 + shift) * scale  # output pixel units
    nxt = torch.cat([px[:, 1:], px[:, -1:]], 1)
    prev_pen = torch.cat([torch.ones_like(pen[:, :1]), pen[:, :-1]], 1)
    last = t_idx[None, :] == lengths[:, None] - 1
    segment = real & ~pen & ~last  # point t joined to t + 1
    dot = real & prev_pen & (pen | last)  # a stroke of one point
    valid = segment | dot
    b = torch.where(segment[..., None], nxt, px)
    stroke = torch.cumsum(prev_pen.long() * real.long(), 1)  # 1-based stroke index of each point
    strokes = torch.where(real, stroke, 0).amax(1).clamp(min=1)
    planes = [torch.ones_like(px[..., 0]), stroke.float() / strokes[:, None].float()]
    if raster == "time":
        if x.shape[-1] > 3:
            share = x[..., 3]
        else:  # no times: the share of the points drawn
            share = (t_idx[None, :] + 1).float() / lengths[:, None].float()
        planes.append(torch.where(segment, torch.cat([share[:, 1:], share[:, -1:]], 1), share))
    values = torch.stack(planes[:channels(raster)], -1) * valid[..., None]  # (N, L, C), 0 where no segment
    centre = torch.arange(size, device=dev, dtype=px.dtype) + 0.5
    grid = torch.stack(torch.meshgrid(centre, centre, indexing="xy"), -1).reshape(-1, 2)  # (P, 2) as (x, y)
    out = torch.zeros(n, values.shape[-1], size * size, device=dev)
    step = max(1, _BUDGET // max(1, length * size * size))
    for a in range(0, n, step):
        s = slice(a, a + step)
        cov = _coverage(px[s], b[s], grid, radius)  # (n', L, P)
        out[s] = (cov[:, :, None, :] * values[s][..., None]).amax(1)
    return out.reshape(n, -1, size, size)


def _coverage(a: torch.Tensor, b: torch.Tensor, grid: torch.Tensor, radius: float) -> torch.Tensor:
    """(N, L, P) coverage of pixel centres `grid` by capsules a -> b of `radius`: clamp(radius + 0.5 - d, 0, 1)."""
    ab = b - a  # (N, L, 2)
    ap = grid[None, None] - a[:, :, None, :]  # (N, L, P, 2)
    den = (ab * ab).sum(-1, keepdim=True).clamp(min=1e-12)  # (N, L, 1)
    t = ((ap * ab[:, :, None, :]).sum(-1) / den).clamp(0, 1)  # (N, L, P)
    d = (ap - t[..., None] * ab[:, :, None, :]).norm(dim=-1)
    return (radius + 0.5 - d).clamp(0, 1)
