"""Walk-forward (out-of-sample) backtest of the agent's own rebalancing rule.

At each rebalance date the rule sees only the data up to that date: technical caps, Ledoit-Wolf
covariance and Bayes-Stein expected returns over the lookback window, then the cost- and
turnover-aware optimiser from the weights the portfolio has drifted to. The target is bought
(paying the proportional cost on the traded value) and held, drifting with the market, for
``interval_days`` trading days; then the window rolls forward. The returns of these holding
periods are out of sample: no weight was chosen with data from the days it is scored on.

Compared over the same days with (a) the equal-weight portfolio of the same tickers, rebalanced
back to 1/N on the same dates with the same costs (DeMiguel, Garlappi & Uppal 2009, "Optimal
Versus Naive Diversification", Rev. Financial Studies 22(5): the benchmark a mean-variance rule
must beat; same total-return data, so a fair comparison), and (b) the S&P 500 price index (no
dividends: excess return over it is flattered by about its dividend yield, ~2 % a year).
Both portfolios start from equal weights at the first rebalance date. The fundamentals screen
is not replayed: the user's CSV describes today, and applying it to past dates would look ahead.
Walk-forward analysis as in Pardo (2008), "The Evaluation and Optimization of Trading
Strategies" (2nd ed.), ch. 11.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reference_agents.portfolio_management.tools import market_data
from reference_agents.portfolio_management.tools.benchmark import performance_summary
from reference_agents.portfolio_management.tools.expected_returns import bayes_stein_returns
from reference_agents.portfolio_management.tools.optimise import Trading, optimise_weights, weight_bounds
from reference_agents.portfolio_management.tools.risk import (
    TRADING_DAYS_PER_YEAR,
    annualised_volatility,
    shrinkage_covariance,
)
from reference_agents.portfolio_management.tools.technical import technical_signals


def _rule_target(prices: pd.DataFrame, row: int, weights: dict[str, float], constraints: dict, policy: dict) -> dict:
    """The agent's target at ``row`` from ``weights``, using rows up to ``row`` only."""
    tech = policy["technical"]
    n_tech = max(tech["momentum_lookback_days"] + 1, 2 * tech["sma_slow_days"])
    signals = technical_signals(prices.iloc[row - n_tech + 1 : row + 1], tech)
    caps = {t: tech["bearish_weight_cap"] for t, s in signals.items() if s["signal"] == "bearish"}
    bounds, _ = weight_bounds(list(prices.columns), constraints["weight_min"], constraints["weight_max"], caps)
    window = prices.iloc[row - constraints["lookback_days"] : row + 1]
    cov, _ = shrinkage_covariance(window)
    mu, _ = bayes_stein_returns(window)
    trading = Trading.from_policy(weights, 0.0, constraints["max_turnover"], policy)
    return optimise_weights(mu, cov, bounds, constraints["objective"], constraints["risk_free_rate"], trading)


def _hold(prices: pd.DataFrame, row: int, days: int, weights: np.ndarray, cost: float) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns of ``weights`` bought at ``row``'s close (paying ``cost``, a fraction of value)
    and held ``days`` days, and the weights they drift to."""
    growth = (prices.iloc[row + 1 : row + days + 1] / prices.iloc[row]).to_numpy()
    wealth = (1.0 - cost) * growth @ weights
    returns = wealth / np.concatenate([[1.0], wealth[:-1]]) - 1.0
    drifted = weights * growth[-1]
    return returns, drifted / drifted.sum()


def _side(side: dict, rf: float, years: float) -> dict:
    return {**performance_summary(np.concatenate(side["returns"]), rf),
            "mean_one_way_turnover_pct": round(100.0 * float(np.mean(side["turnovers"])), 4),
            "cost_drag_annual_pct": round(100.0 * sum(side["costs"]) / years, 4)}


def walk_forward(tickers: list[str], end_row: int, history_days: int, constraints: dict, policy: dict) -> dict:
    """Out-of-sample performance of the agent's rule over the periods ending at row ``end_row``.

    Args:
        tickers: the universe (columns of :func:`~.market_data.stock_prices`).
        end_row: row of the as-of date; nothing after it is read.
        history_days: trading days the rule needs before a rebalance date (lookback, moving averages).
        constraints: the run's ``objective``, ``weight_min``, ``weight_max``, ``risk_free_rate``
            (annual fraction, also used for every Sharpe ratio), ``lookback_days`` and
            ``max_turnover`` (the limit in force, one-way fraction).
        policy: the agent's policy (``costs``, ``rebalance.interval_days``, ``backtest``,
            ``optimiser``, ``technical``).

    Returns:
        ``{"status": "ok", "start_date", "end_date", "n_days", "rebalances", "interval_days",
        "lookback_days", "transaction_cost_bps", "strategy", "equal_weight", "index",
        "excess_return_vs_equal_weight_annual_pct", "excess_return_vs_index_annual_pct",
        "tracking_error_vs_equal_weight_annual_pct", "information_ratio_vs_equal_weight" (mean
        daily active return x 252 / tracking error), "in_sample_expected_sharpe_mean",
        "fallbacks", "turnover_limit_unreachable"}``: the
        strategy and equal-weight sides have ``annualised_return_pct``, ``volatility_annual_pct``,
        ``sharpe_ratio``, ``max_drawdown_pct`` (after costs), ``mean_one_way_turnover_pct`` (per
        rebalance) and ``cost_drag_annual_pct``; the index side the first four (price index).
        ``in_sample_expected_sharpe_mean`` is the mean Sharpe ratio the optimiser expected at the
        rebalances (set against the realised one, it measures the estimates' optimism).
        ``{"status": "insufficient_history", "rebalances", "min_rebalances"}`` when fewer than
        ``backtest.min_periods`` periods fit in the data before ``end_row``.
    """
    interval, bt = policy["rebalance"]["interval_days"], policy["backtest"]
    periods = min(bt["periods"], (end_row - history_days) // interval)
    if periods < bt["min_periods"]:
        return {"status": "insufficient_history", "rebalances": max(periods, 0), "min_rebalances": bt["min_periods"]}
    prices = market_data.stock_prices()[tickers]
    cost_rate = policy["costs"]["transaction_cost_bps"] / 10_000.0
    n = len(tickers)
    equal = np.full(n, 1.0 / n)
    strat = {"weights": equal, "returns": [], "turnovers": [], "costs": []}
    ew = {"weights": equal, "returns": [], "turnovers": [], "costs": []}
    expected_sharpe, fallbacks, unreachable = [], 0, 0
    first = end_row - periods * interval
    for k in range(periods):
        row = first + k * interval
        res = _rule_target(prices, row, dict(zip(tickers, strat["weights"])), constraints, policy)
        expected_sharpe.append(res["sharpe_ratio"] or 0.0)
        fallbacks += res["fallback"] is not None
        unreachable += not res["turnover_limit"]["reachable"]
        for side, target in ((strat, np.array([res["weights"][t] for t in tickers])), (ew, equal)):
            traded = float(np.abs(target - side["weights"]).sum())
            side["turnovers"].append(traded / 2)
            side["costs"].append(cost_rate * traded)
            returns, side["weights"] = _hold(prices, row, interval, target, cost_rate * traded)
            side["returns"].append(returns)
    rf = constraints["risk_free_rate"]
    n_days = periods * interval
    years = n_days / TRADING_DAYS_PER_YEAR
    index = market_data.index_prices().iloc[first : end_row + 1].pct_change().iloc[1:].to_numpy()
    s_side, e_side = _side(strat, rf, years), _side(ew, rf, years)
    i_side = performance_summary(index, rf)
    active = np.concatenate(strat["returns"]) - np.concatenate(ew["returns"])
    te = annualised_volatility(active)
    dates = prices.index
    return {
        "status": "ok",
        "start_date": dates[first + 1].date().isoformat(),
        "end_date": dates[end_row].date().isoformat(),
        "n_days": n_days,
        "rebalances": periods,
        "interval_days": interval,
        "lookback_days": constraints["lookback_days"],
        "transaction_cost_bps": policy["costs"]["transaction_cost_bps"],
        "strategy": s_side,
        "equal_weight": e_side,
        "index": i_side,
        "excess_return_vs_equal_weight_annual_pct": round(s_side["annualised_return_pct"] - e_side["annualised_return_pct"], 4),
        "excess_return_vs_index_annual_pct": round(s_side["annualised_return_pct"] - i_side["annualised_return_pct"], 4),
        "tracking_error_vs_equal_weight_annual_pct": round(100.0 * te, 4),
        "information_ratio_vs_equal_weight": round(float(active.mean()) * TRADING_DAYS_PER_YEAR / te, 4) if te > 0 else None,
        "in_sample_expected_sharpe_mean": round(float(np.mean(expected_sharpe)), 4),
        "fallbacks": fallbacks,
        "turnover_limit_unreachable": unreachable,
    }
