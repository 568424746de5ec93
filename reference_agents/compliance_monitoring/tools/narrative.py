"""The case narrative's facts and its deterministic text (used when no LLM is configured)."""

from __future__ import annotations

_CANDIDATE_FACTS = ("reference_number", "list_type", "score", "matched_name_kind", "dob_evidence", "country_evidence")


def narrative_facts(decision: str, reasons: list[str], candidates: list[dict], review: dict | None,
                    alerts: list[dict], transactions_monitored: int, counterparties: list[dict] | None = None) -> dict:
    """The facts a narrative may use (JSON).

    The screened names and date of birth are left out on purpose: the narrative may be written by
    an external LLM, and the case is identified by its candidates' list references instead.

    Returns:
        ``decision``, ``reasons``, ``watchlist_candidates`` (reference, list type, score 0-100,
        kind of matched name, ``dob_evidence``, ``country_evidence``), ``review_decision`` (the
        analyst's decision or ``None``), ``counterparties_screened`` and
        ``counterparties_with_candidates`` (counts), ``alerts`` (reason code, ``amount_usd``,
        number of transactions, ``hold``) and ``transactions_monitored``.
    """
    counterparties = counterparties or []
    return {
        "decision": decision,
        "reasons": reasons,
        "watchlist_candidates": [{k: c[k] for k in _CANDIDATE_FACTS} for c in candidates],
        "review_decision": (review or {}).get("decision"),
        "counterparties_screened": len(counterparties),
        "counterparties_with_candidates": sum(1 for p in counterparties if p["candidates"]),
        "alerts": [{k: a[k] for k in ("reason_code", "amount_usd")}
                   | {"transactions": len(a["transaction_ids"]), "hold": bool(a.get("hold"))} for a in alerts],
        "transactions_monitored": transactions_monitored,
    }


def fallback_narrative(facts: dict) -> str:
    """One sentence built only from :func:`narrative_facts`."""
    return (
        f"Decision {facts['decision']}: {', '.join(facts['reasons'])}. "
        f"{len(facts['watchlist_candidates'])} watchlist candidate(s), "
        f"{len(facts['alerts'])} monitoring alert(s) over {facts['transactions_monitored']} transaction(s)."
    )
