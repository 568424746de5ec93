"""Transaction monitoring rules (AML scenarios), driven by the policy's ``monitoring`` section.

Each rule takes the customer's transactions — dicts with ``transaction_id``, ``timestamp``
(ISO 8601), ``amount_usd`` (> 0), ``direction`` (``"in"`` credit / ``"out"`` debit),
``type`` (``cash_deposit``, ``wire``…) and ``counterparty_country`` (ISO 3166-1 alpha-2 or
``None``) — and returns alerts: ``{"rule", "reason_code", "transaction_ids", "amount_usd",
"details"}``, ``transaction_ids`` being the transactions that triggered it; an alert that stops
the payments it names also has ``"hold": true``. Windows are rolling (each transaction opens
one), so a burst straddling midnight is still caught. Cash reporting and structuring are in
:mod:`.cash_reporting` (per business day, not rolling).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from reference_agents.compliance_monitoring.tools.cash_reporting import cash_reporting


def _when(tx: dict) -> datetime:
    ts = datetime.fromisoformat(tx["timestamp"])
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def _sorted(txs: list[dict]) -> list[dict]:
    return sorted(txs, key=lambda t: (_when(t), t["transaction_id"]))


def _windows(txs: list[dict], span: timedelta):
    """Yield each rolling window ``[t_i, t_i + span]`` of time-sorted ``txs`` as a list."""
    times = [_when(t) for t in txs]
    end = 0
    for start in range(len(txs)):
        end = max(end, start)
        while end + 1 < len(txs) and times[end + 1] - times[start] <= span:
            end += 1
        yield txs[start : end + 1]


def _alert(rule: str, code: str, txs: list[dict], **details) -> dict:
    ids = sorted({t["transaction_id"] for t in txs})
    amount = sum(t["amount_usd"] for t in txs if t["transaction_id"] in set(ids))
    return {"rule": rule, "reason_code": code, "transaction_ids": ids, "amount_usd": round(amount, 2), "details": details}


def rapid_movement(txs: list[dict], rule: dict) -> list[dict]:
    """Funds credited and debited again within ``window_hours`` (pass-through).

    For each credit opening a window: inflow = credits in the window, outflow = debits in
    the window after that credit; fires when inflow >= ``min_inflow_usd`` and
    outflow / inflow >= ``min_pass_through_ratio``. ``details.pass_through_ratio`` is the
    highest ratio seen.
    """
    ordered = _sorted(txs)
    hit: dict[str, dict] = {}
    best_ratio = 0.0
    for window in _windows(ordered, timedelta(hours=rule["window_hours"])):
        if window[0]["direction"] != "in":
            continue
        inflow = sum(t["amount_usd"] for t in window if t["direction"] == "in")
        outflow = sum(t["amount_usd"] for t in window if t["direction"] == "out")
        ratio = outflow / inflow
        if inflow >= rule["min_inflow_usd"] and ratio >= rule["min_pass_through_ratio"]:
            best_ratio = max(best_ratio, ratio)
            hit.update({t["transaction_id"]: t for t in window})
    if not hit:
        return []
    return [_alert("rapid_movement", rule["reason_code"], list(hit.values()),
                   pass_through_ratio=round(best_ratio, 3), window_hours=rule["window_hours"])]


def high_risk_jurisdiction(txs: list[dict], rule: dict) -> list[dict]:
    """Transactions whose counterparty country is on the configured list (FATF call for action)."""
    countries = {c.upper() for c in rule["countries"]}
    hits = [t for t in txs if (t.get("counterparty_country") or "").upper() in countries]
    if not hits:
        return []
    return [_alert("high_risk_jurisdiction", rule["reason_code"], hits,
                   countries=sorted({t["counterparty_country"].upper() for t in hits}), source=rule.get("source"))]


def sanctioned_jurisdiction(txs: list[dict], rule: dict) -> list[dict]:
    """Transactions with a counterparty in a comprehensively sanctioned country or region: held.

    Qualifying: ``counterparty_country`` in ``rule["countries"]`` (ISO 3166-1 alpha-2) or
    ``counterparty_subdivision`` in ``rule["subdivisions"]`` (ISO 3166-2, e.g. ``UA-43``).

    Returns:
        One alert with ``"hold": true`` listing every such transaction (``details``: the
        ``jurisdictions`` found and the list's ``source``), or none.
    """
    countries = {c.upper() for c in rule["countries"]}
    subdivisions = {s.upper() for s in rule.get("subdivisions") or ()}
    found: set[str] = set()
    hits = []
    for t in txs:
        here = {(t.get("counterparty_country") or "").upper(), (t.get("counterparty_subdivision") or "").upper()}
        matched = (here & countries) | (here & subdivisions)
        if matched:
            found |= matched
            hits.append(t)
    if not hits:
        return []
    return [{**_alert("sanctioned_jurisdiction", rule["reason_code"], hits, jurisdictions=sorted(found),
                      source=rule.get("source")), "hold": True}]


def velocity(txs: list[dict], rule: dict) -> list[dict]:
    """More than ``max_count`` transactions, or more than ``max_amount_usd``, in ``window_hours``.

    Each limit fires at most once, for its worst window.
    """
    worst_count: list[dict] = []
    worst_amount: list[dict] = []
    for window in _windows(_sorted(txs), timedelta(hours=rule["window_hours"])):
        if len(window) > max(rule["max_count"], len(worst_count)):
            worst_count = window
        total = sum(t["amount_usd"] for t in window)
        if total > max(rule["max_amount_usd"], sum(t["amount_usd"] for t in worst_amount)):
            worst_amount = window
    alerts = []
    if worst_count:
        alerts.append(_alert("velocity", rule["reason_code_count"], worst_count, count=len(worst_count),
                             max_count=rule["max_count"], window_hours=rule["window_hours"]))
    if worst_amount:
        alerts.append(_alert("velocity", rule["reason_code_amount"], worst_amount,
                             max_amount_usd=rule["max_amount_usd"], window_hours=rule["window_hours"]))
    return alerts


RULES = {
    "cash_reporting": cash_reporting,
    "rapid_movement": rapid_movement,
    "high_risk_jurisdiction": high_risk_jurisdiction,
    "sanctioned_jurisdiction": sanctioned_jurisdiction,
    "velocity": velocity,
}


def run_monitoring(txs: list[dict], monitoring_policy: dict) -> list[dict]:
    """All alerts of the rules configured in ``monitoring_policy`` (a rule set to ``null`` is off).

    Raises:
        ValueError: the policy names a rule that does not exist.
    """
    unknown = set(monitoring_policy) - set(RULES)
    if unknown:
        raise ValueError(f"unknown monitoring rules: {', '.join(sorted(unknown))}; known: {', '.join(RULES)}")
    alerts: list[dict] = []
    for name, rule in monitoring_policy.items():
        if rule:
            alerts += RULES[name](txs, rule)
    return alerts
