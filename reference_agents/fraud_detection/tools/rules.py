"""Expert rules for the classic card-fraud patterns, each a reason code with an evidence weight.

Patterns (as described in the fraud literature, e.g. Le Borgne et al., "Reproducible Machine
Learning for Credit Card Fraud Detection - Practical Handbook", 2022): amount spike, card-testing burst of small
authorisations, account takeover (credential change then a new device), impossible travel
between consecutive physical uses of the card (card present or ATM), velocity, and novelty of
device/country/merchant category.

A rule's ``weight`` is an expert-set evidence strength in [0, 1], combined into the risk score
(``scoring.py``); it is not an estimated probability.
"""

from __future__ import annotations

from reference_agents.fraud_detection.fx import from_usd

# Every code :func:`evaluate_rules` can return, in its order (``policy.yaml`` words each under ``reasons``).
RULE_CODES = (
    "AMOUNT_SPIKE",
    "CARD_TESTING_BURST",
    "ACCOUNT_TAKEOVER",
    "IMPOSSIBLE_TRAVEL",
    "VELOCITY_BURST",
    "NEW_DEVICE",
    "NEW_COUNTRY",
    "NEW_MERCHANT_CATEGORY",
    "HIGH_RISK_MCC",
)


def _hit(code: str, weight: float, detail: str) -> dict:
    return {"code": code, "weight": float(weight), "detail": detail}


def evaluate_rules(features: dict, txn: dict, policy: dict) -> list[dict]:
    """The rules that fire for ``txn`` given its enrichment ``features``.

    Args:
        features: output of :func:`~reference_agents.fraud_detection.tools.features.enrich`.
        txn: the transaction (for its MCC and currency).
        policy: the fraud policy (``rules`` section read).

    Returns:
        ``[{"code": REASON_CODE, "weight": evidence in [0, 1], "detail": str}]`` in a fixed order.
    """
    r = policy["rules"]
    hits: list[dict] = []
    n = features["history_txn_count"]

    spike = r["amount_spike"]
    if (
        n >= spike["min_history"]
        and features["amount_log_zscore"] >= spike["min_log_zscore"]
        and features["amount_to_median_ratio"] >= spike["min_ratio_to_median"]
    ):
        hits.append(
            _hit(
                "AMOUNT_SPIKE",
                spike["weight"],
                f"amount {features['amount']:.2f} is {features['amount_to_median_ratio']:.1f}x the median, "
                f"log z-score {features['amount_log_zscore']:.1f}",
            )
        )

    testing = r["card_testing"]
    if features["small_txn_count_window"] >= testing["min_small_count"]:
        hits.append(
            _hit(
                "CARD_TESTING_BURST",
                testing["weight"],
                f"{features['small_txn_count_window']} authorisations <= {testing['small_amount_max_usd']:.2f} USD "
                f"(= {from_usd(testing['small_amount_max_usd'], txn['currency']):,.2f} {txn['currency']}) "
                f"within {testing['window_minutes']} min",
            )
        )

    ato = r["account_takeover"]
    since_change = features["hours_since_credential_change"]
    if features["is_new_device"] and since_change is not None and since_change <= ato["window_hours"]:
        hits.append(
            _hit("ACCOUNT_TAKEOVER", ato["weight"], f"new device {since_change:.1f} h after a credential change")
        )

    travel = r["impossible_travel"]
    # None for a remote transaction: its location is a device's or a merchant's, not the card's.
    speed = features["speed_from_last_physical_txn_kmh"]
    if (
        speed is not None
        and speed > travel["max_speed_kmh"]
        and features["distance_from_last_physical_txn_km"] >= travel["min_distance_km"]
    ):
        hits.append(
            _hit(
                "IMPOSSIBLE_TRAVEL",
                travel["weight"],
                f"{features['distance_from_last_physical_txn_km']:.0f} km from the last card-present use in "
                f"{features['minutes_since_last_physical_txn']:.0f} min ({speed:.0f} km/h)",
            )
        )

    velocity = r["velocity"]
    if features["txn_count_window"] > velocity["max_count"]:
        hits.append(
            _hit(
                "VELOCITY_BURST",
                velocity["weight"],
                f"{features['txn_count_window']} prior transactions within {velocity['window_minutes']} min",
            )
        )

    if features["is_new_device"]:
        hits.append(_hit("NEW_DEVICE", r["new_device"]["weight"], "device not seen in the history"))
    if features["is_new_country"]:
        hits.append(
            _hit(
                "NEW_COUNTRY", r["new_country"]["weight"], f"merchant country {txn['merchant_country']} not seen before"
            )
        )
    if features["is_new_mcc"]:
        hits.append(
            _hit("NEW_MERCHANT_CATEGORY", r["new_merchant_category"]["weight"], f"MCC {txn['mcc']} not seen before")
        )
    if txn["mcc"] in r["high_risk_mcc"]["codes"]:
        hits.append(
            _hit("HIGH_RISK_MCC", r["high_risk_mcc"]["weight"], f"MCC {txn['mcc']} is cash-like or resale-prone")
        )
    return hits
