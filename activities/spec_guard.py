"""Lifecycle step ``guard``: no PII in the spec's free text, and models/data classes within policy."""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.pii import find_pii

# Spec fields whose text reaches prompts or the catalog and so must carry no PII.
GUARDED_FIELDS = ("description", "system_prompt")


def spec_findings(spec: dict) -> list[dict]:
    """PII findings in the guarded fields: ``[{field, entity, start, end, score}]`` (positions are
    character offsets into that field)."""
    out = []
    for field in GUARDED_FIELDS:
        text = spec.get(field) or ""
        for r in find_pii(text):
            out.append({"field": field, "entity": r.entity_type, "start": r.start, "end": r.end, "score": round(r.score, 2)})
    return out


@activity.defn(name="guard_spec")
async def guard_spec(spec: dict) -> dict:
    """Reject a spec carrying PII.

    Returns:
        ``{"findings": []}`` when clean.

    Raises:
        ApplicationError (non-retryable, type ``PiiInSpec``): names each entity, field and position;
            ``details[0]`` holds the findings.
    """
    findings = spec_findings(spec)
    if findings:
        where = ", ".join(f"{f['entity']} in {f['field']} at {f['start']}-{f['end']}" for f in findings)
        raise ApplicationError(f"spec rejected: PII found: {where}", findings, type="PiiInSpec", non_retryable=True)
    return {"findings": []}
