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
        screening: the customer's screening ``{"screened_name", "normalized_name", "candidates": [...],
            "review_threshold", "strong_match_threshold", "names_indexed", "parties_indexed",
            "sources", "screening_date", "lists", "stale", "stale_list_action"}``; each candidate
            has ``score`` (match score 0-100), ``name_score``, ``matched_name``, ``reference_number``,
            ``primary_name``, ``dob_evidence``, ``country_evidence``, ``identifiers_agree``…
            (:func:`~reference_agents.compliance_monitoring.tools.watchlist.screen_name`).
        counterparty_screening: one ``{"counterparty_name", "counterparty_country",
            "transaction_ids", "candidates"}`` per distinct counterparty name.
        review: the analyst's recorded answer on the customer's candidates (``decision``,
            ``reviewer``, ``note``, ``reference_number``, ``candidate_reference_numbers``; see
            :func:`~reference_agents.compliance_monitoring.review.recorded_review`), or None
            when none was needed.
        counterparty_reviews: the analyst's recorded answers on counterparties, keyed by the
            counterparty's index in ``counterparty_screening`` (a string).
        alerts: monitoring alerts (``rule``, ``reason_code``, ``transaction_ids``, ``amount_usd``,
            ``details``; ``hold`` when the payments are stopped).
        decision: ``clear`` | ``alert`` | ``held`` | ``blocked``.
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
    counterparty_screening: list[dict]
    review: dict | None
    counterparty_reviews: dict[str, dict]
    alerts: list[dict]
    decision: str
    reasons: list[str]
    narrative: str
    narrative_source: str
