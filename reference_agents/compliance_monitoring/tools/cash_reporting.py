"""Currency transaction reports and structuring: cash aggregated per business day.

Rules (policy ``monitoring.cash_reporting``):

* **CTR required** (31 CFR 1010.311, 1010.313): a financial institution files a Currency
  Transaction Report for cash in or cash out of *more than* USD 10,000 in one business day;
  several cash transactions by or for the same person are one transaction, cash in (deposits)
  and cash out (withdrawals) each aggregated on their own. One alert per business day and
  direction whose total exceeds the threshold.
* **Structuring** (31 U.S.C. 5324; FinCEN's red flags of cash kept under the reporting
  threshold), two patterns, each per direction:

  - *same day*: at least ``same_day_min_count`` cash transactions on one business day, each at
    or below the threshold, that together exceed it (3 × USD 4,000; 3 × USD 10,000.00);
  - *near-threshold pattern*: at least ``pattern_min_count`` cash transactions within
    ``pattern_window_days``, each within ``near_threshold_band_usd`` at or below the threshold
    (3 × USD 9,500 over eight days).

All transactions of one run are the customer's own (one person). A business day is the calendar
date in ``business_day_timezone``; Saturday and Sunday count toward the following Monday, as
banks book them; bank holidays are not modelled.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

CASH_TYPES = {"cash_deposit": "in", "cash_withdrawal": "out"}


def _when(tx: dict) -> datetime:
    ts = datetime.fromisoformat(tx["timestamp"])
    return ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)


def business_day(ts: datetime, tz: ZoneInfo) -> date:
    """The business day of a timestamp: its local date in ``tz``, Saturday and Sunday moved to Monday."""
    day = ts.astimezone(tz).date()
    return day + timedelta(days=(7 - day.weekday()) % 7) if day.weekday() >= 5 else day


def _alert(rule: str, code: str, txs: list[dict], **details) -> dict:
    txs = sorted(txs, key=lambda t: t["transaction_id"])
    return {"rule": rule, "reason_code": code, "transaction_ids": [t["transaction_id"] for t in txs],
            "amount_usd": round(sum(t["amount_usd"] for t in txs), 2), "details": details}


def _cash_by_day(txs: list[dict], tz: ZoneInfo) -> dict[tuple[date, str], list[dict]]:
    """Cash transactions grouped by (business day, ``in``/``out``)."""
    groups: dict[tuple[date, str], list[dict]] = defaultdict(list)
    for t in txs:
        if t["type"] in CASH_TYPES:
            groups[(business_day(_when(t), tz), CASH_TYPES[t["type"]])].append(t)
    return groups


def _near_threshold_pattern(txs: list[dict], rule: dict) -> list[list[dict]]:
    """Per direction, the near-threshold cash transactions that fall in a window of
    ``pattern_window_days`` holding at least ``pattern_min_count`` of them."""
    high = rule["threshold_usd"]
    low = high - rule["near_threshold_band_usd"]
    span = timedelta(days=rule["pattern_window_days"])
    found = []
    for direction in ("in", "out"):
        near = sorted((t for t in txs if CASH_TYPES.get(t["type"]) == direction and low <= t["amount_usd"] <= high),
                      key=lambda t: (_when(t), t["transaction_id"]))
        hit: dict[str, dict] = {}
        for i, first in enumerate(near):
            window = [t for t in near[i:] if _when(t) - _when(first) <= span]
            if len(window) >= rule["pattern_min_count"]:
                hit.update({t["transaction_id"]: t for t in window})
        if hit:
            found.append(list(hit.values()))
    return found


def cash_reporting(txs: list[dict], rule: dict) -> list[dict]:
    """CTR-required and structuring alerts over the customer's transactions.

    Args:
        txs: transactions (``transaction_id``, ``timestamp`` ISO 8601, ``amount_usd``, ``type``);
            cash is ``cash_deposit`` (in) and ``cash_withdrawal`` (out).
        rule: the policy's ``monitoring.cash_reporting`` section (USD amounts, days).

    Returns:
        Alerts ``{"rule", "reason_code", "transaction_ids", "amount_usd", "details"}``: rule
        ``currency_transaction_report`` (``details``: ``business_day``, ``direction``,
        ``threshold_usd``), then rule ``structuring`` with ``details.pattern`` ``same_day``
        (``business_day``, ``direction``) or ``near_threshold`` (``direction``, ``window_days``,
        ``band_low_usd``).

    Raises:
        zoneinfo.ZoneInfoNotFoundError: ``business_day_timezone`` is not a known time zone.
    """
    tz = ZoneInfo(rule["business_day_timezone"])
    high = rule["threshold_usd"]
    ctr, structuring = [], []
    for (day, direction), group in sorted(_cash_by_day(txs, tz).items()):
        total = sum(t["amount_usd"] for t in group)
        if total <= high:
            continue
        ctr.append(_alert("currency_transaction_report", rule["ctr_reason_code"], group,
                          business_day=day.isoformat(), direction=direction, threshold_usd=high))
        under = [t for t in group if t["amount_usd"] <= high]
        if len(under) >= rule["same_day_min_count"] and sum(t["amount_usd"] for t in under) > high:
            structuring.append(_alert("structuring", rule["structuring_reason_code"], under, pattern="same_day",
                                      business_day=day.isoformat(), direction=direction, threshold_usd=high))
    for group in _near_threshold_pattern(txs, rule):
        structuring.append(_alert("structuring", rule["structuring_reason_code"], group, pattern="near_threshold",
                                  direction=CASH_TYPES[group[0]["type"]], window_days=rule["pattern_window_days"],
                                  band_low_usd=high - rule["near_threshold_band_usd"], threshold_usd=high))
    return ctr + structuring
