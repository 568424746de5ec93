"""Portfolio-management tools on the real S&P 500 data: optimiser, risk, benchmark, signals, orders."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from reference_agents.portfolio_management.policy import load_policy
from reference_agents.portfolio_management.tools import market_data
from reference_agents.portfolio_management.tools.benchmark import (
    annualised_return,
    beta,
    compare_to_benchmark,
    max_drawdown,
    tracking_error,
)
from reference_agents.portfolio_management.tools.fundamentals import FundamentalsFileError, load_fundamentals, screen
from reference_agents.portfolio_management.tools.expected_returns import bayes_stein_returns
from reference_agents.portfolio_management.tools.optimise import (
    InfeasibleBoundsError,
    Trading,
    optimise_weights,
    weight_bounds,
)
from reference_agents.portfolio_management.tools.rebalance import one_way_turnover, rebalance_orders
from reference_agents.portfolio_management.tools.risk import (
    daily_returns,
    historical_var_cvar,
    portfolio_returns,
    shrinkage_covariance,
)
from reference_agents.portfolio_management.tools.technical import momentum_return, moving_average_state

TICKERS = market_data.known_tickers()
AS_OF_DATES = [date(2008, 12, 31), date(2015, 6, 30), date(2022, 12, 28)]
# No costs and no turnover limit: the classic problems.
FREE = Trading(current_weights={}, cash_weight=0.0, cost_rate=0.0, rebalances_per_year=4.0, max_turnover=1.0,
               risk_aversion=2.5)


def _mu(closes: pd.DataFrame) -> pd.Series:
    return bayes_stein_returns(closes)[0]


def _window(as_of: date, n: int = 756, tickers=TICKERS) -> pd.DataFrame:
    return market_data.price_window(tickers, market_data.as_of_position(as_of, n), n)


def test_data_is_the_copied_skfolio_dataset():
    prices, index = market_data.stock_prices(), market_data.index_prices()
    assert prices.shape == (8313, 20) and len(TICKERS) == 20
    assert market_data.data_range() == (date(1990, 1, 2), date(2022, 12, 28))
    assert prices.index.equals(index.index)
    assert not prices.isna().any().any() and (prices > 0).all().all()


@pytest.mark.parametrize("as_of", AS_OF_DATES)
@pytest.mark.parametrize("objective", ["max_sharpe", "min_volatility"])
@pytest.mark.parametrize("lo,hi", [(0.0, 0.2), (0.02, 0.1), (0.0, 1.0)])
def test_optimiser_weights_within_bounds_and_fully_invested(as_of, objective, lo, hi):
    closes = _window(as_of)
    cov, _ = shrinkage_covariance(closes)
    bounds, _ = weight_bounds(TICKERS, lo, hi, {})
    res = optimise_weights(_mu(closes), cov, bounds, objective, 0.02, FREE)
    w = np.array(list(res["weights"].values()))
    assert abs(w.sum() - 1.0) <= 1e-6
    assert (w >= lo - 1e-6).all() and (w <= hi + 1e-6).all()


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_min_volatility_is_no_riskier_than_max_sharpe_and_max_sharpe_has_the_higher_sharpe(as_of):
    closes = _window(as_of)
    cov, _ = shrinkage_covariance(closes)
    mu = _mu(closes)
    bounds, _ = weight_bounds(TICKERS, 0.0, 0.25, {})
    ms = optimise_weights(mu, cov, bounds, "max_sharpe", 0.02, FREE)
    mv = optimise_weights(mu, cov, bounds, "min_volatility", 0.02, FREE)
    # every shipped window has assets above the risk-free rate: a fallback here is an optimiser bug
    assert not ms["fallback"] and ms["objective_used"] == "max_sharpe"
    assert mv["volatility_annual_pct"] <= ms["volatility_annual_pct"] + 1e-6
    assert ms["sharpe_ratio"] >= mv["sharpe_ratio"] - 1e-4
    # the reported volatility is the covariance's own: sqrt(w' S w)
    w = np.array([mv["weights"][t] for t in TICKERS])
    assert np.sqrt(w @ cov.loc[TICKERS, TICKERS].to_numpy() @ w) * 100 == pytest.approx(mv["volatility_annual_pct"], abs=1e-3)


def test_max_sharpe_falls_back_to_min_volatility_when_no_asset_beats_the_risk_free_rate():
    closes = _window(date(2009, 3, 9), 252)  # a year of the 2008-09 crash
    cov, _ = shrinkage_covariance(closes)
    mu = _mu(closes)
    bounds, _ = weight_bounds(TICKERS, 0.0, 0.3, {})
    res = optimise_weights(mu, cov, bounds, "max_sharpe", float(mu.max()) + 0.01, FREE)
    assert res["fallback"] and res["objective_used"] == "min_volatility"


def test_weight_caps_lower_the_upper_bound_and_are_dropped_when_infeasible():
    bounds, dropped = weight_bounds(["A", "B", "C", "D"], 0.0, 0.5, {"A": 0.05, "B": 0.0})
    assert not dropped and bounds["A"] == (0.0, 0.05) and bounds["B"] == (0.0, 0.0) and bounds["C"] == (0.0, 0.5)
    bounds, dropped = weight_bounds(["A", "B", "C"], 0.1, 0.5, {"A": 0.0})
    assert bounds["A"] == (0.1, 0.1), "a cap never goes below weight_min"
    bounds, dropped = weight_bounds(["A", "B", "C"], 0.0, 0.5, {"A": 0.05, "B": 0.05})
    assert dropped and all(hi == 0.5 for _, hi in bounds.values())
    with pytest.raises(InfeasibleBoundsError, match="3 assets"):
        weight_bounds(["A", "B", "C"], 0.0, 0.3, {})


@pytest.mark.parametrize("as_of", AS_OF_DATES)
def test_shrinkage_covariance_is_psd_and_shrinks_toward_the_identity_target(as_of):
    closes = _window(as_of)
    cov, delta = shrinkage_covariance(closes)
    assert np.allclose(cov.to_numpy(), cov.to_numpy().T)
    assert np.linalg.eigvalsh(cov.to_numpy()).min() > 0
    assert 0.0 < delta < 1.0
    sample = np.cov(daily_returns(closes).to_numpy(), rowvar=False, ddof=0) * 252
    target = np.eye(len(TICKERS)) * np.trace(sample) / len(TICKERS)
    assert np.allclose(cov.to_numpy(), (1 - delta) * sample + delta * target)


def _var_cvar_by_hand(r: np.ndarray, confidence: float) -> tuple[float, float]:
    """Type-7 (Hyndman & Fan) quantile by explicit interpolation, then the tail mean."""
    x = np.sort(r)
    h = (len(x) - 1) * (1 - confidence)
    lo = int(np.floor(h))
    q = x[lo] + (h - lo) * (x[min(lo + 1, len(x) - 1)] - x[lo])
    tail = [v for v in x if v <= q]
    return -q, -sum(tail) / len(tail)


@pytest.mark.parametrize("as_of", AS_OF_DATES)
@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_historical_var_cvar_match_an_independent_computation(as_of, confidence):
    returns = daily_returns(_window(as_of))
    weights = {"AAPL": 0.3, "JNJ": 0.3, "XOM": 0.2, "CASH": 0.2}
    r = portfolio_returns(returns, weights)
    by_hand = (returns["AAPL"] * 0.3 + returns["JNJ"] * 0.3 + returns["XOM"] * 0.2).to_numpy()
    assert np.allclose(r.to_numpy(), by_hand)
    var, cvar = historical_var_cvar(r, confidence)
    exp_var, exp_cvar = _var_cvar_by_hand(by_hand, confidence)
    assert var == pytest.approx(exp_var, rel=1e-12)
    assert cvar == pytest.approx(exp_cvar, rel=1e-12)
    assert 0 < var <= cvar


def test_var_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        historical_var_cvar(np.array([]))
    with pytest.raises(ValueError, match="confidence"):
        historical_var_cvar(np.array([0.01, -0.02]), 1.5)


def test_index_against_itself_has_beta_one_and_no_tracking_error():
    row = market_data.as_of_position(date(2020, 12, 31), 756)
    index = market_data.index_window(row, 756)
    r = index.pct_change().iloc[1:]
    res = compare_to_benchmark(r, index, 0.02)
    assert res["beta"] == pytest.approx(1.0, abs=1e-12)
    assert res["tracking_error_annual_pct"] == pytest.approx(0.0, abs=1e-9)
    assert res["portfolio"] == res["benchmark"]
    # 2018-2020 contains the Covid crash: the index fell about 34% peak to trough
    assert 30 < res["benchmark"]["max_drawdown_pct"] < 36
    expected = (index.iloc[-1] / index.iloc[0]) ** (252 / 756) - 1
    assert res["benchmark"]["annualised_return_pct"] == pytest.approx(100 * expected, abs=1e-3)


def test_benchmark_formulas_on_known_series():
    assert max_drawdown(np.array([0.1, -0.5, 0.2])) == pytest.approx(0.5)
    assert max_drawdown(np.array([-0.2, 0.1])) == pytest.approx(0.2), "the start counts as a peak"
    assert annualised_return(np.full(252, 0.001)) == pytest.approx(1.001 ** 252 - 1)
    b = np.array([0.01, -0.02, 0.015, 0.0, -0.005])
    assert beta(2 * b, b) == pytest.approx(2.0)
    assert tracking_error(b + 0.001, b) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="length"):
        beta(b, b[:3])


def test_momentum_and_moving_average_crossover_on_a_constructed_series():
    up = pd.Series(np.linspace(100, 200, 300))
    assert momentum_return(up) == pytest.approx(up.iloc[-22] / up.iloc[-253] - 1)
    state = moving_average_state(up)
    assert state["trend"] == "up" and state["last_crossover"] is None
    # rising then falling: the 50-day average drops below the 200-day one -> death cross
    series = pd.Series(np.concatenate([np.linspace(100, 200, 250), np.linspace(200, 120, 150)]))
    state = moving_average_state(series)
    assert state["trend"] == "down" and state["last_crossover"] == "death_cross"
    fast, slow = series.rolling(50).mean(), series.rolling(200).mean()
    k = len(series) - 1 - state["days_since_crossover"]
    assert fast[k] <= slow[k] and fast[k - 1] > slow[k - 1]
    with pytest.raises(ValueError, match="200 closes"):
        moving_average_state(series.iloc[:150])


def test_rebalance_orders_reach_the_target_in_whole_shares_without_leverage():
    prices = {"AAPL": 129.93, "JNJ": 176.65, "XOM": 110.3, "KO": 63.6}
    shares = {"AAPL": 500.0, "JNJ": 100.0, "XOM": 10.0}
    target = {"AAPL": 0.25, "JNJ": 0.25, "XOM": 0.25, "KO": 0.25}
    res = rebalance_orders(shares, prices, 5_000.0, target, min_trade_usd=1_000.0, whole_units=True)
    value = sum(s * prices[t] for t, s in shares.items()) + 5_000.0
    assert res["portfolio_value_usd"] == pytest.approx(value, abs=0.01)
    assert res["cash_after_usd"] >= 0
    for o in res["orders"]:
        assert isinstance(o["shares"], int) and o["shares"] > 0 and o["value_usd"] >= 1_000.0
        assert o["value_usd"] == pytest.approx(o["shares"] * prices[o["ticker"]], abs=0.01)
    for t, w in target.items():  # within one share (plus the cash cut) of the target
        assert abs(res["post_trade_weights"][t] - w) < 2 * prices[t] / value
    sides = {o["ticker"]: o["side"] for o in res["orders"]}
    assert sides == {"AAPL": "sell", "JNJ": "buy", "XOM": "buy", "KO": "buy"}
    assert "NEW_POSITION" in next(o for o in res["orders"] if o["ticker"] == "KO")["reasons"]
    assert res["turnover_fraction"] == pytest.approx(one_way_turnover(res["current_weights"], res["post_trade_weights"]))


def test_rebalance_in_usd_units_reaches_the_target_to_the_cent():
    values = {"AAPL": 60_000.0, "JNJ": 30_000.0}
    target = {"AAPL": 0.4, "JNJ": 0.3, "KO": 0.3}
    res = rebalance_orders(values, dict.fromkeys(target, 1.0), 10_000.0, target, min_trade_usd=1_000.0,
                           whole_units=False)
    assert res["post_trade_shares"] is None
    assert {(o["ticker"], o["side"], o["value_usd"]) for o in res["orders"]} == {
        ("AAPL", "sell", 20_000.0), ("KO", "buy", 30_000.0)}  # JNJ is on target
    assert all(o["shares"] is None and o["price_usd"] is None for o in res["orders"])
    assert res["cash_after_usd"] == pytest.approx(0.0, abs=0.01)
    assert res["post_trade_weights"]["KO"] == pytest.approx(0.3)


def test_rebalance_skips_small_trades_and_never_overspends_cash():
    prices = {"A": 100.0, "B": 50.0}
    # B is 5 USD under target: below the minimum trade, stays; A needs a buy the cash cannot fully fund
    res = rebalance_orders({"A": 0.0, "B": 100.0}, prices, 5_000.0, {"A": 0.5, "B": 0.5}, 500.0, True)
    assert res["cash_after_usd"] >= 0
    assert [o["ticker"] for o in res["orders"]] == ["A"]
    res = rebalance_orders({"A": 10.0, "B": 10.0}, prices, 0.0, {"A": 0.5, "B": 0.5}, 1_000.0, True)
    assert res["orders"] == [] and res["skipped_orders"] and res["skipped_orders"][0]["reason"] == "BELOW_MIN_TRADE"


def test_one_way_turnover_of_a_full_switch_is_one():
    assert one_way_turnover({"A": 1.0, "CASH": 0.0}, {"B": 1.0}) == pytest.approx(1.0)
    assert one_way_turnover({"CASH": 1.0}, {"A": 0.5, "CASH": 0.5}) == pytest.approx(0.5)


def test_fundamentals_screen_and_file_errors(tmp_path):
    csv = tmp_path / "fundamentals_ILLUSTRATIVE.csv"
    csv.write_text("ticker,pe_ratio,dividend_yield_pct,debt_to_equity\n"
                   "aapl,25,0.6,1.5\nAMD,90,,0.1\nGE,-4,0.3,4.2\nKO,,3.0,\n")
    data = load_fundamentals(csv)
    res = screen(data, ["AAPL", "AMD", "GE", "KO", "JNJ"], load_policy()["fundamentals"])
    assert res["AAPL"]["passed"] and res["KO"]["passed"]
    assert res["AMD"]["reasons"] == ["PE_ABOVE_MAX"]
    assert res["GE"]["reasons"] == ["NEGATIVE_EARNINGS", "DEBT_TO_EQUITY_ABOVE_MAX"]
    assert res["JNJ"] == {"passed": True, "reasons": ["NO_FUNDAMENTALS_DATA"], "pe_ratio": None,
                          "dividend_yield_pct": None, "debt_to_equity": None}
    with pytest.raises(FundamentalsFileError, match="does not exist"):
        load_fundamentals(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,pe_ratio\nAAPL,20\n")
    with pytest.raises(FundamentalsFileError, match="'ticker'"):
        load_fundamentals(bad)
    bad.write_text("ticker,pe_ratio\nAAPL,twenty\n")
    with pytest.raises(FundamentalsFileError, match="not numeric"):
        load_fundamentals(bad)


def test_market_data_errors_name_the_valid_range_and_tickers():
    with pytest.raises(market_data.MarketDataError, match=r"1990-01-02\.\.2022-12-28"):
        market_data.as_of_position(date(2023, 3, 1), 756)
    with pytest.raises(market_data.MarketDataError, match=r"usable range 1992-12-28\.\.2022-12-28"):
        market_data.as_of_position(date(1991, 1, 2), 756)
    with pytest.raises(market_data.MarketDataError, match="TSLA.*AAPL, AMD"):
        market_data.check_tickers(["AAPL", "TSLA"])


def test_policy_overrides_merge_and_typos_are_refused():
    policy = load_policy({"risk_limits": {"max_var_95_1d_pct": 9.0}})
    assert policy["risk_limits"]["max_var_95_1d_pct"] == 9.0
    assert policy["risk_limits"]["max_cvar_95_1d_pct"] == load_policy()["risk_limits"]["max_cvar_95_1d_pct"]
    with pytest.raises(ValueError, match="risk_limit"):
        load_policy({"risk_limit": {}})
    with pytest.raises(ValueError, match="risk_limits.max_var_pct"):
        load_policy({"risk_limits": {"max_var_pct": 3.0}})
