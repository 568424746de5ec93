"""Enrichment: features of one transaction against the customer's own history.

Transactions are plain dicts as in :class:`~reference_agents.fraud_detection.inputs.Transaction`
(``timestamp`` an ISO 8601 string with offset). Units are in the feature names: ``_km``,
``_kmh``, ``_minutes``, ``_hours``, ``_days``, ``_usd`` (US dollars at the shipped rates, ``fx.py``);
other amounts are billing-currency units.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from reference_agents.fraud_detection.fx import to_usd
from reference_agents.fraud_detection.tools.geo import distances_km, medoid

# Consecutive transactions closer in time than this are treated as this far apart when
# computing speed, so two authorisations in the same second do not give infinite km/h.
MIN_SPEED_INTERVAL_HOURS = 1 / 60


def parse_time(value: str | datetime) -> datetime:
    """A timezone-aware datetime from an ISO 8601 string (or the datetime itself)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def sort_by_time(transactions: list[dict]) -> list[dict]:
    """The transactions in time order (oldest first)."""
    return sorted(transactions, key=lambda t: parse_time(t["timestamp"]))


def coordinates(transactions: list[dict]) -> np.ndarray:
    """Shape ``(n, 2)`` array of ``(latitude, longitude)`` degrees."""
    return np.array([[t["latitude"], t["longitude"]] for t in transactions], dtype=float).reshape(-1, 2)


def _minutes_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds() / 60.0


def _travel(txn: dict, previous: dict, now: datetime) -> tuple[float, float, float]:
    """Minutes, km and km/h from ``previous`` to ``txn``."""
    minutes = _minutes_between(parse_time(previous["timestamp"]), now)
    km = float(distances_km(coordinates([txn]), coordinates([previous]))[0, 0])
    return minutes, km, km / max(minutes / 60.0, MIN_SPEED_INTERVAL_HOURS)


def enrich(txn: dict, history: list[dict], account_events: list[dict], policy: dict) -> dict:
    """Customer, device, merchant, velocity and geo features of ``txn``.

    The ``*_physical_txn*`` features compare a physical use of the card (a channel of the policy's
    ``rules.impossible_travel.channels``: at a terminal or an ATM) with the previous physical use;
    they are ``None`` for a remote transaction, whose location is a device's or merchant's, not the
    card's.

    Args:
        txn: the transaction under assessment.
        history: the customer's earlier transactions (any order).
        account_events: the customer's account events (``type``, ``timestamp``).
        policy: the fraud policy (windows of the card-testing, velocity and takeover rules, the
            card-testing limit in US dollars, the physical channels).

    Returns:
        JSON-serialisable dict; a feature that needs history is ``None`` when there is none.

    Raises:
        KeyError: a currency without a rate in the shipped table (``fx.py``).
    """
    history = sort_by_time(history)
    now = parse_time(txn["timestamp"])
    n = len(history)
    amounts = np.array([h["amount"] for h in history], dtype=float)
    rules = policy["rules"]

    features: dict = {
        "history_txn_count": n,
        "amount": float(txn["amount"]),
        "amount_usd": to_usd(txn["amount"], txn["currency"]),
        "amount_history_median": None,
        "amount_history_mean": None,
        "amount_history_std": None,
        "amount_log_zscore": None,
        "amount_to_median_ratio": None,
        "minutes_since_last_txn": None,
        "distance_from_last_txn_km": None,
        "speed_from_last_txn_kmh": None,
        "distance_from_home_km": None,
        "history_span_days": 0.0,
    }
    if n:
        log_amounts = np.log(amounts)
        # A floor on the spread keeps a customer who always pays the same amount from
        # turning every small deviation into a huge z-score.
        log_std = max(float(log_amounts.std()), 0.25)
        minutes, distance_last, speed_last = _travel(txn, history[-1], now)
        coords = coordinates(history)
        here = coordinates([txn])
        features.update(
            amount_history_median=float(np.median(amounts)),
            amount_history_mean=float(amounts.mean()),
            amount_history_std=float(amounts.std()),
            amount_log_zscore=(math.log(txn["amount"]) - float(log_amounts.mean())) / log_std,
            amount_to_median_ratio=float(txn["amount"] / np.median(amounts)),
            minutes_since_last_txn=minutes,
            distance_from_last_txn_km=distance_last,
            speed_from_last_txn_kmh=speed_last,
            distance_from_home_km=float(distances_km(here, medoid(coords)[None, :])[0, 0]),
            history_span_days=_minutes_between(parse_time(history[0]["timestamp"]), now) / 1440.0,
        )

    devices = {h["device_id"] for h in history if h.get("device_id")}
    countries = {h["merchant_country"] for h in history}
    mccs = [h["mcc"] for h in history]
    device = txn.get("device_id")
    features.update(
        distinct_devices_count=len(devices),
        distinct_countries_count=len(countries),
        distinct_mcc_count=len(set(mccs)),
        is_new_device=(device not in devices) if (n and device) else None,
        is_new_country=(txn["merchant_country"] not in countries) if n else None,
        is_new_mcc=(txn["mcc"] not in mccs) if n else None,
        is_new_merchant=(txn["merchant_id"] not in {h["merchant_id"] for h in history}) if n else None,
        mcc_history_share=(mccs.count(txn["mcc"]) / n) if n else None,
    )

    physical = set(rules["impossible_travel"]["channels"])
    previous_physical = [h for h in history if h["channel"] in physical]
    features.update(minutes_since_last_physical_txn=None, distance_from_last_physical_txn_km=None,
                    speed_from_last_physical_txn_kmh=None)
    if txn["channel"] in physical and previous_physical:
        minutes, km, kmh = _travel(txn, previous_physical[-1], now)
        features.update(minutes_since_last_physical_txn=minutes, distance_from_last_physical_txn_km=km,
                        speed_from_last_physical_txn_kmh=kmh)

    testing = rules["card_testing"]
    # Converted to US dollars, so the limit is the same value whatever the billing currency.
    small = sum(
        1
        for h in history
        if to_usd(h["amount"], h["currency"]) <= testing["small_amount_max_usd"]
        and _minutes_between(parse_time(h["timestamp"]), now) <= testing["window_minutes"]
    )
    features["small_txn_count_window"] = small + (1 if features["amount_usd"] <= testing["small_amount_max_usd"] else 0)
    velocity_window = rules["velocity"]["window_minutes"]
    features["txn_count_window"] = sum(
        1 for h in history if _minutes_between(parse_time(h["timestamp"]), now) <= velocity_window
    )

    credential_types = set(rules["account_takeover"]["credential_events"])
    changes = [parse_time(e["timestamp"]) for e in account_events if e["type"] in credential_types]
    changes = [t for t in changes if t <= now]
    features["hours_since_credential_change"] = _minutes_between(max(changes), now) / 60.0 if changes else None
    return features
