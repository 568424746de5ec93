"""The SYNTHETIC transaction generator, and the detector's quality on its labelled stream."""

from __future__ import annotations

import statistics
from collections import defaultdict

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from reference_agents.fraud_detection.generator import PATTERNS, generate_cases, generate_transactions
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.reference_data import cities, country_currency, mcc_descriptions
from reference_agents.fraud_detection.inputs import FraudCaseInput
from reference_agents.fraud_detection.tools import score_case
from reference_agents.fraud_detection.tools.geo import distances_km


@pytest.fixture(scope="module")
def stream():
    return generate_transactions(days=14)


@pytest.fixture(scope="module")
def scored():
    """Every case of a 14-day, 10-customer stream (about 250 transactions with >= 20 prior ones)
    scored by the full assessment: ``[(risk_score, is_fraud, pattern, anomaly_score)]``."""
    policy = load_policy()
    out = []
    for case in generate_cases(days=14):
        i = case["input"]
        result = score_case(i["transaction"], i["history"], i["account_events"], policy)
        out.append((result["risk_score"], case["is_fraud"], case["pattern"], result["model"]["anomaly_score"]))
    return out


def test_same_seed_same_stream_other_seed_other_stream(stream):
    assert generate_transactions(days=14) == stream
    assert generate_transactions(days=14, seed=8)["transactions"] != stream["transactions"]


def test_stream_is_realistic_and_uses_the_real_reference_tables(stream):
    txns = stream["transactions"]
    assert 300 <= len(txns) <= 700
    assert {t["pattern"] for t in txns if t["is_fraud"]} == set(PATTERNS)
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
        # Lognormal everyday spend: median within the generator's 15-90 range (sampling slack),
        # right-skewed (mean above median), logs roughly symmetric.
        amounts = np.array([t["amount"] for t in normal])
        assert 10 < np.median(amounts) < 120
        assert amounts.mean() > np.median(amounts)
        logs = np.log(amounts)
        assert abs(np.mean(logs) - np.median(logs)) < 0.3
        # Card-not-present payments come from a device, card-present ones do not.
        assert all((t["device_id"] is not None) == (t["channel"] == "card_not_present") for t in own)


def test_generated_patterns_have_their_signatures(stream):
    txns = stream["transactions"]
    testing = [t for t in txns if t["pattern"] == "card_testing"]
    assert sum(t["amount"] <= 5 for t in testing) >= 5  # the probing burst
    assert all(t["channel"] == "card_not_present" for t in testing)
    takeover_customers = {t["customer_id"] for t in txns if t["pattern"] == "account_takeover"}
    resets = {e["customer_id"] for e in stream["account_events"] if e["type"] == "password_reset"}
    assert takeover_customers <= resets


def test_cases_are_valid_run_inputs_with_labels_kept_apart():
    cases = generate_cases(days=14)
    assert len(cases) >= 200
    for case in cases:
        parsed = FraudCaseInput.model_validate(case["input"])
        assert len(parsed.history) >= 20
        assert "is_fraud" not in case["input"]["transaction"]


def test_detector_ranks_fraud_above_normal_traffic(scored):
    labels = [is_fraud for _, is_fraud, _, _ in scored]
    risk = [score for score, _, _, _ in scored]
    assert 200 <= len(scored) and sum(labels) >= 10
    assert roc_auc_score(labels, risk) > 0.8
    # The IsolationForest alone already separates the patterns: it is really used.
    assert roc_auc_score(labels, [a for _, _, _, a in scored]) > 0.8
    normal = [score for score, is_fraud, _, _ in scored if not is_fraud]
    for pattern in PATTERNS:
        fraud = [score for score, _, p, _ in scored if p == pattern]
        assert fraud, pattern
        assert np.mean(fraud) > np.mean(normal) + 20, pattern
        assert np.median(fraud) > np.percentile(normal, 90), pattern


def test_default_thresholds_leave_most_normal_traffic_alone(scored):
    policy = load_policy()["triage"]
    normal = [score for score, is_fraud, _, _ in scored if not is_fraud]
    fraud = [score for score, is_fraud, _, _ in scored if is_fraud]
    assert np.mean([s < policy["step_up_min_score"] for s in normal]) > 0.9
    assert np.mean([s >= policy["step_up_min_score"] for s in fraud]) > 0.8
