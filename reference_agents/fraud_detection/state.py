"""Graph state of the fraud agent. Every value is plain JSON (dicts, lists, str, float, bool)."""

from __future__ import annotations

from typing import TypedDict


class FraudState(TypedDict, total=False):
    """State of one alert's run.

    Input keys (see :class:`~reference_agents.fraud_detection.inputs.FraudCaseInput`):
        transaction: the transaction under assessment (set from ``alert.transaction`` when the
            input is an upstream alert); ``amount`` in billing-currency units, ``latitude``/``longitude``
            in WGS84 degrees, ``timestamp`` ISO 8601.
        alert: the upstream alert's metadata, or None.
        history: the customer's earlier transactions.
        account_events: the customer's account-security events.

    Worker keys:
        features: enrichment features, units in their names (``_km``, ``_kmh``, ``_minutes``, ...).
        assessment: ``rule_hits``, ``model`` (IsolationForest result or None), ``risk_score`` (0-100,
            a ranking score, not a probability),
            ``reasons`` (codes), ``model_weight``.
        triage: ``action`` (auto_close/step_up/block), ``step_up_method`` (the channel's, for a
            step_up), ``analyst_review`` (bool).
        narrative: the case summary for the analyst (LLM prose when a model is configured).
        narrative_source: ``"llm"`` or ``"tools"``.
        analyst_review: the analyst's answer after the interrupt, ``{"decision": "fraud"|"legitimate",
            "reviewer", "note"}`` (see ``review.AnalystAnswer``).
        decision: the final action: the triage's, or after a review ``block`` (fraud) or ``release``
            (legitimate: the proposed block or step-up is reversed).
    """

    transaction: dict
    alert: dict | None
    history: list[dict]
    account_events: list[dict]
    features: dict
    assessment: dict
    triage: dict
    narrative: str
    narrative_source: str
    analyst_review: dict
    decision: str
