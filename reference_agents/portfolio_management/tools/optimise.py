"""Mean-variance optimisation net of trading costs and within a turnover limit.

Costs and turnover are part of the problem, not an afterthought. Moving from the current weights
``w0`` to ``w`` costs ``k * ||w - w0||_1`` (proportional cost ``k`` on every buy and sell),
amortised over the expected holding period so that it is in the same annual units as the
expected return (``k_annual = k x rebalances a year``); the one-way turnover limit ``T`` is the
constraint ``||w - w0||_1 <= 2 T - cash0`` (cash included, as in
:func:`~.rebalance.one_way_turnover`; the target is fully invested).

- ``min_volatility``: PyPortfolioOpt's ``EfficientFrontier.min_volatility`` with
  ``objective_functions.transaction_cost`` added (``k = 2 k_annual / delta``: the mean-variance
  utility ``delta / 2 * variance + cost`` without return views, ``delta`` the risk aversion) and
  the turnover limit through ``add_constraint``.
- ``max_sharpe``: the Sharpe ratio net of costs, ``((mu - rf)' w - k_annual ||w - w0||_1) /
  sqrt(w' S w)``, maximised exactly as one convex problem by the Charnes-Cooper substitution
  ``y = s w`` (``s > 0``): minimise ``y' S y`` subject to ``(mu - rf)' y - k_annual ||y - s w0||_1
  >= 1``, ``sum(y) = s``, ``s lows <= y <= s highs`` and ``||y - s w0||_1 <= (2 T - cash0) s``;
  then ``w = y / s``. Written in cvxpy, because PyPortfolioOpt's ``max_sharpe`` applies the same
  substitution without scaling added objectives or non-homogeneous constraints (it warns that
  they "may not work as expected"); without costs and turnover limit the two agree (tested).

Sources: Markowitz (1952), "Portfolio Selection", J. Finance 7(1); Cornuejols & Tutuncu (2006),
"Optimization Methods in Finance", sect. 8.2 (the substitution); proportional costs in
mean-variance: Lobo, Fazel & Boyd (2007), "Portfolio optimization with linear and fixed
transaction costs", Annals of Operations Research 152.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import pandas as pd
from pypfopt import EfficientFrontier, objective_functions

from reference_agents.portfolio_management.tools.risk import TRADING_DAYS_PER_YEAR

OBJECTIVES = ("max_sharpe", "min_volatility")
# Solver slack: a problem whose turnover budget equals its smallest possible turnover has a
# single feasible point, which interior-point solvers report as infeasible.
_L1_SLACK = 1e-6


class InfeasibleBoundsError(ValueError):
    """The weight bounds admit no fully invested portfolio (sum of lows > 1 or of highs < 1)."""


@dataclass(frozen=True)
class Trading:
    """Where the portfolio starts and what trading it costs.

    Attributes:
        current_weights: ``{ticker: fraction of portfolio value}`` now (tickers of the problem;
            missing ones are 0).
        cash_weight: fraction of value held in cash now (the target holds none).
        cost_rate: proportional cost, fraction of traded value per trade (0.001 = 10 bps).
        rebalances_per_year: how often the portfolio is expected to be rebalanced; the cost of one
            rebalance is spread over the interval (annual cost = cost x rebalances a year).
        max_turnover: one-way turnover limit (fraction of value, cash included).
        risk_aversion: ``delta`` of the min-volatility utility (variance vs cost).
    """

    current_weights: dict[str, float]
    cash_weight: float
    cost_rate: float
    rebalances_per_year: float
    max_turnover: float
    risk_aversion: float

    @classmethod
    def from_policy(cls, current_weights: dict[str, float], cash_weight: float, max_turnover: float,
                    policy: dict) -> "Trading":
        """The terms the policy sets: ``costs.transaction_cost_bps``, ``rebalance.interval_days``
        (252 / it rebalances a year), ``optimiser.risk_aversion``, and the turnover limit less
        ``optimiser.turnover_buffer`` (room for whole-share rounding of the orders)."""
        opt = policy["optimiser"]
        return cls(current_weights=current_weights, cash_weight=cash_weight,
                   cost_rate=policy["costs"]["transaction_cost_bps"] / 10_000.0,
                   rebalances_per_year=TRADING_DAYS_PER_YEAR / policy["rebalance"]["interval_days"],
                   max_turnover=max(0.0, max_turnover - opt["turnover_buffer"]),
                   risk_aversion=opt["risk_aversion"])


def weight_bounds(
    tickers: list[str], weight_min: float, weight_max: float, caps: dict[str, float]
) -> tuple[dict[str, tuple[float, float]], bool]:
    """Per-ticker ``(low, high)`` bounds, with signal/screen ``caps`` lowering some highs.

    A cap never goes below ``weight_min``. If the capped highs sum below 1 (no fully invested
    portfolio fits, e.g. every asset is bearish), the caps carry no relative information and
    are dropped: all highs are ``weight_max``.

    Returns:
        ``(bounds, dropped)``; ``dropped`` tells whether the caps had to be dropped.

    Raises:
        InfeasibleBoundsError: even without caps, ``n * weight_min > 1`` or ``n * weight_max < 1``.
    """
    n = len(tickers)
    if n * weight_min > 1.0 + 1e-12 or n * weight_max < 1.0 - 1e-12:
        raise InfeasibleBoundsError(
            f"weight bounds [{weight_min}, {weight_max}] cannot hold a fully invested portfolio of {n} assets"
        )
    highs = {t: max(weight_min, min(weight_max, caps[t])) if t in caps else weight_max for t in tickers}
    dropped = sum(highs.values()) < 1.0 - 1e-12
    if dropped:
        highs = dict.fromkeys(tickers, weight_max)
    return {t: (weight_min, highs[t]) for t in tickers}, dropped


def max_feasible_return(mu: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> float:
    """Highest ``mu @ w`` over fully invested ``w`` within the bounds (greedy solution of the LP:
    start from the lows, fill the best-returning assets up to their highs)."""
    w = lows.astype(float).copy()
    room = 1.0 - w.sum()
    for i in np.argsort(-mu):
        add = min(highs[i] - w[i], room)
        w[i] += add
        room -= add
    return float(mu @ w)


def min_l1_change(w0: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> float:
    """Smallest ``||w - w0||_1`` over fully invested ``w`` within the bounds.

    Clip ``w0`` into the bounds (a distance no feasible ``w`` avoids), then the sum still missing
    or in excess must be bought or sold somewhere: ``sum|clip(w0) - w0| + |1 - sum clip(w0)|``.
    """
    clipped = np.clip(w0, lows, highs)
    return float(np.abs(clipped - w0).sum() + abs(1.0 - clipped.sum()))


def _project_to_bounds(w: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Clip solver output into the bounds and restore sum 1 using the remaining slack."""
    w = np.clip(w, lows, highs)
    residual = 1.0 - w.sum()
    slack = highs - w if residual > 0 else w - lows
    if abs(residual) > 0 and slack.sum() > 0:
        w = w + np.sign(residual) * abs(residual) * slack / slack.sum()
    return w


def _min_volatility(mu: pd.Series, cov: pd.DataFrame, lows, highs, w0: np.ndarray, cost_k: float,
                    l1_budget: float | None) -> np.ndarray:
    # Clarabel (interior point) rather than cvxpy's default OSQP, which stops at its iteration
    # limit on near-degenerate problems (e.g. bounds binding on most assets).
    ef = EfficientFrontier(mu, cov, weight_bounds=list(zip(lows, highs)), solver="CLARABEL")
    if cost_k > 0:
        ef.add_objective(objective_functions.transaction_cost, w_prev=w0, k=cost_k)
    if l1_budget is not None:
        ef.add_constraint(lambda w: cp.norm(w - w0, 1) <= l1_budget)
    ef.min_volatility()
    return np.array([ef.weights[i] for i in range(len(w0))])


def _max_sharpe_net(mu: np.ndarray, cov: np.ndarray, lows, highs, w0: np.ndarray, risk_free_rate: float,
                    cost_annual: float, l1_budget: float | None) -> np.ndarray | None:
    """The net-of-cost max-Sharpe weights (module docstring), or ``None`` when no portfolio within
    the constraints expects a return above the risk-free rate net of costs."""
    y, s = cp.Variable(len(mu)), cp.Variable(nonneg=True)
    move = cp.norm(y - s * w0, 1)
    constraints = [cp.sum(y) == s, y >= s * lows, y <= s * highs,
                   (mu - risk_free_rate) @ y - cost_annual * move >= 1]
    if l1_budget is not None:
        constraints.append(move <= l1_budget * s)
    problem = cp.Problem(cp.Minimize(cp.quad_form(y, cp.psd_wrap(cov))), constraints)
    problem.solve(solver="CLARABEL")
    if problem.status not in ("optimal", "optimal_inaccurate") or not s.value or s.value <= 0:
        return None
    return y.value / s.value


def optimise_weights(
    mu: pd.Series,
    cov: pd.DataFrame,
    bounds: dict[str, tuple[float, float]],
    objective: str,
    risk_free_rate: float,
    trading: Trading,
) -> dict:
    """Target weights on the efficient frontier, net of amortised costs, within the turnover limit.

    Args:
        mu: expected annual returns (fraction) per ticker.
        cov: annualised covariance, same tickers.
        bounds: ``{ticker: (low, high)}`` weight bounds (fractions).
        objective: ``"max_sharpe"`` or ``"min_volatility"``.
        risk_free_rate: annual, fraction.
        trading: the current weights, cost and turnover limit (:class:`Trading`).

    Returns:
        ``{"weights": {ticker: w}, "objective_used", "expected_return_annual_pct" (gross),
        "expected_cost_annual_pct" (the move's cost x rebalances a year), "volatility_annual_pct",
        "sharpe_ratio" (net of that cost), "fallback", "turnover_limit"}``. Weights lie in their
        bounds and sum to 1. ``fallback`` is ``"max_sharpe_undefined"`` when no portfolio within
        the constraints expects more than the risk-free rate net of costs (min-volatility solved
        instead), else ``None``. ``turnover_limit``: ``{"max_one_way", "reachable"}``; not
        reachable when the bounds alone force more turnover (e.g. a holding above
        ``weight_max``, or cash to invest): the smallest such turnover is used instead.

    Raises:
        ValueError: unknown objective.
        pypfopt.exceptions.OptimizationError: the min-volatility solve failed.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    tickers = list(mu.index)
    cov = cov.loc[tickers, tickers]
    lows = np.array([bounds[t][0] for t in tickers])
    highs = np.array([bounds[t][1] for t in tickers])
    w0 = np.array([trading.current_weights.get(t, 0.0) for t in tickers])
    cost_annual = trading.cost_rate * trading.rebalances_per_year
    least = min_l1_change(w0, lows, highs)
    budget = 2.0 * trading.max_turnover - trading.cash_weight
    l1_budget = None if budget >= 2.0 else max(budget, least + _L1_SLACK)

    used, fallback, w = objective, None, None
    if objective == "max_sharpe":
        if max_feasible_return(mu.to_numpy(), lows, highs) > risk_free_rate:
            w = _max_sharpe_net(mu.to_numpy(), cov.to_numpy(), lows, highs, w0, risk_free_rate, cost_annual, l1_budget)
        if w is None:
            used, fallback = "min_volatility", "max_sharpe_undefined"
    if w is None:
        w = _min_volatility(mu, cov, lows, highs, w0, 2.0 * cost_annual / trading.risk_aversion, l1_budget)
    w = _project_to_bounds(w, lows, highs)
    exp_ret = float(w @ mu.to_numpy())
    cost = cost_annual * float(np.abs(w - w0).sum())
    vol = float(np.sqrt(w @ cov.to_numpy() @ w))
    return {
        "weights": {t: float(x) for t, x in zip(tickers, w)},
        "objective_used": used,
        "expected_return_annual_pct": round(100.0 * exp_ret, 4),
        "expected_cost_annual_pct": round(100.0 * cost, 4),
        "volatility_annual_pct": round(100.0 * vol, 4),
        "sharpe_ratio": round((exp_ret - cost - risk_free_rate) / vol, 4) if vol > 0 else None,
        "fallback": fallback,
        "turnover_limit": {"max_one_way": trading.max_turnover, "reachable": bool(budget >= least)},
    }
