"""Small reusable value checks shared by option validation and readers (standard library only)."""

from __future__ import annotations

import math
from typing import Any


def finite_number(value: Any) -> bool:
    """True for an int or float that is neither NaN nor infinite (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too big for a float
        return False
