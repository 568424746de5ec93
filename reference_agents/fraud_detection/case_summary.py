"""The case summary an analyst reads: the facts of a case, and the summary built from them without an
LLM (with a model configured, the LLM writes it from the same facts)."""

from __future__ import annotations

from reference_agents.fraud_detection.reference_data import mcc_descriptions

SUMMARY_TITLE = "Card transaction fraud alert"


def case_facts(txn: dict, features: dict, assessment: dict, triage: dict) -> dict:
    """The facts of a case the narrative may use (no customer, merchant or device identifiers)."""
    model = assessment["model"]
    return {
        "amount": txn["amount"],
        "currency": txn["currency"],
        "merchant_category": f"{txn['mcc']} {mcc_descriptions()[txn['mcc']]}",
        "channel": txn["channel"],
        "customer_median_amount": features["amount_history_median"],
        "history_txn_count": features["history_txn_count"],
        "risk_score_0_100": assessment["risk_score"],
        "risk_score_meaning": "a ranking score from hand-set rule weights, not a probability of fraud",
        "proposed_action": triage["action"],
        "step_up_method": triage["step_up_method"],
        "evidence": [f"{h['code']}: {h['detail']}" for h in assessment["rule_hits"]],
        "isolation_forest_anomaly_score": model["anomaly_score"] if model else None,
    }


def fallback_summary(facts: dict) -> str:
    """Deterministic one-paragraph summary of :func:`case_facts`."""
    action = facts["proposed_action"]
    if facts["step_up_method"]:
        action += f" ({facts['step_up_method']})"
    evidence = "; ".join(facts["evidence"]) or "no rule fired"
    anomaly = facts["isolation_forest_anomaly_score"]
    if anomaly is None:
        model = "too little history for the model"
    else:
        model = f"IsolationForest anomaly score {anomaly:.2f}"
    return (
        f"{facts['amount']:.2f} {facts['currency']} {facts['channel'].replace('_', '-')} at MCC "
        f"{facts['merchant_category']}: risk score {facts['risk_score_0_100']:.0f}/100 (not a probability), "
        f"proposed {action}. "
        f"Evidence: {evidence}; {model} over {facts['history_txn_count']} prior transactions."
    )
