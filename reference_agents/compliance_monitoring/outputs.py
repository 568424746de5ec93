"""The run's JSON output and the one-line summary of many runs."""

from __future__ import annotations

from collections import Counter

_CANDIDATE_FIELDS = (
    "source", "reference_number", "party_type", "primary_name", "matched_name", "matched_name_kind",
    "list_type", "score", "name_score", "match_method", "alias_quality_weight", "name_distinctiveness",
    "common_name_penalty", "dob_evidence", "country_evidence", "identifier_points", "identifiers_agree",
    "strong_match",
)


def _candidates(candidates: list[dict]) -> list[dict]:
    return [{k: c.get(k) for k in _CANDIDATE_FIELDS} for c in candidates]


def output(state: dict) -> dict:
    """The run's JSON output from the final state.

    Returns:
        ``decision`` (``clear``/``alert``/``held``/``blocked``), ``reasons`` (codes),
        ``customer_id``, ``watchlist`` (``top_score_0_100``, ``candidates`` with list data and
        how each score was made, thresholds 0-100, index sizes, list sources, and the audit
        trail: ``screening_date``, ``lists`` -- each list file's ``source``, ``file``,
        ``date_generated``, ``sha256``, ``parties``, ``age_days``, ``stale`` -- and ``stale``),
        ``review`` (the analyst's recorded answer on the customer: ``decision``, ``reviewer``,
        ``note``, ``reference_number``, ``candidate_reference_numbers``; None when no analyst
        was needed or yet), ``counterparties`` (each screened counterparty's
        ``transaction_ids``, ``country``, ``candidates`` and ``review``), ``alerts``,
        ``held_transaction_ids`` (payments stopped by a hold alert), ``transactions_monitored_count``,
        ``alerted_amount_usd`` (sum of the distinct alerted transactions), ``narrative`` (the case
        summary; ``""`` while pending) and ``narrative_source`` (``"llm"`` when a configured model
        wrote it, ``"tools"`` when it was built from the tools' results -- no model, or an empty
        answer; ``"pending"`` before the decision). The screened names and date of birth are not
        repeated: they stay in the run input.
    """
    screening = state.get("screening") or {}
    candidates = screening.get("candidates") or []
    alerts = state.get("alerts") or []
    by_id = {t["transaction_id"]: t["amount_usd"] for t in state.get("transactions") or []}
    alerted = {i for a in alerts for i in a["transaction_ids"]}
    reviews = state.get("counterparty_reviews") or {}
    return {
        "decision": state.get("decision", "pending"),
        "reasons": list(state.get("reasons") or []),
        "customer_id": state.get("customer_id"),
        "watchlist": {
            "top_score_0_100": max((c["score"] for c in candidates), default=0.0),
            "candidates": _candidates(candidates),
            "review_threshold_0_100": screening.get("review_threshold"),
            "strong_match_threshold_0_100": screening.get("strong_match_threshold"),
            "parties_indexed": screening.get("parties_indexed"),
            "names_indexed": screening.get("names_indexed"),
            "sources": screening.get("sources", []),
            "screening_date": screening.get("screening_date"),
            "lists": screening.get("lists", []),
            "stale": screening.get("stale"),
        },
        "review": state.get("review"),
        "counterparties": [
            {"transaction_ids": p["transaction_ids"], "country": p["counterparty_country"],
             "candidates": _candidates(p["candidates"]), "review": reviews.get(str(i))}
            for i, p in enumerate(state.get("counterparty_screening") or [])
        ],
        "alerts": alerts,
        "held_transaction_ids": sorted({i for a in alerts if a.get("hold") for i in a["transaction_ids"]}),
        "transactions_monitored_count": len(by_id),
        "alerted_amount_usd": round(sum(by_id.get(i, 0.0) for i in alerted), 2),
        "narrative": state.get("narrative", ""),
        "narrative_source": state.get("narrative_source", "pending"),
    }


def summarize(outputs: list[dict]) -> str:
    """One line over many runs' outputs: decisions, analyst decisions (customers and
    counterparties), alert reason codes, and the list versions screened against (source, date
    generated, SHA-256 prefix, and STALE with its age when older than the policy allows)."""
    decisions = Counter(o.get("decision") for o in outputs)
    reviews = Counter(o["review"]["decision"] for o in outputs if o.get("review"))
    reviews.update(p["review"]["decision"] for o in outputs for p in o.get("counterparties") or [] if p.get("review"))
    codes = Counter(a["reason_code"] for o in outputs for a in o.get("alerts") or [])
    alert_text = ", ".join(f"{c}×{n}" for c, n in sorted(codes.items())) or "none"
    lists = {(v["source"], v["file"]): v for o in outputs for v in (o.get("watchlist") or {}).get("lists") or []}
    list_text = "; ".join(
        f"{v['source']} {(v['date_generated'] or 'undated')[:10]} sha256 {v['sha256'][:12]}"
        + (f" STALE ({v['age_days']} days)" if v["stale"] and v["age_days"] is not None else " STALE" if v["stale"] else "")
        for v in lists.values()
    ) or "none"
    return (
        f"{len(outputs)} screenings: {decisions.get('blocked', 0)} blocked, {decisions.get('held', 0)} held, "
        f"{decisions.get('alert', 0)} alert, {decisions.get('clear', 0)} clear; analyst reviews {sum(reviews.values())} "
        f"({reviews.get('true_match', 0)} true match, {reviews.get('false_positive', 0)} false positive); "
        f"monitoring alerts: {alert_text}; lists: {list_text}"
    )


def check_clear_lists_screened(output: dict) -> list[str]:
    """A ``clear`` screening names the watchlists it screened against (source and version), so a
    clearance can be traced to the lists it relied on; returns the problems found."""
    if output.get("decision") != "clear":
        return []
    if not (output.get("watchlist") or {}).get("lists"):
        return ["a clear screening must list the watchlists screened"]
    return []


# Checked on every run's output before it leaves the run (a problem withholds the output).
OUTPUT_CHECKS = (check_clear_lists_screened,)
