"""The SYNTHETIC transaction generator: deterministic, realistic, on the real reference tables, with
its patterns' signatures and labels kept apart (its independence from the rule thresholds and the
detector's quality on it: ``test_fraud_validation_data.py``)."""

from __future__ import annotations

import statistics
from collections import defaultdict

import numpy as np
import pytest

from reference_agents.fraud_detection.fx import to_usd
from reference_agents.fraud_detection.generator import BEHAVIOURS, PATTERNS, generate_cases, generate_transactions
from reference_agents.fraud_detection.inputs import FraudCaseInput
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.reference_data import cities, country_currency, mcc_descriptions
from reference_agents.fraud_detection.tools.geo import distances_km


@pytest.fixture(scope="module")
def stream():
    return generate_transactions(days=14)


def test_same_seed_same_stream_other_seed_other_stream(stream):
    assert generate_transactions(days=14) == stream
    assert generate_transactions(days=14, seed=8)["transactions"] != stream["transactions"]


def test_stream_is_realistic_and_uses_the_real_reference_tables(stream):
    txns = stream["transactions"]
    assert 300 <= len(txns) <= 700
    assert {t["pattern"] for t in txns if t["is_fraud"]} == set(PATTERNS)
    assert {t["behaviour"] for t in txns if not t["is_fraud"]} <= set(BEHAVIOURS)
    assert all(t["behaviour"] == t["pattern"] for t in txns if t["is_fraud"])
    assert 0.02 < sum(t["is_fraud"] for t in txns) / len(txns) < 0.15
    assert [t["timestamp"] for t in txns] == sorted(t["timestamp"] for t in txns)
    assert all(t["mcc"] in mcc_descriptions() for t in txns)
    city_points = np.array([[c.latitude, c.longitude] for c in cities()])
    by_customer = defaultdict(list)
    for t in txns:
        by_customer[t["customer_id"]].append(t)
        # Every transaction is within ~25 km of a real GeoNames city.
        assert distances_km(np.array([[t["latitude"], t["longitude"]]]), city_points).min() < 25
    for customer, own in by_customer.items():
        normal = [t for t in own if not t["is_fraud"]]
        # One billing currency per card: the home country's ISO 4217 currency.
        home_country = statistics.mode(t["merchant_country"] for t in normal)
        assert {t["currency"] for t in own} == {country_currency()[home_country]}
        # Lognormal everyday spend in US dollars whatever the currency: median within the generator's
        # 12-80 USD range (sampling slack), right-skewed (mean above median), logs roughly symmetric.
        amounts = np.array([to_usd(t["amount"], t["currency"]) for t in normal if t["behaviour"] == "everyday"
                            and t["channel"] != "atm"])
        assert 8 < np.median(amounts) < 110
        assert amounts.mean() > np.median(amounts)
        logs = np.log(amounts)
        assert abs(np.mean(logs) - np.median(logs)) < 0.35
        # E-commerce payments come from a device; card-present, ATM and mail/phone orders do not.
        assert all((t["device_id"] is not None) == (t["channel"] == "card_not_present") for t in own)
    assert {t["channel"] for t in txns} == {"card_present", "card_not_present", "mail_phone_order", "atm"}


def test_generated_patterns_have_their_signatures(stream):
    txns = stream["transactions"]
    by_pattern = {p: [t for t in txns if t["pattern"] == p] for p in PATTERNS}
    small = load_policy()["rules"]["card_testing"]["small_amount_max_usd"]
    testing = by_pattern["card_testing"]
    assert sum(to_usd(t["amount"], t["currency"]) <= small for t in testing) >= 3  # probes
    assert all(t["channel"] == "card_not_present" and t["device_id"].startswith("D-X") for t in testing)
    # A takeover spends online from the fraudster's device after a login or credential change from it.
    for t in by_pattern["account_takeover"]:
        assert t["channel"] == "card_not_present"
        assert any(e["customer_id"] == t["customer_id"] and e["device_id"] == t["device_id"]
                   and e["timestamp"] < t["timestamp"] for e in stream["account_events"])
    # Lost/stolen and counterfeit cards are used physically; a clone away from home.
    assert all(t["channel"] in ("card_present", "atm") for p in ("lost_stolen_card", "counterfeit_card")
               for t in by_pattern[p])
    episodes = {e["customer_id"]: e for e in stream["episodes"]}
    assert all(episodes[t["customer_id"]]["distance_from_home_km"] > 0 for t in by_pattern["counterfeit_card"])
    assert {e["pattern"] for e in episodes.values()} == set(PATTERNS)


def test_cases_are_valid_run_inputs_with_labels_kept_apart():
    cases = generate_cases(days=14)
    assert len(cases) >= 200
    for case in cases:
        parsed = FraudCaseInput.model_validate(case["input"])
        assert len(parsed.history) >= 20
        assert not {"is_fraud", "pattern", "behaviour"} & set(case["input"]["transaction"])
