"""The run output of the fraud agent and the one-line summary of many outputs."""

from __future__ import annotations

from collections import Counter

from reference_agents.fraud_detection.review import AnalystAnswer, settle


def output(state: dict) -> dict:
    """JSON output of a finished run.

    Returns:
        ``decision`` (the final action: auto_close/step_up/block by policy, or after an analyst's
        review block (fraud) or release (legitimate: the proposed block or step-up is reversed)),
        ``reasons`` (rule/model codes, plus ``ANALYST_CONFIRMED_FRAUD``/``ANALYST_CONFIRMED_LEGITIMATE``,
        the reason of a reviewed decision), ``risk_score`` (0-100, a ranking score, not a
        probability of fraud), ``proposed_action`` (policy triage before review),
        ``step_up_method`` (the channel's method when the policy proposed a step-up, else None),
        the transaction's ``transaction_id``, ``customer_id``, ``channel``, ``amount`` and
        ``currency``, ``alert_id``, ``rule_hits``, ``model`` (IsolationForest result or None),
        ``features`` (units in names), ``narrative`` (case summary) with its ``narrative_source``
        and ``analyst_review`` (``{"decision": "fraud"|"legitimate", "reviewer", "note"}``, or None).
    """
    txn, assessment, tri = state["transaction"], state["assessment"], state["triage"]
    reasons = list(assessment["reasons"])
    review = state.get("analyst_review")
    if review is not None:
        reasons.append(settle(AnalystAnswer.model_validate(review))[1])
    return {
        "decision": state["decision"],
        "reasons": reasons,
        "risk_score": assessment["risk_score"],
        "proposed_action": tri["action"],
        "step_up_method": tri["step_up_method"],
        "transaction_id": txn["transaction_id"],
        "customer_id": txn["customer_id"],
        "channel": txn["channel"],
        "amount": txn["amount"],
        "currency": txn["currency"],
        "alert_id": (state.get("alert") or {}).get("alert_id"),
        "rule_hits": assessment["rule_hits"],
        "model": assessment["model"],
        "features": state["features"],
        "narrative": state["narrative"],
        "narrative_source": state["narrative_source"],
        "analyst_review": review,
    }


def summarize(outputs: list[dict]) -> str:
    """One line: decisions by kind, analyst decisions and the mean risk score (0-100, not a probability)."""
    if not outputs:
        return "fraud detection: no alerts"
    decisions = Counter(o["decision"] for o in outputs)
    reviews = Counter(o["analyst_review"]["decision"] for o in outputs if o.get("analyst_review"))
    mean_risk = sum(o["risk_score"] for o in outputs) / len(outputs)
    return (
        f"fraud detection: {len(outputs)} alerts -> "
        f"{decisions['auto_close']} auto_close, {decisions['step_up']} step_up, {decisions['block']} block, "
        f"{decisions['release']} release; "
        f"{sum(reviews.values())} analyst reviews ({reviews['fraud']} fraud, {reviews['legitimate']} legitimate); "
        f"mean risk score {mean_risk:.1f}/100"
    )


def check_action_reasons(output: dict) -> list[str]:
    """A blocked or stepped-up transaction carries the reason codes behind it, so the customer and an
    auditor can be told why; returns the problems found."""
    if output.get("decision") in ("block", "step_up") and not output.get("reasons"):
        return [f"a {output['decision']} must carry its reason codes"]
    return []


# Checked on every run's output before it leaves the run (a problem withholds the output).
OUTPUT_CHECKS = (check_action_reasons,)
