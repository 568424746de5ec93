"""Portfolio Management's LLM path: the real OpenAI client against a loopback chat-completions
server writes the review narrative after the manager's sign-off; token usage is recorded."""

from __future__ import annotations

import json

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from activities.llm_usage import DEFAULT_PRICES, UsageCollector
from reference_agents.portfolio_management import AGENT
from tests.support.openai_stub import OpenAIStub, use_stub

MODEL = "openai:gpt-4o-mini"
REVIEW_TEXT = "The rebalance cuts the AMD concentration; turnover exceeded the limit and pm-3 approved it."
TECH_HEAVY = {
    "holdings": {"AAPL": 2000, "MSFT": 2000, "AMD": 10000},
    "cash_usd": 50_000.0,
    "candidates": ["JNJ", "KO", "PG", "WMT", "UNH", "HD", "PEP", "LLY"],
    # closing prices as traded on 2019-12-31, as a user supplies them
    "as_of_prices_usd": {"AAPL": 293.65, "MSFT": 157.70, "AMD": 45.86, "JNJ": 145.87, "KO": 55.35, "PG": 124.90,
                         "WMT": 118.84, "UNH": 293.98, "HD": 218.38, "PEP": 136.67, "LLY": 131.43},
    "constraints": {"as_of": "2019-12-31", "objective": "max_sharpe", "weight_max": 0.25, "lookback_days": 756,
                    "max_turnover": 0.1},
}


def test_llm_writes_the_review_after_the_managers_sign_off_with_usage_recorded(monkeypatch):
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    payload = AGENT.input_model.model_validate(TECH_HEAVY).model_dump(mode="json")
    with OpenAIStub(text=REVIEW_TEXT) as stub:
        use_stub(monkeypatch, stub)
        usage = UsageCollector()
        config = {"configurable": {"thread_id": "llm-review", "model": MODEL}, "callbacks": [usage]}
        state = graph.invoke(payload, config)
        assert [r["code"] for r in state["__interrupt__"][0].value["reasons"]] == ["TURNOVER_ABOVE_LIMIT"]
        assert stub.requests == []  # optimisation, risk and the limit check involve no LLM
        state = graph.invoke(Command(resume={"decision": "approve", "reviewer": "pm-3", "note": "ok to trade"}), config)
    out = AGENT.output(state)
    assert out["narrative"] == REVIEW_TEXT and out["narrative_source"] == "llm"
    # the LLM writes prose; the optimiser, the limits and the manager decide
    assert out["decision"] == "rebalance" and out["orders"]
    assert out["reasons"][:3] == ["TARGET_MAX_SHARPE", "TURNOVER_ABOVE_LIMIT", "MANAGER_APPROVED"]
    (request,) = stub.requests  # the supervisor routes by rules: the only call is the narrative
    assert request["model"] == "gpt-4o-mini" and "tools" not in request
    prompt = request["messages"][-1]["content"]
    assert "Portfolio review as of 2019-12-31" in prompt
    facts = json.loads(prompt.split("Facts (JSON):\n", 1)[1])
    assert facts["decision"] == "rebalance" and facts["reasons"] == out["reasons"]
    assert facts["review"] == {"decision": "approve", "reviewer": "pm-3", "note": "ok to trade"}
    assert facts["turnover_pct"] == pytest.approx(100 * out["turnover_fraction"], abs=0.01) and facts["turnover_pct"] > 10
    assert facts["orders"] == len(out["orders"])
    assert facts["cvar_1d_pct"]["proposed"] < facts["cvar_1d_pct"]["current"]
    assert [c.model for c in usage.calls] == ["gpt-4o-mini"]
    assert usage.tokens_in == stub.usages[0]["prompt_tokens"] > 0
    assert usage.tokens_out == stub.usages[0]["completion_tokens"] == len(REVIEW_TEXT.split())
    assert usage.cost_usd(DEFAULT_PRICES) == pytest.approx((usage.tokens_in * 0.15 + usage.tokens_out * 0.60) / 1e6)


def test_without_a_model_the_narrative_is_the_template_over_the_facts(monkeypatch):
    payload = AGENT.input_model.model_validate(TECH_HEAVY).model_dump(mode="json")
    with OpenAIStub(text=REVIEW_TEXT) as stub:
        use_stub(monkeypatch, stub)
        graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
        config = {"configurable": {"thread_id": "no-llm", "model": None}}
        state = graph.invoke(payload, config)
        state = graph.invoke(Command(resume={"decision": "approve", "reviewer": "pm-3", "note": "ok to trade"}), config)
    out = AGENT.output(state)
    assert stub.requests == []
    assert out["decision"] == "rebalance"
    assert out["narrative"].startswith("As of 2019-12-31: decision rebalance")
    assert out["narrative_source"] == "tools"
