"""--json output is strict JSON: an undefined metric (NaN, infinity) is null, never a bare NaN token."""

from __future__ import annotations

import json

import numpy as np


def test_print_json_writes_null_for_non_finite_numbers(capsys):
    from qdcore.cli.common import print_json

    print_json({"fid": float("nan"), "curve": [1.5, np.float32("inf"), np.float64(-np.inf)], "n": 3,
                "nested": {"diversity": np.float32("nan"), "ok": np.float32(0.25)}})
    out = capsys.readouterr().out
    assert "NaN" not in out and "Infinity" not in out
    doc = json.loads(out, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))  # strict parse
    assert doc == {"fid": None, "curve": [1.5, None, None], "n": 3, "nested": {"diversity": None, "ok": 0.25}}
