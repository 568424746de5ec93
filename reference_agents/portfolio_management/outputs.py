"""The run's JSON output from the final graph state, and the one-line summary of many runs."""

from __future__ import annotations

from reference_agents.portfolio_management.state import PortfolioState


def output(state: PortfolioState) -> dict:
    """Decision, reasons and the domain results (units in field names).

    ``orders`` are the orders to send (empty unless the decision is ``rebalance``);
    ``proposed_orders`` are the orders the proposal contained whatever the decision; with
    ``order_units`` ``"shares"`` they are whole shares at the input's as-traded prices, with
    ``"usd"`` (no prices given) USD amounts (``shares`` and ``price_usd`` are ``None``).
    Weights are fractions of portfolio value (``CASH`` included in current/post-trade weights).

    Figures prefixed ``in_sample_`` are computed on the lookback window the target weights were
    chosen on, so they flatter the proposal: the optimiser's expected return (gross), amortised
    cost, volatility and Sharpe ratio, and ``in_sample_benchmark`` (vs the S&P 500 price index).
    ``walk_forward`` is the out-of-sample test of the same rule after costs
    (:func:`~reference_agents.portfolio_management.tools.backtest.walk_forward`).

    ``review`` is the manager's sign-off (``decision`` approve|reject, ``reviewer``, ``note``), or
    ``None`` when none was needed. ``narrative`` is the review summary; ``narrative_source`` is
    ``"llm"`` when a configured model wrote it, ``"tools"`` when it is the template over the
    computed facts (no model, or the model returned nothing).
    """
    reb, opt = state["rebalance"], state["optimisation"]
    return {
        "decision": state["decision"],
        "reasons": state["reasons"],
        "as_of_date": state["as_of_date"],
        "objective": opt["objective_used"],
        "order_units": state["order_units"],
        "portfolio_value_usd": reb["portfolio_value_usd"],
        "target_weights": {t: round(w, 6) for t, w in opt["weights"].items()},
        "current_weights": {t: round(w, 6) for t, w in reb["current_weights"].items()},
        "post_trade_weights": {t: round(w, 6) for t, w in reb["post_trade_weights"].items()},
        "in_sample_expected_return_annual_pct": opt["expected_return_annual_pct"],
        "in_sample_expected_cost_annual_pct": opt["expected_cost_annual_pct"],
        "in_sample_expected_volatility_annual_pct": opt["volatility_annual_pct"],
        "in_sample_expected_sharpe_ratio": opt["sharpe_ratio"],
        "orders": reb["orders"] if state["decision"] == "rebalance" else [],
        "proposed_orders": reb["orders"],
        "skipped_orders": reb["skipped_orders"],
        "turnover_fraction": reb["turnover_fraction"],
        "turnover_limit": {"max_one_way": opt["max_turnover"], "reachable": opt["turnover_limit"]["reachable"]},
        "traded_value_usd": reb["traded_value_usd"],
        "cash_after_usd": reb["cash_after_usd"],
        "risk": state["risk"],
        "in_sample_benchmark": state["in_sample_benchmark"],
        "walk_forward": state["walk_forward"],
        "technical": state["technical"],
        "fundamentals": state["fundamentals"],
        "weight_caps": opt["caps"],
        "shrinkage_intensity": state["risk_model"]["shrinkage_intensity"],
        "return_shrinkage_weight": state["risk_model"]["return_shrinkage_weight"],
        "review_required": state["review_required"],
        "review": state.get("review"),
        "narrative": state.get("narrative", ""),
        "narrative_source": state.get("narrative_source", "pending"),
        "notes": state.get("notes", []),
    }


def summarize(outputs: list[dict]) -> str:
    """One line: decisions, mean one-way turnover (%), mean proposed vs current 1-day CVaR (% of
    value), and the walk-forward (out-of-sample, after costs) mean excess return of the rule over
    equal weight (% a year) across the runs that had the history for it."""
    if not outputs:
        return "portfolio management: no runs"
    counts: dict[str, int] = {}
    for o in outputs:
        counts[o["decision"]] = counts.get(o["decision"], 0) + 1
    n = len(outputs)
    turnover = 100 * sum(o["turnover_fraction"] for o in outputs) / n
    cvar_now = sum(o["risk"]["current"]["cvar_1d_pct"] for o in outputs) / n
    cvar_new = sum(o["risk"]["proposed"]["cvar_1d_pct"] for o in outputs) / n
    decisions = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    tested = [o["walk_forward"] for o in outputs if o["walk_forward"]["status"] == "ok"]
    oos = (f"walk-forward excess vs equal weight {sum(w['excess_return_vs_equal_weight_annual_pct'] for w in tested) / len(tested):+.2f}% "
           f"a year after costs ({len(tested)} runs)" if tested else "no walk-forward (too little history)")
    return (f"portfolio management: {n} runs ({decisions}); mean one-way turnover {turnover:.1f}%; "
            f"mean 1-day 95% CVaR {cvar_now:.2f}% -> {cvar_new:.2f}% of value; {oos}")
