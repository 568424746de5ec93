"""The run's JSON output and the one-line summary of many runs."""

from __future__ import annotations

from collections import Counter

_CANDIDATE_FIELDS = (
    "source", "reference_number", "party_type", "primary_name", "matched_name", "matched_name_kind",
    "list_type", "score", "strong_match", "dob_match",
)


def output(state: dict) -> dict:
    """The run's JSON output from the final state.

    Returns:
        ``decision`` (``clear``/``alert``/``blocked``), ``reasons`` (codes), ``customer_id``,
        ``watchlist`` (``top_score_0_100``, ``candidates`` with list data only, thresholds
        0-100, index sizes, list sources), ``review`` (the analyst's recorded answer:
        ``decision``, ``reviewer``, ``note``, ``reference_number``, ``candidate_reference_numbers``;
        None when no analyst was needed or yet),
        ``alerts``, ``transactions_monitored_count``, ``alerted_amount_usd`` (sum of the
        distinct alerted transactions), ``narrative`` (the case summary; ``""`` while pending)
        and ``narrative_source`` (``"llm"`` when a configured model wrote it, ``"tools"`` when
        it was built from the tools' results -- no model, or an empty answer; ``"pending"``
        before the decision). The screened name and date of birth are not repeated: they
        stay in the run input.
    """
    screening = state.get("screening") or {}
    candidates = screening.get("candidates") or []
    alerts = state.get("alerts") or []
    by_id = {t["transaction_id"]: t["amount_usd"] for t in state.get("transactions") or []}
    alerted = {i for a in alerts for i in a["transaction_ids"]}
    return {
        "decision": state.get("decision", "pending"),
        "reasons": list(state.get("reasons") or []),
        "customer_id": state.get("customer_id"),
        "watchlist": {
            "top_score_0_100": max((c["score"] for c in candidates), default=0.0),
            "candidates": [{k: c.get(k) for k in _CANDIDATE_FIELDS} for c in candidates],
            "review_threshold_0_100": screening.get("review_threshold"),
            "strong_match_threshold_0_100": screening.get("strong_match_threshold"),
            "parties_indexed": screening.get("parties_indexed"),
            "names_indexed": screening.get("names_indexed"),
            "sources": screening.get("sources", []),
        },
        "review": state.get("review"),
        "alerts": alerts,
        "transactions_monitored_count": len(by_id),
        "alerted_amount_usd": round(sum(by_id.get(i, 0.0) for i in alerted), 2),
        "narrative": state.get("narrative", ""),
        "narrative_source": state.get("narrative_source", "pending"),
    }


def summarize(outputs: list[dict]) -> str:
    """One line: decisions, analyst decisions and alert reason codes over many runs' outputs."""
    decisions = Counter(o.get("decision") for o in outputs)
    reviews = Counter(o["review"]["decision"] for o in outputs if o.get("review"))
    codes = Counter(a["reason_code"] for o in outputs for a in o.get("alerts") or [])
    alert_text = ", ".join(f"{c}×{n}" for c, n in sorted(codes.items())) or "none"
    return (
        f"{len(outputs)} screenings: {decisions.get('blocked', 0)} blocked, {decisions.get('alert', 0)} alert, "
        f"{decisions.get('clear', 0)} clear; analyst reviews {sum(reviews.values())} "
        f"({reviews.get('true_match', 0)} true match, {reviews.get('false_positive', 0)} false positive); "
        f"monitoring alerts: {alert_text}"
    )
