"""Graph state of the portfolio-management agent (plain JSON-serialisable values only)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


class PortfolioRunInput(TypedDict, total=False):
    """The graph's input: ``inputs.PortfolioInput`` dumped to JSON (see its field docs)."""

    holdings: dict[str, float]
    holdings_basis: str
    cash_usd: float
    portfolio_value_usd: float | None
    candidates: list[str]
    as_of_prices_usd: dict[str, float] | None
    constraints: dict[str, Any]


class PortfolioState(PortfolioRunInput, total=False):
    """The run input plus what the workers have found; the supervisor routes on which keys are present.

    Keys (units in names; weights are fractions of portfolio value, ``"CASH"`` included where noted):
        as_of_date: ISO date of the trading day used (last on or before the requested as-of).
        universe: tickers the optimiser may hold (holdings, then candidates).
        order_units: ``"shares"`` (as-traded prices given: orders in whole shares) or ``"usd"``
            (no as-traded prices: orders in USD amounts).
        prices_usd: ``{ticker: as-traded price on the as-of date}`` from the input (empty without).
        current_values_usd: ``{ticker: USD value now}`` (shares x as-traded price, or weight x value).
        current_cash_usd: current cash (derived from the weights when the input gives weights).
        technical: ``{ticker: {momentum_12_1_pct, sma_fast_usd, sma_slow_usd, trend, last_crossover,
            days_since_crossover, recent_crossover, signal}}``.
        fundamentals: ``{"status": "applied"|"skipped", "source", "screen": {ticker: {...}}}``.
        risk_model: ``{"tickers", "covariance_annual" (n x n list), "shrinkage_intensity",
            "expected_return_annual": {ticker: fraction} (Bayes-Stein), "return_shrinkage_weight"}``.
        optimisation: output of ``tools.optimise.optimise_weights`` plus ``"bounds", "caps",
            "caps_dropped", "max_turnover"``.
        rebalance: output of ``tools.rebalance.rebalance_orders``.
        risk: ``{"current": report, "proposed": report, "limits", "breaches": [codes]}``, reports
            from ``tools.risk.risk_report`` (VaR/CVaR 1-day % of value, volatility % a year).
        in_sample_benchmark: output of ``tools.benchmark.compare_to_benchmark`` for the proposed
            portfolio over the lookback window its weights were chosen on (in sample).
        walk_forward: output of ``tools.backtest.walk_forward`` (out of sample, after costs).
        review_required: codes that require a manager's sign-off (empty when none).
        review: the manager's sign-off ``{"decision": "approve"|"reject", "reviewer", "note"}``
            after an interrupt (:class:`~reference_agents.portfolio_management.review.SignOffAnswer`).
        decision: ``rebalance`` | ``hold`` | ``rejected``.
        reasons: machine-readable reason codes of the decision.
        narrative: a short text for people (LLM-written only when a model is configured).
        narrative_source: ``"llm"`` or ``"tools"`` (the template over the computed facts).
        notes: human-readable notes appended by workers.
    """

    as_of_date: str
    universe: list[str]
    order_units: str
    prices_usd: dict[str, float]
    current_values_usd: dict[str, float]
    current_cash_usd: float
    technical: dict[str, Any]
    fundamentals: dict[str, Any]
    risk_model: dict[str, Any]
    optimisation: dict[str, Any]
    rebalance: dict[str, Any]
    risk: dict[str, Any]
    in_sample_benchmark: dict[str, Any]
    walk_forward: dict[str, Any]
    review_required: list[str]
    review: dict[str, Any]
    decision: str
    reasons: list[str]
    narrative: str
    narrative_source: str
    notes: Annotated[list[str], operator.add]
