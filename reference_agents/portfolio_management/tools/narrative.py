"""The review narrative's facts and its deterministic text (used when no LLM is configured)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def walk_forward_facts(wf: Mapping[str, Any]) -> dict | None:
    """The headline figures of a walk-forward result (``tools.backtest.walk_forward``), or ``None``
    when it was not run for lack of history: period, rebalances, cost (bps), and annualised
    return (%) and Sharpe ratio of the rule, of equal weight and of the index, after costs."""
    if wf["status"] != "ok":
        return None
    return {
        "period": f"{wf['start_date']}..{wf['end_date']}",
        "rebalances": wf["rebalances"],
        "transaction_cost_bps": wf["transaction_cost_bps"],
        "annualised_return_pct": {k: wf[k]["annualised_return_pct"] for k in ("strategy", "equal_weight", "index")},
        "sharpe_ratio": {k: wf[k]["sharpe_ratio"] for k in ("strategy", "equal_weight", "index")},
        "in_sample_expected_sharpe_mean": wf["in_sample_expected_sharpe_mean"],
    }


def narrative_facts(state: Mapping[str, Any]) -> dict:
    """The facts a narrative may use (JSON), from a decided run's state.

    Returns:
        ``as_of_date``, ``decision``, ``reasons``, ``objective``, ``top_target_weights_pct`` (five
        largest, %), ``orders`` (count), ``order_units`` (``shares`` | ``usd``),
        ``traded_value_usd``, ``turnover_pct`` (one-way, %), ``var_1d_pct`` / ``cvar_1d_pct``
        (current and proposed, % of value), ``in_sample_vs_sp500`` (beta, tracking error and excess
        return, % a year, over the window the weights were chosen on), ``walk_forward``
        (:func:`walk_forward_facts`) and ``review`` (the manager's sign-off or ``None``).
    """
    reb, risk, bench = state["rebalance"], state["risk"], state["in_sample_benchmark"]
    top = sorted(state["optimisation"]["weights"].items(), key=lambda kv: -kv[1])[:5]
    return {
        "as_of_date": state["as_of_date"],
        "decision": state["decision"],
        "reasons": state["reasons"],
        "objective": state["optimisation"]["objective_used"],
        "top_target_weights_pct": {t: round(100 * w, 2) for t, w in top},
        "orders": len(reb["orders"]),
        "order_units": state["order_units"],
        "traded_value_usd": reb["traded_value_usd"],
        "turnover_pct": round(100 * reb["turnover_fraction"], 2),
        "var_1d_pct": {"current": risk["current"]["var_1d_pct"], "proposed": risk["proposed"]["var_1d_pct"]},
        "cvar_1d_pct": {"current": risk["current"]["cvar_1d_pct"], "proposed": risk["proposed"]["cvar_1d_pct"]},
        "in_sample_vs_sp500": {"beta": bench["beta"], "tracking_error_annual_pct": bench["tracking_error_annual_pct"],
                               "excess_return_annual_pct": bench["excess_return_annual_pct"]},
        "walk_forward": walk_forward_facts(state["walk_forward"]),
        "review": state.get("review"),
    }


def fallback_narrative(f: dict) -> str:
    """Plain text built only from :func:`narrative_facts`."""
    weights = ", ".join(f"{t} {w}%" for t, w in f["top_target_weights_pct"].items())
    units = "" if f["order_units"] == "shares" else " (in USD: no as-traded prices given)"
    ins = f["in_sample_vs_sp500"]
    text = (
        f"As of {f['as_of_date']}: decision {f['decision']} ({', '.join(f['reasons'])}). "
        f"Target ({f['objective']}) top weights: {weights}. {f['orders']} orders{units}, "
        f"{f['traded_value_usd']:,.0f} USD traded, one-way turnover {f['turnover_pct']}%. "
        f"1-day 95% VaR {f['var_1d_pct']['current']}% -> {f['var_1d_pct']['proposed']}%, "
        f"CVaR {f['cvar_1d_pct']['current']}% -> {f['cvar_1d_pct']['proposed']}% of value. "
        f"In sample (the window the weights were chosen on) vs the S&P 500 price index: beta {ins['beta']}, "
        f"tracking error {ins['tracking_error_annual_pct']}% a year, excess return "
        f"{ins['excess_return_annual_pct']}% a year."
    )
    wf = f["walk_forward"]
    if wf:
        ret, sharpe = wf["annualised_return_pct"], wf["sharpe_ratio"]
        text += (
            f" Out of sample (walk-forward {wf['period']}, {wf['rebalances']} rebalances, "
            f"{wf['transaction_cost_bps']} bps costs): the rule returned {ret['strategy']}% a year "
            f"(Sharpe {sharpe['strategy']}) against {ret['equal_weight']}% (Sharpe {sharpe['equal_weight']}) "
            f"for equal weight and {ret['index']}% for the price index."
        )
    else:
        text += " Out of sample: too little history for a walk-forward test."
    if f["review"]:
        text += f" Manager {f['review']['reviewer']}: {f['review']['decision']}."
    return text
