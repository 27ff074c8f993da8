"""A stored study's claims and verdicts: its spec's own claims, or its named study's (qdcore.studies.named)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qdcore.errors import ConfigError
from qdcore.studies.claims import Claim, Verdict, judge_all
from qdcore.studies.named import NAMED
from qdcore.studies.results import StudyTable


def claims_of(spec: dict[str, Any]) -> tuple[list[Claim], str | None]:
    """The claims a stored study spec declares (its paper's), or those of the named study it was made from when it
    was stored before claims existed; (claims, note)."""
    paper = spec.get("paper") or {}
    raw = paper.get("claims")
    note = None
    if raw is None:
        stem = str(spec.get("name", "")).removesuffix(" quick").strip().lower()
        if stem in NAMED and NAMED[stem].claims:
            raw = [c.to_dict() for c in NAMED[stem].claims]
            note = f"claims of the named study {stem!r} as qd declares them now (the study was stored before claims)"
    if not raw:
        return [], None
    return [Claim.from_dict(d, f"claim {i + 1}") for i, d in enumerate(raw)], note


def study_verdicts(spec: dict[str, Any], table: StudyTable, include_untrained: bool = False
                   ) -> tuple[list[Verdict], list[str]]:
    """A stored study's verdicts and one-line notes (no claims, claims from the named study, trials left out, a
    malformed stored claim); never raises for what a stored study holds."""
    try:
        claims, note = claims_of(spec)
    except ConfigError as e:
        return [], [f"claims cannot be judged: {e}"]
    if not claims:
        return [], ["this study declares no claims (named studies do; a spec can add [[paper.claims]] tables)"]
    verdicts = judge_all(claims, table, include_untrained)
    notes = [note] if note else []  # trials left out as not trained: results.untrained_note says so
    if (spec.get("paper") or {}).get("quick"):
        notes.append("--quick: directions are comparable with the paper; its numbers come from a larger protocol")
        verdicts = [replace(v, verdict="inconclusive", why=f"--quick cannot judge this: {v.claim.quick_cannot}")
                    if v.claim.quick_cannot else v for v in verdicts]
    return verdicts, notes
