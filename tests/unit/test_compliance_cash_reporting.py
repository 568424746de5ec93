"""Currency transaction reports and structuring (31 CFR 1010.311/313): cash aggregated per business
day, deposits and withdrawals alike, on the scenarios of data/structuring_scenarios.yaml (each
positive and each negative), through the agent's monitoring rules and its graph."""

from __future__ import annotations

import random

import pytest
import yaml
from langgraph.checkpoint.memory import InMemorySaver

from reference_agents.compliance_monitoring import AGENT
from reference_agents.compliance_monitoring.demo import transactions
from reference_agents.compliance_monitoring.policy import PACKAGE_DIR, load_policy
from reference_agents.compliance_monitoring.tools.monitoring import run_monitoring

RULES = load_policy()["monitoring"]
SCENARIOS = yaml.safe_load((PACKAGE_DIR / "data" / "structuring_scenarios.yaml").read_text(encoding="utf-8"))
CASH_CODES = {"CTR_REQUIRED", "STRUCTURING_BELOW_CTR_THRESHOLD"}


def as_transactions(scenario: dict) -> list[dict]:
    return [{"transaction_id": f"C{i}", "timestamp": ts, "amount_usd": amount, "type": kind,
             "direction": "out" if kind == "cash_withdrawal" else "in", "counterparty_country": "US"}
            for i, (ts, amount, kind) in enumerate(scenario["transactions"])]


def cash_codes(txs: list[dict]) -> set[str]:
    return {a["reason_code"] for a in run_monitoring(txs, RULES)} & CASH_CODES


@pytest.mark.parametrize("scenario", SCENARIOS["positive"], ids=lambda s: s["name"])
def test_reportable_and_structured_cash_is_caught(scenario):
    assert cash_codes(as_transactions(scenario)) == set(scenario["expect"])


@pytest.mark.parametrize("scenario", SCENARIOS["negative"], ids=lambda s: s["name"])
def test_ordinary_cash_activity_raises_no_cash_alert(scenario):
    assert cash_codes(as_transactions(scenario)) == set()


def test_ctr_alert_names_the_business_day_direction_and_aggregate():
    (scenario,) = [s for s in SCENARIOS["positive"] if s["name"].startswith("3 x USD 4,000")]
    alerts = {a["reason_code"]: a for a in run_monitoring(as_transactions(scenario), RULES)}
    ctr = alerts["CTR_REQUIRED"]
    assert ctr["amount_usd"] == 12000 and ctr["transaction_ids"] == ["C0", "C1", "C2"]
    assert ctr["details"] == {"business_day": "2024-05-01", "direction": "in", "threshold_usd": 10000}
    assert alerts["STRUCTURING_BELOW_CTR_THRESHOLD"]["details"]["pattern"] == "same_day"


def test_weekend_cash_books_to_monday():
    (scenario,) = [s for s in SCENARIOS["positive"] if "Saturday" in s["name"]]
    ctr = next(a for a in run_monitoring(as_transactions(scenario), RULES) if a["reason_code"] == "CTR_REQUIRED")
    assert ctr["details"]["business_day"] == "2024-05-06"


def test_withdrawal_pattern_is_reported_as_cash_out():
    (scenario,) = [s for s in SCENARIOS["positive"] if s["name"] == "3 x USD 9,500 cash withdrawals on three days"]
    (alert,) = run_monitoring(as_transactions(scenario), RULES)
    assert alert["details"]["pattern"] == "near_threshold" and alert["details"]["direction"] == "out"
    assert alert["amount_usd"] == 28500


@pytest.mark.parametrize("seed", range(5))
def test_demo_ordinary_histories_with_small_cash_raise_no_alert(seed):
    txs = transactions("normal", random.Random(seed))
    assert any(t["type"].startswith("cash") for t in txs)
    assert run_monitoring(txs, RULES) == []


def test_graph_alerts_on_same_day_cash_split():
    (scenario,) = [s for s in SCENARIOS["positive"] if s["name"].startswith("3 x USD 10,000.00")]
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    out = AGENT.output(graph.invoke({"name": "Margaret Thompson", "transactions": as_transactions(scenario)},
                                    {"configurable": {"thread_id": "cash"}}))
    assert out["decision"] == "alert"
    assert {"CTR_REQUIRED", "STRUCTURING_BELOW_CTR_THRESHOLD"} <= set(out["reasons"])
    assert out["alerted_amount_usd"] == 30000
