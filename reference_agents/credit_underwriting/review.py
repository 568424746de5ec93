"""An underwriter's review of a referred application: the answer model, the interrupt request, and the
decision an answer settles (the shared contract of :mod:`reference_agents.common.hitl`)."""

from __future__ import annotations

from typing import Literal, Mapping

from pydantic import Field

from reference_agents.common.hitl import InterruptRequest, ReviewAnswer, build_request, reason_texts
from reference_agents.credit_underwriting.adverse_action import principal_reasons
from reference_agents.credit_underwriting.policy import Policy
from reference_agents.credit_underwriting.tools.coding import corrected

KIND = "credit_referral"
QUESTION = "Approve or decline this referred credit application?"
# Shown to the underwriter, categories in their corrected meaning; protected attributes (sex/marital
# status, age, foreign worker) are left out.
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
# The reason code of a decision taken by the underwriter, and its wording (for the memo).
REVIEW_REASONS = {"approve": "UNDERWRITER_APPROVED", "decline": "UNDERWRITER_DECLINED"}
REVIEW_REASON_DESCRIPTIONS = {
    "UNDERWRITER_APPROVED": "A human underwriter approved the referred application.",
    "UNDERWRITER_DECLINED": "A human underwriter declined the referred application.",
}


class UnderwriterAnswer(ReviewAnswer):
    """An underwriter's answer to a credit referral: approve or decline, who decides, and why.
    Example: {"decision": "approve", "reviewer": "uw-42", "note": "collateral seen"}."""

    decision: Literal["approve", "decline"] = Field(description="Approve or decline the referred application.")


def referral_request(state: Mapping, policy: Policy) -> InterruptRequest:
    """The interrupt request for a referred application.

    Args:
        state: the graph state after ``policy_decision`` referred (has ``assessment`` and ``policy_result``).
        policy: the policy that referred it (supplies each reason code's wording).

    Returns:
        kind ``credit_referral``; ``context`` = ``application_summary`` (:data:`SUMMARY_FIELDS`, categories
        in their corrected meaning; amounts DM, term months), ``pd_pct`` (0-100, population prior),
        ``score_points``, ``top_risk_factors``, ``adverse_action_reasons`` (what a decline would tell the
        applicant: up to four ``{"code", "text", "points_below_best"}``), ``policy_version``;
        ``reasons`` = the referral triggers that fired, with their policy description.
    """
    assessment, result = state["assessment"], state["policy_result"]
    wording = policy.reason_descriptions()
    summary = corrected({k: state.get(k) for k in SUMMARY_FIELDS})
    context = {
        "application_summary": summary,
        "pd_pct": assessment["pd_pct"],
        "score_points": assessment["score_points"],
        "top_risk_factors": list(assessment["top_risk_factors"]),
        "adverse_action_reasons": principal_reasons(policy, result["reasons"], assessment, state),
        "policy_version": result["policy_version"],
    }
    reasons = reason_texts(wording, result["reasons"])
    return build_request(KIND, QUESTION, UnderwriterAnswer, context, reasons)


def settle(answer: UnderwriterAnswer) -> tuple[str, str]:
    """The final decision and its reason code: the underwriter's decision, ``UNDERWRITER_APPROVED``
    or ``UNDERWRITER_DECLINED``."""
    return answer.decision, REVIEW_REASONS[answer.decision]
