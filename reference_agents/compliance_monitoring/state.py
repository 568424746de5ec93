"""Graph state of the Compliance Monitoring agent (plain JSON values only)."""

from __future__ import annotations

from typing import TypedDict


class ComplianceState(TypedDict, total=False):
    """State carried between nodes.

    Input (see :class:`~reference_agents.compliance_monitoring.inputs.ComplianceInput`):
        customer_id, name, party_type, date_of_birth, nationality,
        transactions: list of dicts (``timestamp`` ISO 8601, ``amount_usd`` in US dollars).

    Set by the nodes:
        validated: input checked and normalised (intake).
        screening: ``{"screened_name", "normalized_name", "candidates": [...],
            "review_threshold", "strong_match_threshold", "names_indexed", "parties_indexed",
            "sources"}``; each candidate has ``score`` (0-100), ``matched_name``,
            ``reference_number``, ``primary_name``, ``dob_match`` (bool or None)…
        review: the analyst's recorded answer on the candidates (``decision``, ``reviewer``,
            ``note``, ``reference_number``, ``candidate_reference_numbers``; see
            :func:`~reference_agents.compliance_monitoring.review.recorded_review`), or None
            when none was needed.
        alerts: monitoring alerts (``rule``, ``reason_code``, ``transaction_ids``, ``amount_usd``).
        decision: ``clear`` | ``alert`` | ``blocked``.
        reasons: machine-readable reason codes.
        narrative: a short case summary (LLM-written when a model is configured).
        narrative_source: ``"llm"`` or ``"tools"`` (the deterministic sentence).
    """

    customer_id: str | None
    name: str
    party_type: str | None
    date_of_birth: str | None
    nationality: str | None
    transactions: list[dict]
    validated: bool
    screening: dict
    review: dict | None
    alerts: list[dict]
    decision: str
    reasons: list[str]
    narrative: str
    narrative_source: str
