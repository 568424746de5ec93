"""The compiled financial analysis graph on the real price data, without and with an LLM."""

from __future__ import annotations

import json
from datetime import date

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import ValidationError

from activities.llm_usage import DEFAULT_PRICES, UsageCollector
from reference_agents.financial_analysis import AGENT
from reference_agents.financial_analysis.policy import load_policy
from reference_agents.financial_analysis.tools.market_data import window_stats
from reference_agents.financial_analysis.tools.signals import classify
from tests.support.openai_stub import OpenAIStub, use_stub

RULES = load_policy()["signals"]
NEGATIVE_NEWS = ["The company warned of falling sales and announced layoffs and an impairment charge.",
                 "Analysts downgraded the shares on weak demand and mounting losses."]
POSITIVE_NEWS = ["Revenue growth accelerated and the company raised its guidance.",
                 "Analysts upgraded the shares after strong profit gains and record sales."]


def dated(texts: list[str], ticker: str, when: str) -> list[dict]:
    """The texts as headlines about ``ticker`` published on ``when``."""
    return [{"text": t, "date": when, "ticker": ticker} for t in texts]


def run(payload: dict, config: dict | None = None, graph_config: dict | None = None, thread: str = "t") -> dict:
    graph = AGENT.build_graph(graph_config or {}).compile(checkpointer=InMemorySaver())
    cfg = {"configurable": {"thread_id": thread}} | (config or {})
    return graph.invoke(AGENT.input_model.model_validate(payload).model_dump(mode="json"), cfg)


def test_crash_quarter_with_negative_news_is_bearish():
    state = run({"tickers": ["MSFT"], "start": "2008-09-01", "end": "2008-12-31",
                 "headlines": dated(NEGATIVE_NEWS, "MSFT", "2008-11-20")})
    out = AGENT.output(state)
    market = out["market"]["MSFT"]
    assert market == window_stats("MSFT", date(2008, 9, 1), date(2008, 12, 31), 252)
    assert market["total_return_adjusted_pct"] < -20 and market["max_drawdown_adjusted_pct"] < -30
    assert out["decision"] == "bearish"
    assert {"DOWNTREND_BELOW_SMA", "SENTIMENT_NEGATIVE", "DEEP_DRAWDOWN"} <= set(out["reasons"])
    assert out["sentiment"]["per_ticker"]["MSFT"]["label"] == "negative" and out["sentiment"]["ignored"] == []
    assert out["narrative_source"] == "tools"
    assert "MSFT" in out["narrative"] and "bearish" in out["narrative"]
    json.dumps(state)  # checkpointable: plain JSON values only


def test_recovery_rally_with_positive_news_is_bullish():
    out = AGENT.output(run({"tickers": "goog", "start": "2009-03-02", "end": "2009-06-30",
                            "headlines": dated(POSITIVE_NEWS, "goog", "2009-06-15")}))
    assert out["tickers"] == ["GOOG"]
    assert out["market"]["GOOG"]["total_return_adjusted_pct"] > 20
    assert out["decision"] == "bullish"
    assert out["reasons"][:1] == ["UPTREND_ABOVE_SMA"] and "SENTIMENT_POSITIVE" in out["reasons"]


def test_basket_signal_is_consistent_with_ticker_scores():
    state = run({"tickers": ["AAPL", "IBM", "MSFT"], "start": "2012-06-01", "end": "2012-12-31"})
    out = AGENT.output(state)
    assert set(out["signals"]) == {"AAPL", "IBM", "MSFT"}
    for ticker, sig in out["signals"].items():
        assert sig["score"] == sum(RULES["weights"][c] for c in sig["reasons"])
        assert sig["signal"] == classify(sig["score"], RULES)
        assert out["indicators"][ticker]["as_of"] == "2012-12-31"
    mean = sum(s["score"] for s in out["signals"].values()) / 3
    assert out["decision"] == classify(mean, RULES)
    assert all(s["label"] == "none" for s in out["sentiment"]["per_ticker"].values())
    assert "SENTIMENT_POSITIVE" not in out["reasons"]
    log = state["route_log"]
    assert [e["next"] for e in log] == ["market_data", "indicators", "sentiment", "report"]
    assert all(e["chooser"] == "rules" for e in log)


def test_policy_override_changes_the_rules():
    payload = {"tickers": ["AAPL"], "start": "2012-09-01", "end": "2012-11-30"}
    default = AGENT.output(run(payload))
    assert default["indicators"]["AAPL"]["rsi"] < 60 and "RSI_OVERSOLD" not in default["reasons"]
    strict = AGENT.output(run(payload, graph_config={"signals": {"rsi_oversold_below": 60}}))
    assert "RSI_OVERSOLD" in strict["reasons"]
    assert strict["signals"]["AAPL"]["score"] == default["signals"]["AAPL"]["score"] + 1


async def test_streamed_updates_as_the_platform_runs_it():
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    nodes = []
    async for update in graph.astream({"tickers": ["FB"], "start": "2012-06-01", "end": "2013-03-01"},
                                      {"configurable": {"thread_id": "s"}}, stream_mode="updates"):
        nodes += list(update)
    assert nodes.count("supervisor") == 5 and nodes[-1] == "supervisor"
    assert {"market_data", "indicators", "sentiment", "report"} <= set(nodes)


@pytest.mark.parametrize(
    "payload,field,text",
    [
        ({"start": "2012-01-01", "end": "2012-06-01"}, "tickers", "Field required"),
        ({"tickers": ["AAPL"], "start": "2012-13-01", "end": "2012-06-01"}, "start", "date"),
        ({"tickers": [], "start": "2012-01-01", "end": "2012-06-01"}, "tickers", "at least 1"),
        ({"tickers": ["AAPL", "IBM", "MSFT", "GOOG", "FB", "X"], "start": "2012-06-01", "end": "2012-07-01"}, "tickers", "at most 5"),
        ({"tickers": ["AAPL"], "start": "2012-01-01", "end": "2012-06-01", "sector": "tech"}, "sector", "Extra inputs"),
    ],
)
def test_malformed_input_names_the_field(payload, field, text):
    with pytest.raises(ValidationError) as err:
        AGENT.input_model.model_validate(payload)
    errors = err.value.errors()
    assert errors[0]["loc"][0] == field and text in str(err.value)


def test_unknown_ticker_and_window_name_the_available_data():
    with pytest.raises(ValidationError, match=r"unknown ticker 'NFLX'; available: AAPL 2000-03-01\.\.2013-03-01"):
        AGENT.input_model.model_validate({"tickers": ["NFLX"], "start": "2010-01-01", "end": "2010-06-01"})
    with pytest.raises(ValidationError, match=r"outside the data for GOOG \(2004-08-19\.\.2013-03-01\)"):
        AGENT.input_model.model_validate({"tickers": ["GOOG"], "start": "2003-01-01", "end": "2004-12-31"})
    # the graph itself refuses too, for callers that skip the input model
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    with pytest.raises(ValueError, match="available: AAPL"):
        graph.invoke({"tickers": ["AAPL"], "start": "1999-01-01", "end": "1999-12-31"}, {"configurable": {"thread_id": "x"}})


def test_sample_inputs_are_valid_and_summarised():
    samples = AGENT.sample_inputs(6)
    assert len(samples) == 6
    outs = [AGENT.output(run(s, thread=str(i))) for i, s in enumerate(samples)]
    for sample in samples:
        AGENT.input_model.model_validate(sample)
    assert {o["decision"] for o in outs} <= {"bullish", "neutral", "bearish"}
    summary = AGENT.summarize(outs)
    assert summary.startswith("6 analyses:") and sum(int(w) for w in summary.split()[2:7:2]) == 6


def test_llm_routes_and_writes_narrative_with_usage_recorded(monkeypatch):
    with OpenAIStub(text="MSFT fell sharply in late 2008; the tools flag a downtrend.", option="sentiment") as stub:
        use_stub(monkeypatch, stub)
        usage = UsageCollector()
        state = run({"tickers": ["MSFT"], "start": "2008-09-01", "end": "2008-12-31",
                     "headlines": dated(NEGATIVE_NEWS, "MSFT", "2008-12-01")},
                    config={"configurable": {"thread_id": "llm", "model": "openai:gpt-4o-mini"}, "callbacks": [usage]})
    out = AGENT.output(state)
    assert out["narrative"] == stub.text and out["narrative_source"] == "llm"
    assert out["decision"] == "bearish"  # the LLM writes prose; the tools decide
    # only the first step had two ready options; the LLM chose sentiment first
    assert state["route_log"][0] == {"options": ["market_data", "sentiment"], "next": "sentiment", "chooser": "llm"}
    assert [e["chooser"] for e in state["route_log"][1:]] == ["rules"] * 3
    assert len(stub.requests) == 2 and "tools" in stub.requests[0] and "tools" not in stub.requests[1]
    assert "MSFT" in stub.requests[1]["messages"][-1]["content"]  # the facts reach the narrative prompt
    assert [c.model for c in usage.calls] == ["gpt-4o-mini", "gpt-4o-mini"]
    assert usage.tokens_in == sum(u["prompt_tokens"] for u in stub.usages)
    assert usage.tokens_out == sum(u["completion_tokens"] for u in stub.usages)
    assert usage.cost_usd(DEFAULT_PRICES) == pytest.approx((usage.tokens_in * 0.15 + usage.tokens_out * 0.60) / 1e6)


def test_invalid_llm_route_falls_back_to_rules(monkeypatch):
    with OpenAIStub(option="drop_tables") as stub:
        use_stub(monkeypatch, stub)
        state = run({"tickers": ["IBM"], "start": "2010-01-04", "end": "2010-06-30"},
                    config={"configurable": {"thread_id": "bad", "model": "openai:gpt-4o-mini"}})
    assert [e["next"] for e in state["route_log"]] == ["market_data", "indicators", "sentiment", "report"]
    assert [e["chooser"] for e in state["route_log"]] == ["llm", "llm", "rules", "rules"]
    assert len(stub.requests) == 3  # two refused routing answers, one narrative
    assert state["narrative_source"] == "llm" and state["decision"] in {"bullish", "neutral", "bearish"}
