"""The portfolio-management graph end to end on the real S&P 500 data (InMemorySaver)."""

import jsonschema
import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from reference_agents.common import narrative as common_narrative
from reference_agents.portfolio_management import AGENT

# Closing prices as traded on 2019-12-31, as a user supplies them (the data's adjusted closes are
# not prices of that day: AAPL is 71.71 in it).
PRICES_2019_12_31 = {"AAPL": 293.65, "MSFT": 157.70, "AMD": 45.86, "JNJ": 145.87, "KO": 55.35, "PG": 124.90,
                     "WMT": 118.84, "UNH": 293.98, "HD": 218.38, "PEP": 136.67, "LLY": 131.43}
TECH_HEAVY = {
    "holdings": {"AAPL": 2000, "MSFT": 2000, "AMD": 10000},
    "cash_usd": 50_000.0,
    "candidates": ["JNJ", "KO", "PG", "WMT", "UNH", "HD", "PEP", "LLY"],
    "as_of_prices_usd": PRICES_2019_12_31,
    "constraints": {"as_of": "2019-12-31", "objective": "max_sharpe", "weight_max": 0.25, "lookback_days": 756},
}


def _graph(config=None):
    return AGENT.build_graph(config or {}).compile(checkpointer=InMemorySaver())


def _run(graph, run_input, thread="t"):
    cfg = {"configurable": {"thread_id": thread}}
    return graph.invoke(AGENT.input_model.model_validate(run_input).model_dump(mode="json"), cfg), cfg


def _with(**constraints):
    return {**TECH_HEAVY, "constraints": {**TECH_HEAVY["constraints"], **constraints}}


def test_a_run_produces_a_consistent_proposal():
    graph = _graph()
    state, _ = _run(graph, _with(max_turnover=1.0))
    out = AGENT.output(state)
    assert out["decision"] == "rebalance" and out["reasons"][0] == "TARGET_MAX_SHARPE"
    assert "FUNDAMENTALS_SKIPPED" in out["reasons"]
    assert out["as_of_date"] == "2019-12-31" and out["order_units"] == "shares"
    prices = PRICES_2019_12_31
    value = 2000 * prices["AAPL"] + 2000 * prices["MSFT"] + 10000 * prices["AMD"] + 50_000
    assert out["portfolio_value_usd"] == pytest.approx(value, abs=0.01)
    w = out["target_weights"]
    assert set(w) == set(TECH_HEAVY["holdings"]) | set(TECH_HEAVY["candidates"])
    assert abs(sum(w.values()) - 1) <= 1e-6 and all(-1e-6 <= x <= 0.25 + 1e-6 for x in w.values())
    # orders move each holding to its target, in whole shares at the as-traded prices
    for o in out["orders"]:
        assert o["price_usd"] == prices[o["ticker"]] and o["value_usd"] == pytest.approx(o["shares"] * o["price_usd"])
        target_value = w[o["ticker"]] * value
        now = TECH_HEAVY["holdings"].get(o["ticker"], 0) * prices[o["ticker"]]
        assert (o["side"] == "buy") == (target_value > now)
    assert out["cash_after_usd"] >= 0
    assert out["risk"]["proposed"]["n_days"] == 756 and out["in_sample_benchmark"]["n_days"] == 756
    # AMD-heavy portfolio: the proposal cuts tail risk and tracks the index more closely in beta
    assert out["risk"]["proposed"]["cvar_1d_pct"] < out["risk"]["current"]["cvar_1d_pct"]
    assert 0.3 < out["in_sample_benchmark"]["beta"] < 1.5
    assert out["walk_forward"]["status"] == "ok" and out["walk_forward"]["end_date"] == "2019-12-31"
    assert out["narrative"].startswith("As of 2019-12-31: decision rebalance")
    assert "Out of sample (walk-forward" in out["narrative"]
    assert out["review"] is None and out["review_required"] == []


async def test_the_platform_way_astream_updates_visits_the_supervisor_between_workers():
    graph = _graph()
    cfg = {"configurable": {"thread_id": "stream"}}
    payload = AGENT.input_model.model_validate(_with(max_turnover=1.0)).model_dump(mode="json")
    visited = [node async for chunk in graph.astream(payload, cfg, stream_mode="updates") for node in chunk]
    workers = [n for n in visited if n != "supervisor"]
    assert workers == ["prepare", "technical", "fundamentals", "risk_model", "optimiser", "rebalance", "risk",
                       "benchmark", "walk_forward", "limits", "decide", "narrative"]
    assert all(visited[i] == "supervisor" for i in range(0, len(visited), 2))


def test_unknown_ticker_is_refused_naming_the_field_and_the_known_tickers():
    with pytest.raises(ValidationError) as exc:
        AGENT.input_model.model_validate({**TECH_HEAVY, "holdings": {"AAPL": 10, "TSLA": 5}})
    err = exc.value.errors()[0]
    assert err["loc"] == ("holdings",) and "TSLA" in err["msg"] and "AAPL, AMD, BAC" in err["msg"]
    with pytest.raises(ValidationError, match="candidates"):
        AGENT.input_model.model_validate({**TECH_HEAVY, "candidates": ["NVDA"]})


@pytest.mark.parametrize("as_of,usable_from", [("2023-01-31", "1992-12-28"), ("1991-06-28", "1992-12-28")])
def test_as_of_outside_the_data_is_refused_naming_the_range(as_of, usable_from):
    with pytest.raises(ValidationError) as exc:
        AGENT.input_model.model_validate(_with(as_of=as_of))
    msg = str(exc.value)
    assert "constraints" in msg and f"as_of {as_of}" in msg
    assert f"{usable_from}..2022-12-28" in msg and "1990-01-02..2022-12-28" in msg
    # the graph itself validates too, when called without the platform
    with pytest.raises(ValidationError, match="2022-12-28"):
        _graph().invoke(_with(as_of=as_of), {"configurable": {"thread_id": "x"}})


def test_shorter_lookback_allows_earlier_dates_and_non_trading_days_use_the_previous_close():
    run_input = {"holdings": {"AAPL": 0.4, "MSFT": 0.4}, "holdings_basis": "weights", "portfolio_value_usd": 1e6,
                 "candidates": ["JNJ", "KO", "PG"],
                 "constraints": {"as_of": "2019-12-29", "lookback_days": 252, "weight_max": 0.4, "max_turnover": 1.0}}
    state, _ = _run(_graph(), run_input)
    assert state["as_of_date"] == "2019-12-27"
    assert any("2019-12-29 is not a trading day" in n for n in state["notes"])
    assert AGENT.input_model.model_validate(_with(as_of="1991-08-01", lookback_days=252))


@pytest.mark.parametrize("bad,field", [
    ({"constraints": {**TECH_HEAVY["constraints"], "objective": "max_return"}}, "objective"),
    ({"constraints": {**TECH_HEAVY["constraints"], "weight_min": 0.3, "weight_max": 0.2}}, "weight_min"),
    ({"constraints": {**TECH_HEAVY["constraints"], "weight_max": 0.05}}, "weight_max"),
    ({"holdings": {"AAPL": -5}}, "short"),
    ({"holdings_basis": "weights"}, "portfolio_value_usd"),
    ({"cash_usd": -1}, "cash_usd"),
    ({"risk_budget": 3}, "risk_budget"),
    ({"holdings": {}, "candidates": []}, "no asset"),
    ({"as_of_prices_usd": None}, "as_of_prices_usd is required with holdings_basis 'shares'"),
    ({"as_of_prices_usd": {**PRICES_2019_12_31, "LLY": None}}, "as_of_prices_usd"),
    ({"as_of_prices_usd": {k: v for k, v in PRICES_2019_12_31.items() if k != "LLY"}}, r"no as-traded price for \['LLY'\]"),
    ({"as_of_prices_usd": {**PRICES_2019_12_31, "LLY": 0.0}}, "must be positive"),
    ({"as_of_prices_usd": {**PRICES_2019_12_31, "XOM": 57.0}}, r"\['XOM'\], which are neither holdings nor candidates"),
])
def test_malformed_input_names_the_field(bad, field):
    with pytest.raises(ValidationError, match=field):
        AGENT.input_model.model_validate({**TECH_HEAVY, **bad})


def test_holdings_given_as_weights_are_valued_at_the_stated_value_and_ordered_in_usd():
    run_input = {"holdings": {"JNJ": 0.5, "KO": 0.3}, "holdings_basis": "weights", "portfolio_value_usd": 1e6,
                 "candidates": ["PG", "WMT", "PEP"],
                 "constraints": {"as_of": "2021-06-30", "objective": "min_volatility", "max_turnover": 1.0}}
    state, _ = _run(_graph(), run_input)
    assert state["current_values_usd"] == {"JNJ": pytest.approx(0.5e6), "KO": pytest.approx(0.3e6)}
    assert state["current_cash_usd"] == pytest.approx(0.2e6)
    out = AGENT.output(state)
    assert out["portfolio_value_usd"] == pytest.approx(1e6)
    assert out["current_weights"]["CASH"] == pytest.approx(0.2)
    # no as-traded prices: USD orders, never shares sized at the adjusted closes
    assert out["order_units"] == "usd" and "ORDERS_IN_USD" in out["reasons"] and out["orders"]
    assert all(o["shares"] is None and o["price_usd"] is None for o in out["orders"])
    for o in out["orders"]:
        change = out["post_trade_weights"][o["ticker"]] - out["current_weights"].get(o["ticker"], 0.0)
        assert o["value_usd"] == pytest.approx(abs(change) * 1e6, abs=1.0)  # output weights have 6 decimals


def test_an_all_cash_portfolio_is_invested_in_the_candidates():
    run_input = {"cash_usd": 250_000.0, "candidates": ["KO", "PG", "JNJ", "WMT"],
                 "constraints": {"as_of": "2020-06-30", "objective": "min_volatility", "weight_max": 0.4,
                                 "max_turnover": 1.0}}
    out = AGENT.output(_run(_graph({"risk_limits": {"max_var_95_1d_pct": 5, "max_cvar_95_1d_pct": 8}}), run_input)[0])
    assert out["decision"] == "rebalance" and all(o["side"] == "buy" for o in out["orders"])
    assert out["current_weights"] == {"CASH": 1.0, "JNJ": 0.0, "KO": 0.0, "PG": 0.0, "WMT": 0.0}
    assert out["turnover_fraction"] == pytest.approx(1 - out["post_trade_weights"]["CASH"])
    assert 0 <= out["cash_after_usd"] < 0.01 * 250_000


def test_turnover_above_the_limit_waits_for_the_manager_approve_and_bad_answers():
    graph = _graph()
    state, cfg = _run(graph, _with(max_turnover=0.1))
    request = state["__interrupt__"][0].value
    assert request["kind"] == "portfolio_manager_signoff" and request["error"] is None
    assert request["decisions"] == ["approve", "reject"]
    (reason,) = request["reasons"]
    assert reason["code"] == "TURNOVER_ABOVE_LIMIT" and "one-way turnover" in reason["text"]
    facts = request["context"]
    assert facts["turnover_fraction"] > facts["max_turnover_fraction"] == 0.1
    assert facts["orders"] and facts["as_of_date"] == "2019-12-31"
    assert facts["risk_proposed"]["cvar_1d_pct"] < facts["risk_current"]["cvar_1d_pct"]
    assert "decision" not in graph.get_state(cfg).values
    again = graph.invoke(Command(resume={"decision": "ok", "reviewer": "pm-3"}), cfg)
    assert again["__interrupt__"][0].value["error"].startswith("decision:")
    again = graph.invoke(Command(resume={"decision": "approve", "reviewer": ""}), cfg)
    assert "reviewer" in again["__interrupt__"][0].value["error"]
    again = graph.invoke(Command(resume={"decision": "approve", "manager": "pm-3"}), cfg)
    assert "manager" in again["__interrupt__"][0].value["error"]  # the old field name is refused
    answer = {"decision": "approve", "reviewer": "pm-3", "note": "ok to trade"}
    jsonschema.validate(answer, request["answer_schema"])
    out = AGENT.output(graph.invoke(Command(resume=answer), cfg))
    assert out["decision"] == "rebalance" and out["orders"]
    assert out["reasons"][:3] == ["TARGET_MAX_SHARPE", "TURNOVER_ABOVE_LIMIT", "MANAGER_APPROVED"]
    assert out["review"] == answer
    assert out["narrative"].endswith("Manager pm-3: approve.")


def test_manager_rejection_sends_no_orders():
    graph = _graph()
    state, cfg = _run(graph, _with(max_turnover=0.1))
    assert "__interrupt__" in state
    out = AGENT.output(graph.invoke(Command(resume={"decision": "reject", "reviewer": "pm-4", "note": "too much"}), cfg))
    assert out["decision"] == "rejected" and "MANAGER_REJECTED" in out["reasons"]
    assert out["orders"] == [] and out["proposed_orders"]


def test_risk_limit_breach_needs_sign_off_even_within_the_turnover_limit():
    graph = _graph({"risk_limits": {"max_var_95_1d_pct": 0.5}})
    state, _ = _run(graph, _with(max_turnover=1.0))
    request = state["__interrupt__"][0].value
    (reason,) = request["reasons"]
    assert reason["code"] == "VAR_ABOVE_LIMIT" and "max_var_95_1d_pct" in reason["text"]
    assert request["context"]["risk_proposed"]["var_1d_pct"] > request["context"]["risk_limits"]["max_var_1d_pct"] == 0.5


def test_policy_reason_texts_are_required_and_can_be_reworded():
    graph = _graph({"risk_limits": {"max_var_95_1d_pct": 0.5}, "reason_texts": {"VAR_ABOVE_LIMIT": "VaR too high."}})
    state, _ = _run(graph, _with(max_turnover=1.0))
    assert state["__interrupt__"][0].value["reasons"] == [{"code": "VAR_ABOVE_LIMIT", "text": "VaR too high."}]
    with pytest.raises(ValueError, match="reason_texts: no text for CVAR_ABOVE_LIMIT"):
        AGENT.build_graph({"reason_texts": {"CVAR_ABOVE_LIMIT": None}})
    with pytest.raises(ValueError, match="risk_limit"):
        AGENT.build_graph({"risk_limit": {}})


def test_a_portfolio_already_at_its_target_is_held():
    graph = _graph()
    first, _ = _run(graph, _with(max_turnover=1.0), "first")
    reb = first["rebalance"]
    again = {**_with(max_turnover=1.0), "cash_usd": reb["cash_after_usd"],
             "holdings": {t: s for t, s in reb["post_trade_shares"].items() if s > 0}}
    out = AGENT.output(_run(graph, again, "second")[0])
    assert out["decision"] == "hold"
    assert out["reasons"][0] in ("DRIFT_BELOW_THRESHOLD", "NO_ORDERS_ABOVE_MIN_TRADE")
    assert out["orders"] == [] and out["turnover_fraction"] < 0.02


def test_fundamentals_csv_screens_out_failing_tickers(tmp_path):
    csv = tmp_path / "fundamentals_ILLUSTRATIVE_not_real.csv"
    # made-up numbers for the test: LLY fails the P/E rule, UNH the leverage rule
    csv.write_text("ticker,pe_ratio,dividend_yield_pct,debt_to_equity\n"
                   "LLY,95.0,1.2,1.0\nUNH,20.0,1.5,5.0\nPG,24.0,2.4,0.7\n")
    plain = AGENT.output(_run(_graph(), _with(max_turnover=1.0))[0])
    assert plain["target_weights"]["LLY"] > 0.01, "LLY is a max-Sharpe holding without the screen"
    out = AGENT.output(_run(_graph({"fundamentals_csv": str(csv)}), _with(max_turnover=1.0))[0])
    assert "FUNDAMENTAL_SCREEN_APPLIED" in out["reasons"]
    assert out["fundamentals"]["screen"]["LLY"]["reasons"] == ["PE_ABOVE_MAX"]
    assert out["fundamentals"]["screen"]["UNH"]["reasons"] == ["DEBT_TO_EQUITY_ABOVE_MAX"]
    assert out["fundamentals"]["screen"]["KO"]["reasons"] == ["NO_FUNDAMENTALS_DATA"]
    assert out["target_weights"]["LLY"] <= 1e-6 and out["target_weights"]["UNH"] <= 1e-6
    assert "FUNDAMENTAL_SCREEN_CAP" in out["weight_caps"]["LLY"]["reasons"]
    assert any("2 of 11 tickers failed (LLY, UNH)" in n for n in out["notes"])


def test_bearish_technical_signal_caps_the_weight():
    state, _ = _run(_graph(), {"holdings": {"BAC": 0.3, "JPM": 0.3, "XOM": 0.3}, "holdings_basis": "weights",
                               "portfolio_value_usd": 250_000.0,
                               "candidates": ["JNJ", "PG", "KO", "WMT", "UNH", "LLY", "MRK"],
                               "constraints": {"as_of": "2022-12-28", "weight_max": 0.3, "lookback_days": 504,
                                               "max_turnover": 1.0}})
    bearish = [t for t, s in state["technical"].items() if s["signal"] == "bearish"]
    assert bearish, "some of these names were in a down-trend with negative momentum at the end of 2022"
    for t in bearish:
        assert state["technical"][t]["trend"] == "down" and state["technical"][t]["momentum_12_1_pct"] < 0
        assert state["optimisation"]["weights"][t] <= 0.05 + 1e-6
    assert "BEARISH_TECHNICAL_CAPS" in state["reasons"]


def test_narrative_is_written_by_the_configured_llm(monkeypatch):
    seen = []

    def fake_model(name):
        seen.append(name)
        return None if name is None else GenericFakeChatModel(messages=iter([AIMessage("LLM summary.")]))

    monkeypatch.setattr(common_narrative, "get_chat_model", fake_model)
    graph = _graph()
    payload = AGENT.input_model.model_validate(_with(max_turnover=1.0)).model_dump(mode="json")
    state = graph.invoke(payload, {"configurable": {"thread_id": "llm", "model": "openai:gpt-4o-mini"}})
    assert state["narrative"] == "LLM summary." and state["narrative_source"] == "llm"
    assert seen == ["openai:gpt-4o-mini"]
    assert state["decision"] == "rebalance", "the LLM writes prose only; the decision is the tools'"


def test_demo_samples_resume_rule_and_summary():
    samples = AGENT.sample_inputs(7)
    assert len(samples) == 7 and AGENT.sample_inputs(0) == []
    for s in samples:
        AGENT.input_model.model_validate(s)
    assert samples[6]["constraints"]["as_of"] == "2020-12-31", "after the profiles, the same ones a year earlier"
    facts = {"risk_current": {"cvar_1d_pct": 3.0}, "risk_proposed": {"cvar_1d_pct": 2.5},
             "turnover_fraction": 0.4, "max_turnover_fraction": 0.3}
    approve = AGENT.resume_value({"context": facts}, samples[0])
    assert approve["decision"] == "approve" and approve["reviewer"] == "demo-pm@bank.example"
    assert AGENT.resume_value({"context": {**facts, "turnover_fraction": 0.5}}, samples[0])["decision"] == "reject"
    assert AGENT.resume_value({"context": {**facts, "risk_proposed": {"cvar_1d_pct": 3.1}}},
                              samples[0])["decision"] == "reject"
    # the demo has no as-traded prices: its holdings are weights of a stated value, its orders USD
    assert all(s["holdings_basis"] == "weights" and "as_of_prices_usd" not in s for s in samples)
    graph = _graph()
    outs, signed = [], 0
    for i, s in enumerate(samples[:6]):
        state, cfg = _run(graph, s, f"demo-{i}")
        if "__interrupt__" in state:
            signed += 1
            state = graph.invoke(Command(resume=AGENT.resume_value(state["__interrupt__"][0].value, s)), cfg)
        outs.append(AGENT.output(state))
    assert {o["decision"] for o in outs} == {"rebalance", "hold"} and signed >= 1
    assert all(o["walk_forward"]["status"] == "ok" for o in outs)
    line = AGENT.summarize(outs)
    assert line.startswith("portfolio management: 6 runs (") and "CVaR" in line
    assert "walk-forward excess vs equal weight" in line and "(6 runs)" in line

