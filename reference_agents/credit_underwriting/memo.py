"""The underwriting memo: facts of a decided application, and the memo built from them without an LLM.

The facts are whitelisted: the decision, its reason codes (with the policy's wording), a
decline's principal reasons for the applicant, PD, score points, top risk factors and the credit
terms (the purpose in its corrected meaning). Protected attributes
(``personal_status_and_sex``, ``age_in_years``, ``foreign_worker``), the rest of the
application row and the underwriter's free-text note never enter them, so neither an LLM
prompt nor the memo can repeat them.
"""

from __future__ import annotations

from typing import Mapping

from reference_agents.credit_underwriting.policy import Policy
from reference_agents.credit_underwriting.review import REVIEW_REASON_DESCRIPTIONS
from reference_agents.credit_underwriting.tools.coding import meaning

MEMO_TITLE = "Credit underwriting memo for one consumer-credit application (amounts in DM)"


def memo_facts(state: Mapping, policy: Policy) -> dict:
    """The facts a memo may use, from the final state of a decided run (JSON).

    Returns:
        ``decision`` (approve/decline), ``decided_by`` (policy/underwriter), ``reasons`` (codes),
        ``reason_descriptions`` (code -> wording, for the codes present), ``pd_pct`` (0-100),
        ``score_points``, ``top_risk_factors`` (scorecard characteristics, most costly first),
        ``purpose``, ``credit_amount_dm``, ``duration_months``, ``amount_per_month_dm``,
        ``policy_version``; after a referral also ``referral_reasons`` (the policy's codes); for a
        decline also ``adverse_action_reasons`` (the principal reasons' texts, ranked).

    Raises:
        KeyError: the state has no decision yet (the memo is written only after one).
    """
    assessment, result = state["assessment"], state["policy_result"]
    facts = {
        "decision": state["decision"],
        "decided_by": state["decided_by"],
        "reasons": list(state["reasons"]),
        "pd_pct": assessment["pd_pct"],
        "score_points": assessment["score_points"],
        "top_risk_factors": list(assessment["top_risk_factors"]),
        "purpose": meaning("purpose", state["purpose"]),
        "credit_amount_dm": state["credit_amount"],
        "duration_months": state["duration_in_month"],
        "amount_per_month_dm": state["amount_per_month_dm"],
        "policy_version": result["policy_version"],
    }
    codes = list(facts["reasons"])
    if state["decided_by"] == "underwriter":
        facts["referral_reasons"] = list(result["reasons"])
        codes += facts["referral_reasons"]
    if state["decision"] == "decline":
        facts["adverse_action_reasons"] = [r["text"] for r in state["adverse_action_reasons"]]
    wording = policy.reason_descriptions() | REVIEW_REASON_DESCRIPTIONS
    facts["reason_descriptions"] = {c: wording[c] for c in codes if wording.get(c)}
    return facts


def _codes(codes: list[str], wording: dict[str, str]) -> str:
    return "; ".join(f"{c} ({wording[c].rstrip('.')})" if c in wording else c for c in codes)


def rules_memo(facts: Mapping) -> str:
    """The memo without an LLM: a fixed template over :func:`memo_facts`."""
    wording = facts["reason_descriptions"]
    factors = ", ".join(f.replace("_", " ") for f in facts["top_risk_factors"]) or "none"
    text = (
        f"Decision: {facts['decision']} by {facts['decided_by']} (credit policy {facts['policy_version']}). "
        f"Application: {facts['credit_amount_dm']:,} DM over {facts['duration_months']} months "
        f"({facts['amount_per_month_dm']:,.2f} DM per month) for {facts['purpose']}. "
        f"Scorecard: PD {facts['pd_pct']:.1f}%, {facts['score_points']} points; "
        f"top risk factors: {factors}. "
    )
    if facts["decided_by"] == "underwriter":
        text += f"Referred by the policy for {_codes(facts['referral_reasons'], wording)}. "
    text += f"Reasons: {_codes(facts['reasons'], wording)}."
    if "adverse_action_reasons" in facts:
        text += " Principal reasons given to the applicant: " + " ".join(
            f"({i}) {r}" for i, r in enumerate(facts["adverse_action_reasons"], 1))
    return text
