"""Run output and the demo's one-line summary of many outputs."""

from __future__ import annotations

from collections import Counter
from typing import Mapping

from reference_agents.credit_underwriting.tools.data import labels

DECISIONS = ("approve", "decline", "refer")


def output(state: Mapping) -> dict:
    """The JSON output of one run from its final state.

    Returns:
        ``decision`` (approve/decline; ``refer`` only if the run is still awaiting an underwriter),
        ``reasons`` (codes), ``decided_by`` (``policy``/``underwriter``), ``pd_pct`` (0-100),
        ``score_points``, ``top_risk_factors``, ``credit_amount_dm``, ``duration_months``,
        ``amount_per_month_dm``, ``policy_version``, ``rule_hits``, ``application_id``,
        ``adverse_action_reasons`` (a decline's 1-4 principal reasons for the applicant, ``{"code", "text",
        "points_below_best"}``, ranked; ``[]`` unless declined),
        ``narrative`` (the underwriting memo; ``""`` while pending), ``narrative_source``
        (``llm``/``tools``; ``pending`` while awaiting an underwriter), ``referral_reasons`` (the
        policy's codes when it referred, else ``[]``) and ``underwriter_review``
        (``{"decision", "reviewer", "note"}`` once an underwriter answered, else ``None``).
    """
    policy = state.get("policy_result") or {}
    assessment = state.get("assessment") or {}
    return {
        "application_id": state.get("application_id"),
        "decision": state.get("decision") or policy.get("decision", "refer"),
        "reasons": list(state.get("reasons") or policy.get("reasons") or []),
        "adverse_action_reasons": list(state.get("adverse_action_reasons") or []),
        "decided_by": state.get("decided_by", "pending"),
        "pd_pct": assessment.get("pd_pct"),
        "score_points": assessment.get("score_points"),
        "top_risk_factors": list(assessment.get("top_risk_factors") or []),
        "credit_amount_dm": state.get("credit_amount"),
        "duration_months": state.get("duration_in_month"),
        "amount_per_month_dm": state.get("amount_per_month_dm"),
        "policy_version": policy.get("policy_version"),
        "rule_hits": policy.get("rule_hits", {}),
        "narrative": state.get("narrative", ""),
        "narrative_source": state.get("narrative_source", "pending"),
        "referral_reasons": list(policy["reasons"]) if policy.get("decision") == "refer" else [],
        "underwriter_review": state.get("underwriter_review"),
    }


def summarize(outputs: list[dict]) -> str:
    """One line: the policy's decision mix (approve/decline/refer), what underwriters made of the
    referrals, the final mix, mean PD and, for outputs carrying an ``application_id`` of the data,
    the final decline rate among applications labelled bad vs good."""
    n = len(outputs)
    if n == 0:
        return "0 applications"
    policy_mix = Counter(o["decision"] if o.get("decided_by") == "policy" else "refer" for o in outputs)
    referred = Counter(o["decision"] for o in outputs if o.get("decided_by") == "underwriter")
    final = Counter(o["decision"] for o in outputs)
    parts = [
        f"{n} applications: policy " + ", ".join(f"{d} {policy_mix[d]} ({100 * policy_mix[d] / n:.1f}%)" for d in DECISIONS),
        f"underwriters approved {referred['approve']}, declined {referred['decline']}, pending {final['refer']}",
        f"final approve {final['approve']}, decline {final['decline']}",
    ]
    pds = [o["pd_pct"] for o in outputs if o.get("pd_pct") is not None]
    if pds:
        parts.append(f"mean PD {sum(pds) / len(pds):.1f}%")
    label = labels()
    declined = {"bad": [0, 0], "good": [0, 0]}  # [declines, applications] per label
    for o in outputs:
        if o.get("application_id") in label:
            counts = declined[label[o["application_id"]]]
            counts[0] += o["decision"] == "decline"
            counts[1] += 1
    if declined["bad"][1] and declined["good"][1]:
        rates = [100 * declined[k][0] / declined[k][1] for k in ("bad", "good")]
        parts.append(f"decline rate bad {rates[0]:.1f}% vs good {rates[1]:.1f}%")
    return "; ".join(parts)


def check_decline_reasons(output: dict) -> list[str]:
    """A declined application (by the policy or an underwriter) carries one to four principal
    adverse-action reasons (ECOA / Regulation B, 12 CFR 1002.9(b)(2)); returns the problems found."""
    if output.get("decision") != "decline":
        return []
    reasons = output.get("adverse_action_reasons") or []
    if not 1 <= len(reasons) <= 4:
        return [f"a declined application must carry 1 to 4 adverse-action reasons, not {len(reasons)}"]
    return []


# Checked on every run's output before it leaves the run (a problem withholds the output).
OUTPUT_CHECKS = (check_decline_reasons,)
