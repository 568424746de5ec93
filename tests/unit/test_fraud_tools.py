"""The fraud agent's computations on hand-made histories: geo, features, each rule, the
IsolationForest, the risk combination and triage thresholds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from reference_agents.fraud_detection.generator import generate_cases
from reference_agents.fraud_detection.policy import REASON_CODES, load_policy
from reference_agents.fraud_detection.reference_data import cities
from reference_agents.fraud_detection.tools import (
    anomaly_score,
    combine_risk,
    enrich,
    evaluate_rules,
    score_case,
    triage,
)
from reference_agents.fraud_detection.tools.geo import distances_km, medoid
from reference_agents.fraud_detection.tools.rules import RULE_CODES

CITY = {c.name: c for c in cities()}
T0 = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
POLICY = load_policy()


def txn(i: int, when: datetime, amount: float, city: str = "Berlin", **kw) -> dict:
    c = CITY[city]
    base = {
        "transaction_id": f"T{i}",
        "customer_id": "C1",
        "timestamp": when.isoformat(),
        "amount": amount,
        "currency": "EUR",
        "merchant_id": f"M{i % 4}",
        "mcc": ("5411", "5812", "5541")[i % 3],
        "merchant_country": c.country_code,
        "channel": "card_present",
        "latitude": c.latitude,
        "longitude": c.longitude,
        "device_id": None,
    }
    base.update(kw)
    return base


def regular_history(n: int = 40, median: float = 30.0, seed: int = 0) -> list[dict]:
    """A Berlin customer paying every ~8 h, lognormal amounts around ``median``; every fourth
    payment online from device D1."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        online = i % 4 == 0
        out.append(
            txn(
                i,
                T0 + timedelta(hours=8 * i + float(rng.uniform(0, 2))),
                round(float(rng.lognormal(np.log(median), 0.4)), 2),
                channel="card_not_present" if online else "card_present",
                device_id="D1" if online else None,
            )
        )
    return out


def after(history: list[dict], minutes: float) -> datetime:
    return datetime.fromisoformat(history[-1]["timestamp"]) + timedelta(minutes=minutes)


def codes(case_txn: dict, history: list[dict], events: list[dict] | None = None, policy: dict = POLICY) -> list[str]:
    features = enrich(case_txn, history, events or [], policy)
    return [h["code"] for h in evaluate_rules(features, case_txn, policy)]


def test_haversine_matches_published_great_circle_distances():
    london, paris, nyc, la = (CITY[n] for n in ("London", "Paris", "New York City", "Los Angeles"))
    d = distances_km(
        np.array([[london.latitude, london.longitude], [nyc.latitude, nyc.longitude]]),
        np.array([[paris.latitude, paris.longitude], [la.latitude, la.longitude]]),
    )
    assert d[0, 0] == pytest.approx(344, rel=0.01)  # London-Paris ~344 km
    assert d[1, 1] == pytest.approx(3936, rel=0.01)  # New York-Los Angeles ~3,936 km
    assert d[0, 1] == pytest.approx(8756, rel=0.01)  # London-Los Angeles ~8,756 km


def test_home_is_the_medoid_not_pulled_by_a_trip():
    berlin, tokyo = CITY["Berlin"], CITY["Tokyo"]
    points = np.array([[berlin.latitude, berlin.longitude]] * 5 + [[tokyo.latitude, tokyo.longitude]] * 2)
    assert tuple(medoid(points)) == (berlin.latitude, berlin.longitude)


def test_enrichment_features_have_domain_meaning():
    history = regular_history()
    munich = CITY["Munich"]
    t = txn(99, after(history, 300), 600.0, city="Munich", mcc="5944", channel="card_not_present", device_id="D9")
    f = enrich(t, history, [], POLICY)
    amounts = [h["amount"] for h in history]
    assert f["history_txn_count"] == 40
    assert f["amount_history_median"] == pytest.approx(np.median(amounts))
    assert f["amount_to_median_ratio"] == pytest.approx(600.0 / np.median(amounts))
    assert f["amount_log_zscore"] > 5
    assert f["minutes_since_last_txn"] == pytest.approx(300)
    berlin = CITY["Berlin"]
    berlin_munich = distances_km(
        np.array([[berlin.latitude, berlin.longitude]]), np.array([[munich.latitude, munich.longitude]])
    )[0, 0]
    assert f["distance_from_last_txn_km"] == pytest.approx(berlin_munich)
    assert f["speed_from_last_txn_kmh"] == pytest.approx(berlin_munich / 5.0)
    assert f["distance_from_home_km"] == pytest.approx(berlin_munich)
    assert f["is_new_device"] and f["is_new_mcc"] and not f["is_new_country"]
    assert f["distinct_devices_count"] == 1 and f["distinct_countries_count"] == 1
    assert f["mcc_history_share"] == 0.0
    assert f["hours_since_credential_change"] is None


def test_enrichment_without_history_gives_none_not_zero():
    f = enrich(txn(0, T0, 20.0), [], [], POLICY)
    assert f["history_txn_count"] == 0
    assert f["amount_log_zscore"] is None and f["speed_from_last_txn_kmh"] is None
    assert f["is_new_device"] is None and f["is_new_country"] is None


def test_amount_spike_fires_on_a_multiple_of_usual_spend_only():
    history = regular_history()
    assert "AMOUNT_SPIKE" in codes(txn(99, after(history, 600), 600.0), history)
    assert "AMOUNT_SPIKE" not in codes(txn(99, after(history, 600), 40.0), history)
    # Too little history to know what is usual.
    assert "AMOUNT_SPIKE" not in codes(txn(99, after(history[:5], 600), 600.0), history[:5])


def test_card_testing_burst_of_small_authorisations():
    history = regular_history()
    probes = [
        txn(100 + k, after(history, 600 + 5 * k), 1.0 + k / 10, channel="card_not_present", device_id="DX", mcc="5999")
        for k in range(3)
    ]
    fourth = txn(200, after(probes, 4), 1.5, channel="card_not_present", device_id="DX", mcc="5999")
    assert "CARD_TESTING_BURST" in codes(fourth, history + probes)
    third = probes[2]
    assert "CARD_TESTING_BURST" not in codes(third, history + probes[:2])  # 3 small ones: below the policy's 4
    # The same burst spread over a day is not a burst.
    slow = [dict(p, timestamp=after(history, 600 + 300 * k).isoformat()) for k, p in enumerate(probes)]
    assert "CARD_TESTING_BURST" not in codes(dict(fourth, timestamp=after(slow, 300).isoformat()), history + slow)


def test_account_takeover_needs_new_device_after_credential_change():
    history = regular_history()
    when = after(history, 600)
    reset = [{"type": "password_reset", "timestamp": (when - timedelta(hours=2)).isoformat(), "device_id": "DX"}]
    old_reset = [{"type": "password_reset", "timestamp": (when - timedelta(days=5)).isoformat(), "device_id": "DX"}]
    new_device = txn(99, when, 45.0, channel="card_not_present", device_id="DX")
    known_device = txn(99, when, 45.0, channel="card_not_present", device_id="D1")
    assert "ACCOUNT_TAKEOVER" in codes(new_device, history, reset)
    assert "ACCOUNT_TAKEOVER" not in codes(known_device, history, reset)
    assert "ACCOUNT_TAKEOVER" not in codes(new_device, history, old_reset)
    assert "NEW_DEVICE" in codes(new_device, history, [])
    login = [{"type": "login", "timestamp": (when - timedelta(hours=2)).isoformat(), "device_id": "DX"}]
    assert "ACCOUNT_TAKEOVER" not in codes(new_device, history, login)  # a login is no credential change


def test_impossible_travel_uses_speed_between_consecutive_transactions():
    history = regular_history()
    tokyo = txn(99, after(history, 60), 40.0, city="Tokyo", merchant_country="JP")
    f = enrich(tokyo, history, [], POLICY)
    assert f["speed_from_last_txn_kmh"] == pytest.approx(f["distance_from_last_txn_km"], rel=1e-9)  # 1 hour
    assert f["speed_from_last_txn_kmh"] > 8000
    assert {"IMPOSSIBLE_TRAVEL", "NEW_COUNTRY"} <= set(codes(tokyo, history))
    # Berlin -> Munich in 5 hours (~100 km/h) is a train ride, not fraud.
    assert "IMPOSSIBLE_TRAVEL" not in codes(txn(99, after(history, 300), 40.0, city="Munich"), history)
    # Berlin -> Tokyo two days later is a flight.
    assert "IMPOSSIBLE_TRAVEL" not in codes(dict(tokyo, timestamp=after(history, 2880).isoformat()), history)


def test_high_risk_mcc_and_velocity():
    history = regular_history()
    assert "HIGH_RISK_MCC" in codes(txn(99, after(history, 600), 30.0, mcc="4829"), history)
    rapid = [txn(100 + k, after(history, 600 + 5 * k), 30.0) for k in range(6)]
    assert "VELOCITY_BURST" in codes(txn(200, after(rapid, 5), 30.0), history + rapid)
    assert "VELOCITY_BURST" not in codes(txn(200, after(rapid, 5), 30.0), history + rapid[:5])


def test_isolation_forest_is_fitted_on_the_customers_own_history():
    model = POLICY["model"]
    cheap, dear = regular_history(median=30.0), regular_history(median=400.0)
    t = txn(99, after(cheap, 480), 400.0)
    vs_cheap = anomaly_score(t, cheap, model)
    vs_dear = anomaly_score(dict(t, timestamp=after(dear, 480).isoformat()), dear, model)
    assert vs_cheap["n_train_rows"] == 39 and vs_cheap["n_estimators"] == 100
    # The same 400 EUR purchase is an outlier for a 30 EUR customer, ordinary for a 400 EUR one.
    assert vs_cheap["anomaly_score"] > vs_dear["anomaly_score"] + 0.05
    assert vs_dear["anomaly_score"] < 0.5
    # Deterministic: a fixed random_state gives the same score every time.
    assert anomaly_score(t, cheap, model) == vs_cheap
    # Another seed grows other trees.
    assert anomaly_score(t, cheap, dict(model, random_state=7))["anomaly_score"] != vs_cheap["anomaly_score"]
    assert anomaly_score(t, cheap[:10], model) is None  # below min_history
    assert anomaly_score(t, cheap, dict(model, enabled=False)) is None


def test_model_anomaly_raises_the_risk_when_no_rule_fires():
    history = regular_history()
    # 95 EUR (about three times the median, below the amount-spike rule) ten minutes after the
    # last payment, for a customer who pays every ~8 hours: no rule fires, the model sees it.
    t = txn(99, after(history, 10), 95.0, mcc="5411")
    with_model = score_case(t, history, [], POLICY)
    without = score_case(t, history, [], load_policy({"model": {"enabled": False}}))
    assert with_model["rule_hits"] == [] and without["rule_hits"] == []
    assert "MODEL_ANOMALY" in with_model["reasons"] and with_model["risk_score"] > 0
    assert without["risk_score"] == 0.0 and without["reasons"] == ["INSUFFICIENT_HISTORY"]


def test_risk_is_a_noisy_or_of_the_evidence():
    model = POLICY["model"]
    hits = [{"code": "A", "weight": 0.5, "detail": ""}, {"code": "B", "weight": 0.5, "detail": ""}]
    assert combine_risk(hits, {"anomaly_score": 0.5}, model)["risk_score"] == 75.0  # 1 - 0.5 * 0.5
    full = combine_risk(hits, {"anomaly_score": 0.9}, model)
    assert full["risk_score"] == pytest.approx(100 * (1 - 0.5 * 0.5 * (1 - model["weight"])))
    assert full["reasons"] == ["A", "B", "MODEL_ANOMALY"]
    assert combine_risk([], {"anomaly_score": 0.4}, model) == {"risk_score": 0.0, "reasons": [], "model_weight": 0.0}
    every = [{"code": c, "weight": 0.9, "detail": ""} for c in "ABCDEFGH"]
    assert combine_risk(every, {"anomaly_score": 1.0}, model)["risk_score"] <= 100.0


@pytest.mark.parametrize(
    ("score", "channel", "action", "method", "review"),
    [
        (0.0, "card_present", "auto_close", None, False),
        (29.99, "card_present", "auto_close", None, False),
        (30.0, "card_not_present", "step_up", "3ds_challenge", False),
        (50.0, "card_present", "step_up", "chip_and_pin", False),
        (55.0, "mail_phone_order", "step_up", "issuer_callback", False),
        (69.99, "atm", "step_up", "issuer_callback", False),
        (70.0, "card_not_present", "block", None, True),
        (100.0, "card_present", "block", None, True),
    ],
)
def test_triage_thresholds_of_the_default_policy(score, channel, action, method, review):
    expected = {"action": action, "step_up_method": method, "analyst_review": review}
    assert triage(score, channel, POLICY["triage"]) == expected


def test_policy_overrides_move_thresholds_and_are_checked():
    strict = load_policy({"triage": {"step_up_min_score": 10, "block_min_score": 50, "analyst_review_min_score": 90}})
    assert triage(20, "card_present", strict["triage"])["action"] == "step_up"
    blocked = triage(60, "card_present", strict["triage"])
    assert blocked == {"action": "block", "step_up_method": None, "analyst_review": False}
    assert load_policy()["triage"]["block_min_score"] == 70  # overrides do not leak into the defaults
    with pytest.raises(ValueError, match="unknown policy key.*triage.block_min_scor"):
        load_policy({"triage": {"block_min_scor": 50}})
    with pytest.raises(ValueError, match="step_up_min_score <= triage.block_min_score"):
        load_policy({"triage": {"step_up_min_score": 80}})
    with pytest.raises(ValueError, match="reasons for NEW_DEVICE"):
        load_policy({"reasons": {"NEW_DEVICE": ""}})


def test_every_reason_code_has_its_policy_text():
    assert set(POLICY["reasons"]) == set(REASON_CODES)
    assert all(text.endswith(".") and len(text) > 20 for text in POLICY["reasons"].values())
    # The codes the rules really emit, over the generator's stream, are all declared.
    emitted = set()
    for case in generate_cases(days=14):
        i = case["input"]
        emitted |= set(codes(i["transaction"], i["history"], i["account_events"]))
    assert emitted <= set(RULE_CODES) and len(emitted) >= 6
