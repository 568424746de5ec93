"""The portfolio agent's model-risk fixes on the shipped data: as-traded valuation, in-sample figures
labelled, an out-of-sample walk-forward after costs, costs and a turnover limit inside the
optimiser, and expected returns that do not drive it into corner solutions."""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import ValidationError
from pypfopt import EfficientFrontier, expected_returns

from reference_agents.portfolio_management import AGENT
from reference_agents.portfolio_management.policy import load_policy
from reference_agents.portfolio_management.tools import market_data
from reference_agents.portfolio_management.tools.backtest import walk_forward
from reference_agents.portfolio_management.tools.expected_returns import bayes_stein_returns
from reference_agents.portfolio_management.tools.optimise import Trading, optimise_weights, weight_bounds
from reference_agents.portfolio_management.tools.risk import shrinkage_covariance

TICKERS = market_data.known_tickers()
# Closing prices as traded on 2019-12-31, as a user supplies them.
PRICES_2019_12_31 = {"AAPL": 293.65, "MSFT": 157.70, "AMD": 45.86, "JNJ": 145.87, "KO": 55.35, "PG": 124.90}
BOOK = {"holdings": {"AAPL": 2000, "MSFT": 2000, "AMD": 10000}, "cash_usd": 50_000.0,
        "candidates": ["JNJ", "KO", "PG"], "as_of_prices_usd": PRICES_2019_12_31,
        "constraints": {"as_of": "2019-12-31", "objective": "max_sharpe", "weight_max": 0.35, "max_turnover": 1.0}}
CONSTRAINTS = {"objective": "max_sharpe", "weight_min": 0.0, "weight_max": 0.25, "risk_free_rate": 0.02,
               "lookback_days": 756, "max_turnover": 0.3}


def _state(run_input: dict) -> dict:
    graph = AGENT.build_graph({}).compile(checkpointer=InMemorySaver())
    payload = AGENT.input_model.model_validate(run_input).model_dump(mode="json")
    return graph.invoke(payload, {"configurable": {"thread_id": "t"}})


def _out(run_input: dict) -> dict:
    return AGENT.output(_state(run_input))


def _window(as_of: date, n: int = 756) -> pd.DataFrame:
    return market_data.price_window(TICKERS, market_data.as_of_position(as_of, n), n)


def test_shares_are_valued_and_ordered_at_as_traded_prices_never_at_the_adjusted_closes():
    adjusted = market_data.stock_prices().loc["2019-12-31", "AAPL"]
    assert adjusted == pytest.approx(71.712)  # the data: adjusted as of 2022, a quarter of the traded price
    out = _out(BOOK)
    value = 2000 * 293.65 + 2000 * 157.70 + 10000 * 45.86 + 50_000
    assert out["portfolio_value_usd"] == pytest.approx(value, abs=0.01)
    assert out["current_weights"]["AAPL"] == pytest.approx(2000 * 293.65 / value, abs=1e-6)
    assert out["order_units"] == "shares"
    assert out["orders"]
    for o in out["orders"]:
        assert o["price_usd"] == PRICES_2019_12_31[o["ticker"]]
        held = BOOK["holdings"].get(o["ticker"], 0)
        after = held + (o["shares"] if o["side"] == "buy" else -o["shares"])
        # whole shares at the traded price land on the target weight (AAPL at 71.71 would buy 4x the shares)
        assert after * o["price_usd"] / value == pytest.approx(out["target_weights"][o["ticker"]], abs=2e-3)


def test_shares_without_as_traded_prices_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match="as_of_prices_usd is required with holdings_basis 'shares'"):
        AGENT.input_model.model_validate({k: v for k, v in BOOK.items() if k != "as_of_prices_usd"})


def test_in_sample_figures_are_labelled_in_the_output_fields():
    out = _out(BOOK)
    for key in ("in_sample_expected_return_annual_pct", "in_sample_expected_volatility_annual_pct",
                "in_sample_expected_sharpe_ratio", "in_sample_expected_cost_annual_pct", "in_sample_benchmark"):
        assert key in out, key
    assert not {"benchmark", "expected_return_annual_pct", "expected_volatility_annual_pct",
                "expected_sharpe_ratio"} & set(out)
    assert out["in_sample_benchmark"]["end_date"] == "2019-12-31"


def test_walk_forward_is_reported_out_of_sample_after_costs():
    wf = _out(BOOK)["walk_forward"]
    assert wf["status"] == "ok" and wf["end_date"] == "2019-12-31"
    assert wf["rebalances"] == 20 and wf["n_days"] == 20 * 63 and wf["transaction_cost_bps"] == 10
    assert wf["strategy"]["cost_drag_annual_pct"] > 0 and wf["equal_weight"]["cost_drag_annual_pct"] > 0
    for side in ("strategy", "equal_weight", "index"):
        assert {"annualised_return_pct", "volatility_annual_pct", "sharpe_ratio", "max_drawdown_pct"} <= set(wf[side])


def test_walk_forward_equal_weight_side_matches_an_independent_replay():
    policy = load_policy()
    end_row = market_data.as_of_position(date(2019, 12, 31), 756)
    wf = walk_forward(TICKERS, end_row, 756, CONSTRAINTS, policy)
    prices = market_data.stock_prices()[TICKERS].to_numpy()
    periods, h, cost = wf["rebalances"], 63, policy["costs"]["transaction_cost_bps"] / 1e4
    equal = np.full(len(TICKERS), 1 / len(TICKERS))
    w, wealth = equal, 1.0
    for k in range(periods):
        row = end_row - (periods - k) * h
        growth = prices[row + h] / prices[row]
        wealth *= (1 - cost * np.abs(equal - w).sum()) * (equal @ growth)
        w = equal * growth / (equal @ growth)
    expected = 100 * (wealth ** (252 / (periods * h)) - 1)
    assert wf["equal_weight"]["annualised_return_pct"] == pytest.approx(expected, abs=1e-3)


def test_walk_forward_reads_nothing_after_the_as_of_date(monkeypatch):
    policy = load_policy()
    end_row = market_data.as_of_position(date(2015, 6, 30), 756)
    before = walk_forward(TICKERS, end_row, 756, CONSTRAINTS, policy)
    scrambled = market_data.stock_prices().copy()
    rng = np.random.default_rng(7)
    scrambled.iloc[end_row + 1 :] *= rng.uniform(0.2, 5.0, size=scrambled.iloc[end_row + 1 :].shape)
    index = market_data.index_prices().copy()
    index.iloc[end_row + 1 :] *= 3.0
    monkeypatch.setattr(market_data, "stock_prices", lambda: scrambled)
    monkeypatch.setattr(market_data, "index_prices", lambda: index)
    assert walk_forward(TICKERS, end_row, 756, CONSTRAINTS, policy) == before


def _problem(as_of: date = date(2019, 12, 31)):
    closes = _window(as_of)
    cov, _ = shrinkage_covariance(closes)
    return bayes_stein_returns(closes)[0], cov


def _one_way(res: dict, w0: dict) -> float:
    return 0.5 * sum(abs(res["weights"][t] - w0.get(t, 0.0)) for t in TICKERS)


@pytest.mark.parametrize("objective", ["max_sharpe", "min_volatility"])
def test_the_turnover_limit_and_costs_are_constraints_and_objectives_of_the_optimiser(objective):
    mu, cov = _problem()
    bounds, _ = weight_bounds(TICKERS, 0.0, 0.25, {})
    w0 = dict.fromkeys(TICKERS, 1 / len(TICKERS))
    free = optimise_weights(mu, cov, bounds, objective, 0.02, Trading(w0, 0.0, 0.0, 4.0, 1.0, 2.5))
    limited = optimise_weights(mu, cov, bounds, objective, 0.02, Trading(w0, 0.0, 0.0, 4.0, 0.1, 2.5))
    costly = optimise_weights(mu, cov, bounds, objective, 0.02, Trading(w0, 0.0, 0.005, 4.0, 1.0, 2.5))
    assert _one_way(free, w0) > 0.2
    assert _one_way(limited, w0) <= 0.1 + 1e-6 and limited["turnover_limit"]["reachable"]
    assert _one_way(costly, w0) < _one_way(free, w0) - 0.02
    assert costly["expected_cost_annual_pct"] == pytest.approx(100 * 0.005 * 4 * 2 * _one_way(costly, w0), abs=1e-3)


def test_net_max_sharpe_without_frictions_is_pypfopts_tangency_portfolio():
    mu, cov = _problem()
    bounds, _ = weight_bounds(TICKERS, 0.0, 0.25, {})
    ours = optimise_weights(mu, cov, bounds, "max_sharpe", 0.02, Trading({}, 0.0, 0.0, 4.0, 1.0, 2.5))
    ef = EfficientFrontier(mu, cov, weight_bounds=(0.0, 0.25), solver="CLARABEL")
    ef.max_sharpe(risk_free_rate=0.02)
    assert np.allclose([ours["weights"][t] for t in TICKERS], [ef.weights[i] for i in range(len(TICKERS))], atol=1e-4)


def test_a_limit_the_bounds_make_unreachable_trades_the_least_they_allow_and_asks_the_manager():
    state = _state({**BOOK, "constraints": {**BOOK["constraints"], "weight_max": 0.25, "max_turnover": 0.05}})
    # AAPL (~42 %) and AMD (~32 %) sit above the 25 % bound and cash (~3.5 %) must be invested: the
    # least one-way turnover is half of (the excess sold + what the clipped book lacks of 100 % + cash)
    now = state["rebalance"]["current_weights"]
    clipped = {t: min(w, 0.25) for t, w in now.items() if t != "CASH"}
    least = 0.5 * (sum(now[t] - c for t, c in clipped.items()) + (1 - sum(clipped.values())) + now["CASH"])
    assert least > 0.25
    assert state["optimisation"]["turnover_limit"]["reachable"] is False
    assert state["review_required"] == ["TURNOVER_ABOVE_LIMIT"]
    assert state["rebalance"]["turnover_fraction"] == pytest.approx(least, abs=0.003)
    assert any("force more than the turnover limit of 5%" in n for n in state["notes"])
    (reason,) = state["__interrupt__"][0].value["reasons"]
    assert reason["code"] == "TURNOVER_ABOVE_LIMIT"


def test_the_run_keeps_within_the_turnover_limit_without_a_sign_off():
    out = _out({**BOOK, "constraints": {**BOOK["constraints"], "max_turnover": 0.2}})
    assert out["decision"] == "rebalance" and out["review_required"] == []
    assert 0.1 < out["turnover_fraction"] <= 0.2


@pytest.mark.parametrize("year", range(1995, 2023, 3))
def test_expected_returns_avoid_corner_solutions_on_the_shipped_data(year):
    closes = _window(date(year, 12, 28))
    cov, _ = shrinkage_covariance(closes)
    bounds, _ = weight_bounds(TICKERS, 0.0, 1.0, {})
    free = Trading({}, 0.0, 0.0, 4.0, 1.0, 2.5)
    w = np.array(list(optimise_weights(bayes_stein_returns(closes)[0], cov, bounds, "max_sharpe", 0.02, free)["weights"].values()))
    assert w.max() < 0.4 and (w > 0.01).sum() >= 5
    if year in (2001, 2010, 2016, 2022):  # raw historical means concentrate the same problem
        raw = expected_returns.mean_historical_return(closes)
        w_raw = np.array(list(optimise_weights(raw, cov, bounds, "max_sharpe", 0.02, free)["weights"].values()))
        assert w_raw.max() > 0.5 and (w_raw > 0.01).sum() <= 4


def test_bayes_stein_matches_jorions_formula_computed_by_hand():
    closes = _window(date(2016, 6, 30), 504)[["AAPL", "JNJ", "XOM", "PG"]]
    r = closes.pct_change().iloc[1:].to_numpy()
    t, n = r.shape
    m = r.mean(axis=0)
    s = np.cov(r.T) * (t - 1) / (t - n - 2)
    inv = np.linalg.inv(s)
    mu0 = inv.sum(axis=0) @ m / inv.sum()
    w = (n + 2) / ((n + 2) + t * (m - mu0) @ inv @ (m - mu0))
    mu, weight = bayes_stein_returns(closes)
    assert weight == pytest.approx(w) and 0 < weight < 1
    assert mu.to_numpy() == pytest.approx(((1 - w) * m + w * mu0) * 252)
    assert mu.std() < (m * 252).std()  # shrunk toward a common mean


def test_no_corner_solution_from_the_agent_on_a_twenty_stock_book():
    out = _out({"holdings": dict.fromkeys(TICKERS, 0.05), "holdings_basis": "weights", "portfolio_value_usd": 1e7,
                "constraints": {"as_of": "2022-12-28", "objective": "max_sharpe", "weight_max": 1.0, "max_turnover": 1.0}})
    w = np.array(list(out["target_weights"].values()))
    assert w.max() < 0.4 and (w > 0.01).sum() >= 5
