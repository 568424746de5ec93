"""Lifecycle step ``guard``: no PII in the spec's free text."""

from __future__ import annotations

from dataclasses import asdict

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.pii import find_pii
from workflows.types import GUARD_SPEC, GuardSpecInput, GuardSpecResult, PiiFinding

# Spec fields whose text reaches prompts or the catalog and so must carry no PII.
GUARDED_FIELDS = ("description", "system_prompt")


def spec_findings(spec: dict) -> list[PiiFinding]:
    """PII findings in the guarded fields (positions are character offsets into that field)."""
    out = []
    for field in GUARDED_FIELDS:
        for r in find_pii(spec.get(field) or ""):
            out.append(PiiFinding(field=field, entity=r.entity_type, start=r.start, end=r.end, score=round(r.score, 2)))
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
