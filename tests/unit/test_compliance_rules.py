"""Transaction monitoring rules: each fires on its crafted scenario and stays silent on
normal activity (synthetic transactions). Cash reporting and structuring: test_compliance_cash_reporting.py."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from reference_agents.compliance_monitoring.demo import transactions
from reference_agents.compliance_monitoring.policy import load_policy
from reference_agents.compliance_monitoring.tools.monitoring import (
    high_risk_jurisdiction,
    rapid_movement,
    run_monitoring,
    sanctioned_jurisdiction,
    velocity,
)

RULES = load_policy()["monitoring"]
T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def tx(i, hours, amount, direction="in", kind="wire", country="US"):
    return {"transaction_id": f"X{i}", "timestamp": (T0 + timedelta(hours=hours)).isoformat(), "amount_usd": amount,
            "direction": direction, "type": kind, "counterparty_country": country}


@pytest.mark.parametrize("seed", range(5))
def test_normal_activity_raises_no_alert(seed):
    assert run_monitoring(transactions("normal", random.Random(seed)), RULES) == []


def test_rapid_movement_fires_on_pass_through():
    txs = [tx(1, 0, 50000), tx(2, 30, 46000, "out"), tx(3, 200, 100, "out")]
    (alert,) = rapid_movement(txs, RULES["rapid_movement"])
    assert alert["reason_code"] == "RAPID_MOVEMENT_OF_FUNDS" and alert["transaction_ids"] == ["X1", "X2"]
    assert alert["details"]["pass_through_ratio"] == pytest.approx(0.92)


@pytest.mark.parametrize(
    "txs",
    [
        [tx(1, 0, 50000), tx(2, 72, 46000, "out")],  # out after the 48 h window
        [tx(1, 0, 50000), tx(2, 10, 20000, "out")],  # 40 % passes through
        [tx(1, 0, 5000), tx(2, 10, 5000, "out")],  # below the inflow floor
    ],
)
def test_rapid_movement_silent_otherwise(txs):
    assert rapid_movement(txs, RULES["rapid_movement"]) == []


def test_high_risk_jurisdiction_fires_only_for_listed_countries():
    txs = [tx(1, 0, 700, "out", country="ir"), tx(2, 1, 900, "out", country="DE"), tx(3, 2, 300, country="KP")]
    (alert,) = high_risk_jurisdiction(txs, RULES["high_risk_jurisdiction"])
    assert alert["transaction_ids"] == ["X1", "X3"] and alert["details"]["countries"] == ["IR", "KP"]
    assert "FATF" in alert["details"]["source"]
    assert high_risk_jurisdiction([tx(2, 1, 900, "out", country="DE")], RULES["high_risk_jurisdiction"]) == []


def test_sanctioned_jurisdiction_holds_countries_and_regions():
    rule = RULES["sanctioned_jurisdiction"]
    txs = [tx(1, 0, 700, "out", country="cu"), tx(2, 1, 900, "out", country="DE"), tx(3, 2, 300, country="UA")]
    txs[2]["counterparty_subdivision"] = "UA-40"
    (alert,) = sanctioned_jurisdiction(txs, rule)
    assert alert["hold"] is True and alert["transaction_ids"] == ["X1", "X3"]
    assert alert["details"]["jurisdictions"] == ["CU", "UA-40"] and alert["reason_code"] == "SANCTIONED_JURISDICTION_HOLD"
    assert sanctioned_jurisdiction([tx(4, 0, 10, country="SY")], rule) == []


def test_velocity_count_and_amount():
    many = [tx(i, 0.5 * i, 50, "out", "card") for i in range(12)]  # 12 in 5.5 h
    (alert,) = velocity(many, RULES["velocity"])
    assert alert["reason_code"] == "VELOCITY_COUNT_EXCEEDED" and alert["details"]["count"] == 12
    big = [tx(1, 0, 30000, "out"), tx(2, 5, 30000, "out")]
    (alert,) = velocity(big, RULES["velocity"])
    assert alert["reason_code"] == "VELOCITY_AMOUNT_EXCEEDED" and alert["amount_usd"] == 60000
    spread = [tx(i, 25 * i, 30000, "out") for i in range(12)]  # one a day
    assert velocity(spread, RULES["velocity"]) == []


def test_each_demo_scenario_fires_its_rule():
    expected = {"structuring": {"STRUCTURING_BELOW_CTR_THRESHOLD"}, "rapid_movement": {"RAPID_MOVEMENT_OF_FUNDS"},
                "high_risk_jurisdiction": {"HIGH_RISK_JURISDICTION", "SANCTIONED_JURISDICTION_HOLD"},
                "velocity": {"VELOCITY_COUNT_EXCEEDED"}, "listed_counterparty": set()}
    for scenario, codes in expected.items():
        got = {a["reason_code"] for a in run_monitoring(transactions(scenario, random.Random(7)), RULES)}
        assert got == codes, scenario


def test_rule_can_be_switched_off_and_unknown_rule_rejected():
    txs = [tx(1, 0, 700, "out", country="MM")]
    assert run_monitoring(txs, {**RULES, "high_risk_jurisdiction": None}) == []
    with pytest.raises(ValueError, match="unknown monitoring rules"):
        run_monitoring(txs, {**RULES, "smurfing": {}})
