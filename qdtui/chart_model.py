"""What a chart shows, worked out without Textual: ticks, ranges shared across panels, smoothing,
constant series, markers that tell series apart without colour. The plot widgets only draw it."""

from __future__ import annotations

import math


def nice_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Evenly spaced round ticks (1, 2, 2.5 or 5 x 10^k apart) covering lo..hi, at most `most` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        return [lo]
    raw = (hi - lo) / max(1, most - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    ticks = []
    k = 0
    while True:
        t = first + k * step
        if t > hi + step * 1e-9:
            break
        if t >= lo - step * 1e-9:
            ticks.append(round(t, 12))
        k += 1
    return ticks


def tick_label(value: float, step: float) -> str:
    """A tick's text with as many decimals as the step needs (step 2.5 -> '2.5', 25 -> '25', 0.25 -> '0.25')."""
    decimals = next((d for d in range(7) if abs(step * 10 ** d - round(step * 10 ** d)) < 1e-6 * max(1.0, step * 10 ** d)), 6)
    return f"{value:.{decimals}f}"


def axis_ticks(lo: float, hi: float, most: int) -> tuple[list[float], list[str]]:
    """Ticks and their labels for an axis spanning lo..hi."""
    ticks = nice_ticks(lo, hi, most)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    return ticks, [tick_label(t, step) for t in ticks]
