"""What a model-risk review asked of the fraud agent: impossible travel only between physical uses
of the card, a step-up the channel can perform, an analyst's "legitimate" releasing a blocked
transaction, and a risk score that is not presented as a probability."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from reference_agents.fraud_detection import AGENT
from reference_agents.fraud_detection.policy import POLICY_PATH, load_policy
from reference_agents.fraud_detection.reference_data import cities
from reference_agents.fraud_detection.tools import enrich, evaluate_rules

CITY = {c.name: c for c in cities()}
T0 = datetime(2024, 5, 1, 8, tzinfo=timezone.utc)
POLICY = load_policy()


def txn(i: int, when: datetime, amount: float, city: str = "Berlin", **kw) -> dict:
    c = CITY[city]
    return {"transaction_id": f"T{i}", "customer_id": "C1", "timestamp": when.isoformat(), "amount": amount,
            "currency": "EUR", "merchant_id": f"M{i % 4}", "mcc": "5411", "merchant_country": c.country_code,
            "channel": "card_present", "latitude": c.latitude, "longitude": c.longitude, "device_id": None, **kw}


def history(n: int = 40) -> list[dict]:
    """A Berlin cardholder paying ~30 EUR card-present every 8 hours."""
    rng = np.random.default_rng(0)
    return [txn(i, T0 + timedelta(hours=8 * i), round(float(rng.lognormal(np.log(30), 0.4)), 2)) for i in range(n)]


def after(past: list[dict], minutes: float) -> datetime:
    return datetime.fromisoformat(past[-1]["timestamp"]) + timedelta(minutes=minutes)


def codes(case_txn: dict, past: list[dict], events: list[dict] | None = None) -> list[str]:
    return [h["code"] for h in evaluate_rules(enrich(case_txn, past, events or [], POLICY), case_txn, POLICY)]


def test_impossible_travel_is_only_for_transactions_where_the_card_is_present():
    past = history()
    tokyo = {"city": "Tokyo", "merchant_country": "JP"}
    # An online payment an hour after a Berlin purchase, geolocated in Tokyo: the location is the
    # device's IP (a VPN, a carrier gateway), not the card's. No impossible travel.
    online = txn(99, after(past, 60), 40.0, channel="card_not_present", device_id="D1", **tokyo)
    assert "IMPOSSIBLE_TRAVEL" not in codes(online, past)
    phone = txn(99, after(past, 60), 40.0, channel="mail_phone_order", **tokyo)
    assert "IMPOSSIBLE_TRAVEL" not in codes(phone, past)
    # The card itself at a Tokyo terminal or ATM an hour later is impossible.
    assert "IMPOSSIBLE_TRAVEL" in codes(txn(99, after(past, 60), 40.0, **tokyo), past)
    assert "IMPOSSIBLE_TRAVEL" in codes(txn(99, after(past, 60), 40.0, channel="atm", mcc="6011", **tokyo), past)
    # ... also when an online payment geolocated in Tokyo came in between: the comparison is with the
    # last card-present use (Berlin), not with the last transaction of any channel.
    between = past + [online]
    assert "IMPOSSIBLE_TRAVEL" in codes(txn(100, after(between, 30), 40.0, **tokyo), between)


def test_a_flight_is_not_impossible_travel():
    past = history()
    # Berlin -> New York (about 6,400 km) takes 9 hours gate to gate; the card is used at the airport
    # and again 11 hours later in Manhattan: about 580 km/h on average.
    landed = txn(99, after(past, 11 * 60), 40.0, city="New York City", merchant_country="US")
    assert "IMPOSSIBLE_TRAVEL" not in codes(landed, past)


@pytest.mark.parametrize(("channel", "method"), [
    ("card_present", "chip_and_pin"),
    ("card_not_present", "3ds_challenge"),
    ("mail_phone_order", "issuer_callback"),
    ("atm", "issuer_callback"),
])
def test_step_up_method_fits_the_channel_and_is_in_the_output(channel, method):
    past = history()
    # Five payments within the hour (velocity) after a new merchant category: a step-up, not a block.
    rapid = [txn(100 + k, after(past, 600 + 5 * k), 30.0) for k in range(6)]
    subject = txn(200, after(rapid, 5), 30.0, channel=channel, mcc="6011" if channel == "atm" else "5732",
                  device_id="D1" if channel == "card_not_present" else None)
    graph = AGENT.build_graph({"triage": {"step_up_min_score": 10}}).compile(checkpointer=InMemorySaver())
    state = graph.invoke({"transaction": subject, "history": past + rapid}, {"configurable": {"thread_id": channel}})
    out = AGENT.output(state)
    assert out["decision"] == "step_up", out["risk_score"]
    assert out["step_up_method"] == method
    assert f"step_up ({method})" in out["narrative"]


def _takeover_case() -> dict:
    """A new device spending 900 EUR on jewellery two hours after a password reset: blocked."""
    past = history()
    when = after(past, 600)
    reset = {"type": "password_reset", "timestamp": (when - timedelta(hours=2)).isoformat(), "device_id": "DX"}
    subject = txn(99, when, 900.0, mcc="5944", channel="card_not_present", device_id="DX")
    return {"transaction": subject, "history": past, "account_events": [reset]}


@pytest.mark.parametrize(("answer", "decision"), [("legitimate", "release"), ("fraud", "block")])
def test_an_analysts_legitimate_releases_a_blocked_transaction(answer, decision):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": answer}}
    state = graph.invoke(_takeover_case(), config)
    request = state["__interrupt__"][0].value
    assert request["context"]["proposed_action"] == "block"
    out = AGENT.output(graph.invoke(Command(resume={"decision": answer, "reviewer": "a.analyst"}), config))
    # The final action reverses the block, with the analyst's reason code; the policy's proposal stays on record.
    assert out["decision"] == decision and out["proposed_action"] == "block"
    assert out["reasons"][-1] == {"legitimate": "ANALYST_CONFIRMED_LEGITIMATE", "fraud": "ANALYST_CONFIRMED_FRAUD"}[answer]
    assert f"1 {decision}" in AGENT.summarize([out])


def test_risk_score_is_presented_as_a_score_not_a_probability():
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    state = graph.invoke(_takeover_case(), {"configurable": {"thread_id": "score"}})
    summary = state["__interrupt__"][0].value["context"]["summary"]
    assert f"risk score {state['assessment']['risk_score']:.0f}/100 (not a probability)" in summary
    assert "%" not in summary
    # The facts an LLM writes the summary from say so too, and so does the policy where the thresholds are.
    assert "not a probability" in POLICY_PATH.read_text(encoding="utf-8")
