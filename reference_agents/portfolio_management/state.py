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
    constraints: dict[str, Any]


class PortfolioState(PortfolioRunInput, total=False):
    """The run input plus what the workers have found; the supervisor routes on which keys are present.

    Keys (units in names; weights are fractions of portfolio value, ``"CASH"`` included where noted):
        as_of_date: ISO date of the trading day used (last on or before the requested as-of).
        universe: tickers the optimiser may hold (holdings, then candidates).
        prices_usd: ``{ticker: as-of close}``.
        current_shares: ``{ticker: shares}`` (derived from weights when the input gives weights).
        current_cash_usd: current cash (derived from the weights when the input gives weights).
        technical: ``{ticker: {momentum_12_1_pct, sma_fast_usd, sma_slow_usd, trend, last_crossover,
            days_since_crossover, recent_crossover, signal}}``.
        fundamentals: ``{"status": "applied"|"skipped", "source", "screen": {ticker: {...}}}``.
        risk_model: ``{"tickers", "covariance_annual" (n x n list), "shrinkage_intensity",
            "expected_return_annual": {ticker: fraction}}``.
        optimisation: ``{"weights", "bounds", "objective_used", "expected_return_annual_pct",
            "volatility_annual_pct", "sharpe_ratio", "fallback", "caps", "caps_dropped"}``.
        rebalance: output of ``tools.rebalance.rebalance_orders``.
        risk: ``{"current": report, "proposed": report, "limits", "breaches": [codes]}``, reports
            from ``tools.risk.risk_report`` (VaR/CVaR 1-day % of value, volatility % a year).
        benchmark: output of ``tools.benchmark.compare_to_benchmark`` for the proposed portfolio.
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
    prices_usd: dict[str, float]
    current_shares: dict[str, float]
    current_cash_usd: float
    technical: dict[str, Any]
    fundamentals: dict[str, Any]
    risk_model: dict[str, Any]
    optimisation: dict[str, Any]
    rebalance: dict[str, Any]
    risk: dict[str, Any]
    benchmark: dict[str, Any]
    review_required: list[str]
    review: dict[str, Any]
    decision: str
    reasons: list[str]
    narrative: str
    narrative_source: str
    notes: Annotated[list[str], operator.add]
