"""Plain-text formatting shared by the CLI and the TUI (standard library only: no torch, no UI packages)."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def duration(seconds: Any) -> str:
    """'42.0s', '3m 05s', '2h 10m'; a dash for anything that is not a number (None, NaN, text)."""
    if not isinstance(seconds, (int, float)) or math.isnan(seconds):
        return DASH
    v = float(seconds)
    if v < 60:
        return f"{v:.1f}s"
    if v < 3600:
        return f"{int(v // 60)}m {int(v % 60):02d}s"
    return f"{int(v // 3600)}h {int(v % 3600 // 60):02d}m"
