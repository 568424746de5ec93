"""Compliance Monitoring's LLM path: the real OpenAI client against a loopback chat-completions
server writes the case narrative after the analyst's review; token usage is recorded."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from activities.llm_usage import DEFAULT_PRICES, UsageCollector
from reference_agents.compliance_monitoring import AGENT
from tests.support.openai_stub import OpenAIStub, use_stub

MODEL = "openai:gpt-4o-mini"
CASE_TEXT = "Confirmed sanctions match CDi.005; three cash deposits just under the CTR threshold."
STRUCTURING = [
    {"transaction_id": f"D{i}", "timestamp": f"2024-05-0{i + 1}T10:00:00+00:00", "amount_usd": 9400 + 100 * i,
     "direction": "in", "type": "cash_deposit", "counterparty_country": "US"}
    for i in range(3)
]


def _facts_sent(request: dict) -> dict:
    return json.loads(request["messages"][-1]["content"].split("Facts (JSON):\n", 1)[1])


def test_llm_writes_the_case_narrative_after_the_analyst_with_usage_recorded(monkeypatch):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    with OpenAIStub(text=CASE_TEXT) as stub:
        use_stub(monkeypatch, stub)
        usage = UsageCollector()
        config = {"configurable": {"thread_id": "llm-case", "model": MODEL}, "callbacks": [usage]}
        state = graph.invoke({"name": "Kakwavo Jerome", "date_of_birth": "1969", "transactions": STRUCTURING}, config)
        assert state["__interrupt__"][0].value["kind"] == "watchlist_potential_match"
        assert stub.requests == []  # screening and the analyst interrupt involve no LLM
        state = graph.invoke(Command(resume={"decision": "true_match", "reviewer": "a.kowalski", "note": "DOB agrees"}),
                             config)
    out = AGENT.output(state)
    assert out["narrative"] == CASE_TEXT and out["narrative_source"] == "llm"
    # the LLM writes prose; screening, the analyst and the monitoring rules decide
    assert out["decision"] == "blocked"
    assert out["reasons"] == ["WATCHLIST_CONFIRMED_MATCH", "WATCHLIST_STALE", "STRUCTURING_BELOW_CTR_THRESHOLD"]
    (request,) = stub.requests  # the supervisor routes by rules: the only call is the narrative
    assert request["model"] == "gpt-4o-mini" and "tools" not in request
    facts = _facts_sent(request)
    assert facts["decision"] == "blocked" and facts["reasons"] == out["reasons"]
    assert facts["review_decision"] == "true_match" and facts["transactions_monitored"] == 3
    assert facts["watchlist_candidates"][0]["reference_number"] == "CDi.005"
    assert facts["alerts"] == [{"reason_code": "STRUCTURING_BELOW_CTR_THRESHOLD", "amount_usd": 28500.0,
                                "transactions": 3, "hold": False}]
    assert "Kakwavo" not in json.dumps(request)  # the screened party's name is not sent to the LLM
    assert [c.model for c in usage.calls] == ["gpt-4o-mini"]
    assert usage.tokens_in == stub.usages[0]["prompt_tokens"] > 0
    assert usage.tokens_out == stub.usages[0]["completion_tokens"] == len(CASE_TEXT.split())
    assert usage.cost_usd(DEFAULT_PRICES) == pytest.approx((usage.tokens_in * 0.15 + usage.tokens_out * 0.60) / 1e6)


def test_without_a_model_the_narrative_is_built_from_the_decision(monkeypatch):
    with OpenAIStub(text=CASE_TEXT) as stub:
        use_stub(monkeypatch, stub)
        graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
        state = graph.invoke({"name": "Margaret Thompson", "transactions": STRUCTURING},
                             {"configurable": {"thread_id": "no-llm", "model": None}})
    out = AGENT.output(state)
    assert stub.requests == []
    assert out["decision"] == "alert"
    assert out["narrative"].startswith("Decision alert: WATCHLIST_NO_MATCH, WATCHLIST_STALE, STRUCTURING_BELOW_CTR_THRESHOLD.")
    assert out["narrative_source"] == "tools"
