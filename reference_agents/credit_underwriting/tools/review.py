"""Referral to a human underwriter: the interrupt payload, the resume value, and the demo's rule."""

from __future__ import annotations

from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ALLOWED_DECISIONS = ("approve", "decline")
# Shown to the underwriter; protected attributes (sex/marital status, age, foreign worker) are left out.
SUMMARY_FIELDS = (
    "application_id",
    "purpose",
    "credit_amount",
    "duration_in_month",
    "amount_per_month_dm",
    "credit_history",
    "status_of_existing_checking_account",
    "savings_account_and_bonds",
    "present_employment_since",
    "other_debtors_or_guarantors",
    "property",
)
DEMO_UNDERWRITER = "demo-underwriter-01"
DEMO_APPROVE_BELOW_PD_PCT = 45.0


class InvalidUnderwriterDecision(ValueError):
    """The resume value is not ``{"decision": "approve"|"decline", "underwriter": id, "note": text}``."""


class UnderwriterDecision(BaseModel):
    """A human underwriter's answer to a referral (the graph's resume value)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)
    decision: Literal["approve", "decline"]
    underwriter: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=2000)


def parse_underwriter_decision(value: object) -> dict:
    """Validate a resume value.

    Returns:
        ``{"decision", "underwriter", "note"}`` (whitespace-stripped).

    Raises:
        InvalidUnderwriterDecision: not a mapping, unknown decision, missing/empty underwriter,
            or extra keys; the message names each offending field.
    """
    if not isinstance(value, Mapping):
        raise InvalidUnderwriterDecision(f"underwriter decision must be a mapping, got {type(value).__name__}")
    try:
        return UnderwriterDecision.model_validate(dict(value)).model_dump()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise InvalidUnderwriterDecision(
            f"invalid underwriter decision ({problems}); expected decision one of {list(ALLOWED_DECISIONS)}"
        ) from exc


def referral_payload(state: Mapping) -> dict:
    """The ``interrupt()`` payload for a referred application (JSON).

    Returns:
        ``{"kind": "credit_referral", "question", "application_summary" (amounts DM, months),
        "pd_pct", "score_points", "top_risk_factors", "referral_reasons", "policy_version",
        "allowed_decisions", "resume_format"}``.
    """
    assessment, policy = state["assessment"], state["policy_result"]
    return {
        "kind": "credit_referral",
        "question": "Approve or decline this referred credit application?",
        "application_summary": {k: state.get(k) for k in SUMMARY_FIELDS},
        "pd_pct": assessment["pd_pct"],
        "score_points": assessment["score_points"],
        "top_risk_factors": assessment["top_risk_factors"],
        "referral_reasons": policy["reasons"],
        "policy_version": policy["policy_version"],
        "allowed_decisions": list(ALLOWED_DECISIONS),
        "resume_format": {"decision": "approve|decline", "underwriter": "<underwriter id>", "note": "<text>"},
    }


def demo_underwriter_decision(payload: Mapping, run_input: Mapping) -> dict:
    """The demo's underwriter: approve a referral when its PD is below 45 %, else decline.

    45 % lies inside the policy's grey band (40-55 %), so referrals split between both
    outcomes; referrals for other reasons (amount, unemployment) with a low PD are approved.
    ``run_input`` is unused: the underwriter decides on what the referral shows.
    """
    approve = payload["pd_pct"] < DEMO_APPROVE_BELOW_PD_PCT
    return {
        "decision": "approve" if approve else "decline",
        "underwriter": DEMO_UNDERWRITER,
        "note": f"demo rule: approve if PD < {DEMO_APPROVE_BELOW_PD_PCT:g}% (PD {payload['pd_pct']:.1f}%)",
    }
