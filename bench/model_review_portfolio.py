"""Portfolio management: the out-of-sample record of the agent's rebalancing rule, after costs.

Walk-forward over the whole shipped history (``tools.backtest.walk_forward``): every quarter the
rule (technical caps, Ledoit-Wolf covariance and Bayes-Stein expected returns over the last three
years, then the cost- and turnover-aware optimiser) sets a target from the weights the book has
drifted to, pays the costs, and holds; it never sees the days it is scored on. Reported against
the equal-weight book (same stocks, same dates, same costs: the fair benchmark) and the S&P 500
price index (no dividends: flattered comparison), with sensitivities to costs, the turnover limit
and the sub-period. Deterministic (no randomness); about a minute on 2 cores.
Run alone: ``python -m bench.model_review_portfolio``.
"""

from __future__ import annotations

import math
from functools import lru_cache

from reference_agents.portfolio_management.policy import load_policy
from reference_agents.portfolio_management.tools import market_data
from reference_agents.portfolio_management.tools.backtest import walk_forward

TICKERS = market_data.known_tickers()
BASE = {"objective": "max_sharpe", "weight_min": 0.0, "weight_max": 0.15, "risk_free_rate": 0.02,
        "lookback_days": 756, "max_turnover": 0.3}
HISTORY_DAYS = 756  # the lookback; at least the 400 days the moving averages need
ALL_PERIODS = 10_000  # as many quarters as the data hold


@lru_cache(maxsize=None)
def _run(objective: str = "max_sharpe", max_turnover: float = BASE["max_turnover"], cost_bps: float = 10,
         end_row: int | None = None, periods: int = ALL_PERIODS) -> dict:
    """One walk-forward of the rule (cached: the base case recurs in several sections)."""
    policy = load_policy({"costs": {"transaction_cost_bps": cost_bps}, "backtest": {"periods": periods}})
    end = len(market_data.stock_prices()) - 1 if end_row is None else end_row
    constraints = {**BASE, "objective": objective, "max_turnover": max_turnover}
    return walk_forward(TICKERS, end, HISTORY_DAYS, constraints, policy)


def _side(name: str, s: dict) -> str:
    extra = (f", turnover {s['mean_one_way_turnover_pct']:.1f}%/rebalance, costs {s['cost_drag_annual_pct']:.2f}%/yr"
             if "mean_one_way_turnover_pct" in s else "")
    return (f"    {name:<13} return {s['annualised_return_pct']:6.2f}%/yr, vol {s['volatility_annual_pct']:5.2f}%, "
            f"Sharpe {s['sharpe_ratio']:.3f}, max drawdown {s['max_drawdown_pct']:.1f}%{extra}")


def _report(title: str, wf: dict) -> list[str]:
    years = wf["n_days"] / 252
    ir = wf["information_ratio_vs_equal_weight"]
    return [
        f"  {title}: {wf['start_date']}..{wf['end_date']}, {wf['rebalances']} quarterly rebalances, "
        f"{wf['transaction_cost_bps']} bps costs",
        _side("rule", wf["strategy"]),
        _side("equal weight", wf["equal_weight"]),
        _side("S&P 500 (px)", wf["index"]),
        f"    vs equal weight: excess {wf['excess_return_vs_equal_weight_annual_pct']:+.2f}%/yr, tracking error "
        f"{wf['tracking_error_vs_equal_weight_annual_pct']:.2f}%, information ratio {ir:+.3f} "
        f"(t = IR x sqrt(years) = {ir * math.sqrt(years):+.2f}); vs price index {wf['excess_return_vs_index_annual_pct']:+.2f}%/yr",
        f"    optimiser's mean expected (in-sample) Sharpe {wf['in_sample_expected_sharpe_mean']:.3f} vs realised "
        f"{wf['strategy']['sharpe_ratio']:.3f}; fallbacks {wf['fallbacks']}, turnover limit unreachable "
        f"{wf['turnover_limit_unreachable']}",
    ]


def review() -> list[str]:
    """The lines a model validator asks for (see the module docstring)."""
    lines = [
        f"Walk-forward (out-of-sample) backtest of the rule on the {len(TICKERS)} shipped S&P 500 stocks "
        f"(survivors chosen in 2022: survivorship bias flatters every side alike); lookback "
        f"{BASE['lookback_days']} days, weights [{BASE['weight_min']}, {BASE['weight_max']}], turnover limit "
        f"{BASE['max_turnover']:.0%} one-way, risk-free {BASE['risk_free_rate']:.0%}; stocks total return, index price only.",
    ]
    for objective in ("max_sharpe", "min_volatility"):
        lines += _report(objective, _run(objective))
    end = len(market_data.stock_prices()) - 1
    half = _run()["rebalances"] // 2
    interval = load_policy()["rebalance"]["interval_days"]
    lines.append("Sub-periods (max_sharpe):")
    lines += _report("first half", _run(end_row=end - half * interval, periods=half))
    lines += _report("second half", _run(end_row=end, periods=half))
    lines.append("Sensitivity (max_sharpe; excess and information ratio vs equal weight):")
    for cost in (0, 10, 25, 50):
        wf = _run(cost_bps=cost)
        lines.append(f"  costs {cost:>2} bps: Sharpe {wf['strategy']['sharpe_ratio']:.3f} (equal weight "
                     f"{wf['equal_weight']['sharpe_ratio']:.3f}), excess {wf['excess_return_vs_equal_weight_annual_pct']:+.2f}%/yr, "
                     f"IR {wf['information_ratio_vs_equal_weight']:+.3f}, turnover {wf['strategy']['mean_one_way_turnover_pct']:.1f}%/rebalance")
    for limit in (0.1, 0.3, 1.0):
        wf = _run(max_turnover=limit)
        lines.append(f"  turnover limit {limit:.0%}: Sharpe {wf['strategy']['sharpe_ratio']:.3f}, excess "
                     f"{wf['excess_return_vs_equal_weight_annual_pct']:+.2f}%/yr, IR {wf['information_ratio_vs_equal_weight']:+.3f}, "
                     f"turnover {wf['strategy']['mean_one_way_turnover_pct']:.1f}%/rebalance")
    return lines


if __name__ == "__main__":
    print("\n".join(review()))
