"""A fraud analyst's review of a high-risk alert: the answer model, the interrupt request, and the action
an answer settles (the shared contract of :mod:`reference_agents.common.hitl`)."""

from __future__ import annotations

from typing import Any, Literal, Mapping

from pydantic import Field

from reference_agents.common.hitl import InterruptRequest, ReviewAnswer, build_request, reason_texts
from reference_agents.fraud_detection.tools.triage import BLOCK

KIND = "fraud_analyst_review"
QUESTION = "Is this card transaction fraud?"
# The final action after a review: "release" reverses the proposed block or step-up (the transaction
# goes through, the alert is closed as a false positive); a confirmed fraud stays blocked.
RELEASE = "release"
SETTLEMENT = {
    "fraud": (BLOCK, "ANALYST_CONFIRMED_FRAUD"),
    "legitimate": (RELEASE, "ANALYST_CONFIRMED_LEGITIMATE"),
}


class AnalystAnswer(ReviewAnswer):
    """A fraud analyst's answer to a high-risk alert: fraud or legitimate, who decides, and why.
    Example: {"decision": "fraud", "reviewer": "a.analyst", "note": "customer denies the purchase"}."""

    decision: Literal["fraud", "legitimate"] = Field(
        description="fraud: block the transaction; legitimate: release it (reverse the proposed block) and close the alert."
    )


def analyst_request(state: Mapping, policy: Mapping[str, Any]) -> InterruptRequest:
    """The interrupt request for a triaged alert at or above the analyst-review score.

    Args:
        state: the graph state after triage (``transaction``, ``assessment``, ``triage``, ``narrative``).
        policy: the fraud policy (its ``reasons`` word each code).

    Returns:
        kind ``fraud_analyst_review``; ``context`` = ``transaction`` (amount in billing-currency
        units, WGS84 degrees), ``alert_id`` (or ``None``), ``risk_score`` (0-100, a ranking score,
        not a probability), ``rule_hits``
        (code, weight, detail), ``proposed_action`` (the policy's triage) and ``summary`` (the case
        narrative); ``reasons`` = the risk score's reason codes with their policy text.
    """
    assessment = state["assessment"]
    context = {
        "transaction": state["transaction"],
        "alert_id": (state.get("alert") or {}).get("alert_id"),
        "risk_score": assessment["risk_score"],
        "rule_hits": assessment["rule_hits"],
        "proposed_action": state["triage"]["action"],
        "summary": state["narrative"],
    }
    reasons = reason_texts(policy["reasons"], assessment["reasons"])
    return build_request(KIND, QUESTION, AnalystAnswer, context, reasons)


def settle(answer: AnalystAnswer) -> tuple[str, str]:
    """The final action and reason code for an analyst's decision: ``("block",
    "ANALYST_CONFIRMED_FRAUD")`` or ``("release", "ANALYST_CONFIRMED_LEGITIMATE")``: a legitimate
    verdict releases the transaction whatever the policy proposed."""
    return SETTLEMENT[answer.decision]
