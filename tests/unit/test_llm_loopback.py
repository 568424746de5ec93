"""The shared LLM path against a loopback OpenAI-compatible server, with the real
langchain-openai client: routing by tool call, narrative, usage and price."""

from __future__ import annotations

import asyncio

import pytest
from langchain.chat_models import init_chat_model

from activities.llm_usage import DEFAULT_PRICES, UsageCollector, price_usd
from reference_agents.common.llm import choose_next, get_chat_model, model_from_config, write_narrative
from tests.support.openai_stub import OpenAIStub, use_stub

OPTIONS = ["market_data", "indicators", "sentiment", "report"]


@pytest.fixture
def stub(monkeypatch):
    with OpenAIStub() as server:
        use_stub(monkeypatch, server)
        yield server


def test_no_model_means_no_llm():
    assert get_chat_model(None) is None
    assert get_chat_model("") is None
    assert model_from_config({"configurable": {"model": None}}) is None
    assert model_from_config({}) is None
    assert model_from_config({"configurable": {"model": "openai:gpt-4o-mini"}}) == "openai:gpt-4o-mini"
    assert choose_next(None, "pick", OPTIONS, "report", {}) == "report"
    assert write_narrative(None, "t", {"a": 1}, "fallback text") == "fallback text"


def test_choose_next_routes_by_forced_tool_call(stub):
    stub.option = "sentiment"
    llm = get_chat_model("openai:gpt-4o-mini")
    assert choose_next(llm, "Which analysis runs next?", OPTIONS, "report", {"ticker": "AAPL"}) == "sentiment"
    request = stub.requests[-1]
    assert request["model"] == "gpt-4o-mini"
    (tool,) = request["tools"]
    assert tool["function"]["name"] == "route"
    assert tool["function"]["parameters"]["properties"]["next"]["enum"] == OPTIONS
    assert request["tool_choice"]["function"]["name"] == "route"
    assert "AAPL" in request["messages"][-1]["content"]


def test_invalid_tool_answer_falls_back_to_default(stub):
    stub.option = "delete_everything"
    llm = get_chat_model("openai:gpt-4o-mini")
    assert choose_next(llm, "Which analysis runs next?", OPTIONS, "indicators", {}) == "indicators"
    assert len(stub.requests) == 1  # the LLM was asked; its answer was refused


def test_unreachable_provider_falls_back_to_default(monkeypatch):
    with OpenAIStub() as server:
        use_stub(monkeypatch, server)
    # The server is stopped: connections are refused. No retries, to keep the test fast.
    llm = init_chat_model("openai:gpt-4o-mini", max_retries=0)
    assert choose_next(llm, "next?", OPTIONS, "report", {}) == "report"


def test_narrative_and_usage_are_recorded_and_priced(stub):
    stub.text = "AAPL rose 12.3% over the window with annualised volatility of 24.1%."
    llm = get_chat_model("openai:gpt-4o-mini")
    usage = UsageCollector()
    config = {"callbacks": [usage]}
    route = choose_next(llm, "Which analysis runs next?", OPTIONS, "report", {"n": 1}, config=config)
    text = write_narrative(llm, "AAPL 2012", {"return_pct": 12.3}, "fallback", config=config)
    assert route == "market_data"  # stub picks the enum's first value when no option is set
    assert text == stub.text
    assert [c.model for c in usage.calls] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert [(c.tokens_in, c.tokens_out) for c in usage.calls] == [
        (u["prompt_tokens"], u["completion_tokens"]) for u in stub.usages
    ]
    assert usage.tokens_in == sum(u["prompt_tokens"] for u in stub.usages) > 0
    expected = (usage.tokens_in * 0.15 + usage.tokens_out * 0.60) / 1e6  # gpt-4o-mini list price
    assert usage.cost_usd(DEFAULT_PRICES) == pytest.approx(expected)


async def test_usage_collector_counts_concurrent_async_calls(stub):
    llm = get_chat_model("openai:gpt-4o-mini")
    usage = UsageCollector()
    await asyncio.gather(*(llm.ainvoke(f"question {i}", config={"callbacks": [usage]}) for i in range(8)))
    assert len(usage.calls) == 8
    assert usage.tokens_out == 8 * len(stub.text.split())


def test_streamed_call_reports_usage(stub):
    llm = get_chat_model("openai:gpt-4o-mini")
    usage = UsageCollector()
    chunks = list(llm.stream("hello", config={"callbacks": [usage]}, stream_usage=True))
    assert "".join(c.text for c in chunks) == stub.text
    assert usage.calls[0].tokens_out == len(stub.text.split())


def test_price_usd_uses_longest_matching_snapshot_key():
    prices = {"gpt-4o": (2.5, 10.0), "gpt-4o-mini": (0.15, 0.6)}
    assert price_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0, prices) == pytest.approx(0.15)
    assert price_usd("openai:gpt-4o", 0, 2_000_000, prices) == pytest.approx(20.0)
    with pytest.raises(KeyError, match="no price for model 'mystery-1'"):
        price_usd("mystery-1", 1, 1, prices)
    with pytest.raises(ValueError):
        price_usd("gpt-4o", -1, 0, prices)


def test_default_prices_cover_common_models():
    for model in ("gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022", "claude-sonnet-4-20250514"):
        assert price_usd(model, 1_000_000, 1_000_000, DEFAULT_PRICES) > 0
    assert all(out >= inp > 0 for inp, out in DEFAULT_PRICES.values())
