"""Lifecycle step ``guard``: no PII in the spec's free text."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.guards.pii import PiiGuard
from workflows.types import GUARD_SPEC, GuardSpecInput, GuardSpecResult, PiiFinding

# Spec fields whose text reaches prompts or the catalog and so must carry no PII.
GUARDED_FIELDS = ("description", "system_prompt")
# Entities that make a spec unsafe, with the minimum score (0-1) that counts.
SPEC_MIN_SCORES: dict[str, float] = {
    "CREDIT_CARD": 0.5,
    "US_SSN": 0.5,
    "IBAN_CODE": 0.5,
    "US_BANK_NUMBER": 0.4,
    "US_PASSPORT": 0.4,
    "US_DRIVER_LICENSE": 0.6,
    "EMAIL_ADDRESS": 0.5,
    "PHONE_NUMBER": 0.4,
    "PERSON": 0.85,
}


@lru_cache(maxsize=1)
def _pii() -> PiiGuard:
    return PiiGuard(min_scores=SPEC_MIN_SCORES)


def spec_findings(spec: dict) -> list[PiiFinding]:
    """PII findings in the guarded fields (positions are character offsets into that field)."""
    out = []
    for field in GUARDED_FIELDS:
        for f in _pii().scan(spec.get(field) or ""):
            out.append(PiiFinding(field=field, entity=f.entity, start=f.start, end=f.end, score=round(f.score, 2)))
    return out


@activity.defn(name=GUARD_SPEC)
async def guard_spec(inp: GuardSpecInput) -> GuardSpecResult:
    """Reject a spec carrying PII; a clean spec returns no findings.

    Raises:
        ApplicationError (non-retryable, type ``PiiInSpec``): names each entity, field and position;
            ``details[0]`` holds the findings as dicts.
    """
    findings = spec_findings(inp.spec)
    if findings:
        where = ", ".join(f"{f.entity} in {f.field} at {f.start}-{f.end}" for f in findings)
        raise ApplicationError(f"spec rejected: PII found: {where}", [asdict(f) for f in findings], type="PiiInSpec",
                               non_retryable=True)
    return GuardSpecResult(findings=[])
