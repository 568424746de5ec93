"""The run's JSON output from the final graph state, and the one-line summary of many runs."""

from __future__ import annotations

from reference_agents.portfolio_management.state import PortfolioState


def output(state: PortfolioState) -> dict:
    """Decision, reasons and the domain results (units in field names).

    ``orders`` are the orders to send (empty unless the decision is ``rebalance``);
    ``proposed_orders`` are the orders the proposal contained whatever the decision.
    Weights are fractions of portfolio value (``CASH`` included in current/post-trade weights).
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
        "portfolio_value_usd": reb["portfolio_value_usd"],
        "target_weights": {t: round(w, 6) for t, w in opt["weights"].items()},
        "current_weights": {t: round(w, 6) for t, w in reb["current_weights"].items()},
        "post_trade_weights": {t: round(w, 6) for t, w in reb["post_trade_weights"].items()},
        "expected_return_annual_pct": opt["expected_return_annual_pct"],
        "expected_volatility_annual_pct": opt["volatility_annual_pct"],
        "expected_sharpe_ratio": opt["sharpe_ratio"],
        "orders": reb["orders"] if state["decision"] == "rebalance" else [],
        "proposed_orders": reb["orders"],
        "skipped_orders": reb["skipped_orders"],
        "turnover_fraction": reb["turnover_fraction"],
        "traded_value_usd": reb["traded_value_usd"],
        "cash_after_usd": reb["cash_after_usd"],
        "risk": state["risk"],
        "benchmark": state["benchmark"],
        "technical": state["technical"],
        "fundamentals": state["fundamentals"],
        "weight_caps": opt["caps"],
        "shrinkage_intensity": state["risk_model"]["shrinkage_intensity"],
        "review_required": state["review_required"],
        "review": state.get("review"),
        "narrative": state.get("narrative", ""),
        "narrative_source": state.get("narrative_source", "pending"),
        "notes": state.get("notes", []),
    }


def summarize(outputs: list[dict]) -> str:
    """One line: decisions, mean one-way turnover (%), mean proposed vs current 1-day CVaR (% of value)."""
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
    return (f"portfolio management: {n} runs ({decisions}); mean one-way turnover {turnover:.1f}%; "
            f"mean 1-day 95% CVaR {cvar_now:.2f}% -> {cvar_new:.2f}% of value")
