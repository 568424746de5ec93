"""Risk score 0-100 from rule hits and the anomaly model, with reason codes.

Each piece of evidence ``i`` has an expert-set strength ``w_i`` in [0, 1]; they are combined as
a noisy-OR, ``risk = 100 * (1 - prod_i (1 - w_i))``, so independent signals reinforce each
other, no single weak signal dominates, and the score stays within 0-100.

The risk score is a ranking score, NOT a probability of fraud: the weights are set by hand, not
estimated, and the score is not calibrated against outcomes (the noisy-OR is used as a bounded
way to add evidence, not as a probability model). "Risk score 80" does not mean "80 % likely to be
fraud"; what a threshold catches and how often it is right is measured on labelled data
(``bench/model_review_fraud.py``, on SYNTHETIC data only).
"""

from __future__ import annotations

from reference_agents.fraud_detection.tools.anomaly import anomaly_score
from reference_agents.fraud_detection.tools.features import enrich
from reference_agents.fraud_detection.tools.rules import evaluate_rules

MODEL_ANOMALY, INSUFFICIENT_HISTORY = "MODEL_ANOMALY", "INSUFFICIENT_HISTORY"
MODEL_CODES = (MODEL_ANOMALY, INSUFFICIENT_HISTORY)  # the codes the anomaly model adds to the rules'


def model_weight(score: float, model_policy: dict) -> float:
    """Evidence strength of an IsolationForest anomaly score ``s``: 0 at or below
    ``anomaly_floor``, the policy ``weight`` at or above ``anomaly_ceiling``, linear between."""
    floor, ceiling = model_policy["anomaly_floor"], model_policy["anomaly_ceiling"]
    fraction = min(max((score - floor) / (ceiling - floor), 0.0), 1.0)
    return model_policy["weight"] * fraction


def combine_risk(rule_hits: list[dict], model: dict | None, model_policy: dict) -> dict:
    """Combine rule hits and the model result into the risk score.

    Returns:
        ``{"risk_score": 0-100 float (a ranking score, not a probability), "reasons": [codes],
        "model_weight": float | None}``; reasons
        are the rule codes, then ``MODEL_ANOMALY`` when the model adds evidence, or
        ``INSUFFICIENT_HISTORY`` when it could not be fitted.
    """
    weights = [h["weight"] for h in rule_hits]
    reasons = [h["code"] for h in rule_hits]
    m_weight = None
    if model is None:
        reasons.append(INSUFFICIENT_HISTORY)
    else:
        m_weight = model_weight(model["anomaly_score"], model_policy)
        if m_weight > 0:
            weights.append(m_weight)
            reasons.append(MODEL_ANOMALY)
    survival = 1.0
    for w in weights:
        survival *= 1.0 - w
    return {"risk_score": round(100.0 * (1.0 - survival), 2), "reasons": reasons, "model_weight": m_weight}


def score_case(txn: dict, history: list[dict], account_events: list[dict], policy: dict) -> dict:
    """Enrich, apply rules and the model, and combine: the whole assessment of one transaction.

    Returns:
        ``{"features", "rule_hits", "model", "risk_score", "reasons", "model_weight"}``.
    """
    features = enrich(txn, history, account_events, policy)
    hits = evaluate_rules(features, txn, policy)
    model = anomaly_score(txn, history, policy["model"])
    return {"features": features, "rule_hits": hits, "model": model, **combine_risk(hits, model, policy["model"])}
