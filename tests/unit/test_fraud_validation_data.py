"""The SYNTHETIC validation data is not circular: the generator's frauds are not drawn just inside
the rule thresholds, legitimate behaviour crosses the thresholds too, and so the detector measured
on it is useful but far from perfect. Statistical properties of a 200-customer stream (seed 3)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from reference_agents.fraud_detection.generator import PATTERNS, generate_cases, generate_transactions
from reference_agents.fraud_detection.policy import load_policy
from reference_agents.fraud_detection.tools import score_case
from reference_agents.fraud_detection.tools.geo import distances_km

RULES = load_policy()["rules"]
PHYSICAL = {"card_present", "atm"}  # where a transaction's location is the card's


@pytest.fixture(scope="module")
def stream():
    return generate_transactions(n_customers=200, days=14, seed=3)


def _hours(later: str, earlier: str) -> float:
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 3600


def _travel(a: dict, b: dict) -> tuple[float, float]:
    """km and km/h between two transactions (time floored at one minute, as the agent does)."""
    km = float(distances_km(np.array([[a["latitude"], a["longitude"]]]), np.array([[b["latitude"], b["longitude"]]]))[0, 0])
    return km, km / max(abs(_hours(a["timestamp"], b["timestamp"])), 1 / 60)


def _previous_physical(txns: list[dict], t: dict) -> dict | None:
    earlier = [x for x in txns if x["timestamp"] < t["timestamp"] and x["channel"] in PHYSICAL]
    return earlier[-1] if earlier else None


def _by_customer(txns: list[dict]) -> dict[str, list[dict]]:
    out = defaultdict(list)
    for t in txns:
        out[t["customer_id"]].append(t)
    return out


def test_card_testing_bursts_fall_on_both_sides_of_the_burst_rule(stream):
    bursts = [e["probe_amounts_usd"] for e in stream["episodes"] if e["pattern"] == "card_testing"]
    assert len(bursts) >= 30
    testing = RULES["card_testing"]
    # Some probes are above the small-amount limit, some bursts too short for the rule's count.
    above = np.mean([a > testing["small_amount_max_usd"] for probes in bursts for a in probes])
    short = np.mean([len(probes) < testing["min_small_count"] for probes in bursts])
    assert 0.03 < above < 0.3
    assert 0.15 < short < 0.7


def test_account_takeovers_do_not_all_spend_within_the_takeover_window(stream):
    window = RULES["account_takeover"]["window_hours"]
    credential = set(RULES["account_takeover"]["credential_events"])
    spends = [t for t in stream["transactions"] if t["pattern"] == "account_takeover"]
    assert len(spends) >= 50
    outside = []
    for t in spends:
        changes = [e["timestamp"] for e in stream["account_events"]
                   if e["customer_id"] == t["customer_id"] and e["type"] in credential and e["timestamp"] <= t["timestamp"]]
        # No credential change at all (a hijacked session), or one longer ago than the rule's window.
        outside.append(not changes or _hours(t["timestamp"], max(changes)) > window)
    assert 0.1 < np.mean(outside) < 0.6


def test_counterfeit_card_uses_are_often_possible_travel(stream):
    travel = RULES["impossible_travel"]
    people = _by_customer(stream["transactions"])
    uses = [t for t in stream["transactions"] if t["pattern"] == "counterfeit_card"]
    assert len(uses) >= 50
    possible = []
    for t in uses:
        km, kmh = _travel(t, _previous_physical(people[t["customer_id"]], t))
        possible.append(kmh <= travel["max_speed_kmh"] or km < travel["min_distance_km"])
    # The clone is used hours from the genuine card's last use, or in a nearby city: often nothing to see.
    assert 0.2 < np.mean(possible) < 0.95


def test_stolen_card_amounts_are_often_ordinary_for_the_customer(stream):
    spike = RULES["amount_spike"]
    people = _by_customer(stream["transactions"])
    median = {c: np.median([t["amount"] for t in own if not t["is_fraud"]]) for c, own in people.items()}
    uses = [t for t in stream["transactions"] if t["pattern"] == "lost_stolen_card"]
    assert len(uses) >= 50
    ordinary = np.mean([t["amount"] / median[t["customer_id"]] < spike["min_ratio_to_median"] for t in uses])
    assert 0.3 < ordinary < 0.95


def test_legitimate_behaviour_crosses_the_thresholds_too(stream):
    travel, spike = RULES["impossible_travel"], RULES["amount_spike"]
    legit = _by_customer([t for t in stream["transactions"] if not t["is_fraud"]])
    big, flights, remote_far = 0, [], 0
    for own in legit.values():
        median = np.median([t["amount"] for t in own])
        big += sum(t["amount"] / median >= spike["min_ratio_to_median"] for t in own)
        for t in own:
            previous = _previous_physical(own, t)
            if previous is None:
                continue
            km, kmh = _travel(t, previous)
            if t["channel"] in PHYSICAL and km >= 1000:
                flights.append(kmh)
            elif t["channel"] == "card_not_present" and km >= travel["min_distance_km"] and kmh > travel["max_speed_kmh"]:
                remote_far += 1
    # Big purchases and cash withdrawals several times the usual payment.
    assert big >= 100
    # Flights: card-present use resumes far away after a plausible flight time, never faster than an airliner.
    assert len(flights) >= 50 and max(flights) < travel["max_speed_kmh"]
    # Online payments geolocated far away right after a purchase at home (VPN, carrier gateway).
    assert remote_far >= 10


@pytest.fixture(scope="module")
def scored():
    """Every case of a 10-customer, 14-day stream scored by the agent: ``[(risk, is_fraud, pattern, anomaly)]``."""
    policy = load_policy()
    out = []
    for case in generate_cases(days=14):
        i = case["input"]
        result = score_case(i["transaction"], i["history"], i["account_events"], policy)
        out.append((result["risk_score"], case["is_fraud"], case["pattern"], result["model"]["anomaly_score"]))
    return out


def test_detector_ranks_fraud_above_legitimate_traffic_but_is_not_perfect(scored):
    labels = [is_fraud for _, is_fraud, _, _ in scored]
    assert len(scored) >= 200 and sum(labels) >= 15
    auc = roc_auc_score(labels, [risk for risk, _, _, _ in scored])
    # A detector tuned on frauds drawn just inside its thresholds scored 0.997 here; on data drawn
    # independently of them it ranks well but misses.
    assert 0.75 < auc < 0.97
    assert roc_auc_score(labels, [a for _, _, _, a in scored]) > 0.65  # the IsolationForest carries signal
    step_up = load_policy()["triage"]["step_up_min_score"]
    fraud = [risk for risk, is_fraud, _, _ in scored if is_fraud]
    legit = [risk for risk, is_fraud, _, _ in scored if not is_fraud]
    assert 0.3 < np.mean([r >= step_up for r in fraud]) < 0.95
    assert np.mean([r >= step_up for r in legit]) < 0.15
    assert {p for _, is_fraud, p, _ in scored if is_fraud} == set(PATTERNS)
