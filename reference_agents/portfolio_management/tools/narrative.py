"""The review narrative's facts and its deterministic text (used when no LLM is configured)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def narrative_facts(state: Mapping[str, Any]) -> dict:
    """The facts a narrative may use (JSON), from a decided run's state.

    Returns:
        ``as_of_date``, ``decision``, ``reasons``, ``objective``, ``top_target_weights_pct`` (five
        largest, %), ``orders`` (count), ``traded_value_usd``, ``turnover_pct`` (one-way, %),
        ``var_1d_pct`` / ``cvar_1d_pct`` (current and proposed, % of value), ``vs_sp500`` (beta,
        tracking error and excess return, % a year) and ``review`` (the manager's sign-off or ``None``).
    """
    reb, risk, bench = state["rebalance"], state["risk"], state["benchmark"]
    top = sorted(state["optimisation"]["weights"].items(), key=lambda kv: -kv[1])[:5]
    return {
        "as_of_date": state["as_of_date"],
        "decision": state["decision"],
        "reasons": state["reasons"],
        "objective": state["optimisation"]["objective_used"],
        "top_target_weights_pct": {t: round(100 * w, 2) for t, w in top},
        "orders": len(reb["orders"]),
        "traded_value_usd": reb["traded_value_usd"],
        "turnover_pct": round(100 * reb["turnover_fraction"], 2),
        "var_1d_pct": {"current": risk["current"]["var_1d_pct"], "proposed": risk["proposed"]["var_1d_pct"]},
        "cvar_1d_pct": {"current": risk["current"]["cvar_1d_pct"], "proposed": risk["proposed"]["cvar_1d_pct"]},
        "vs_sp500": {"beta": bench["beta"], "tracking_error_annual_pct": bench["tracking_error_annual_pct"],
                     "excess_return_annual_pct": bench["excess_return_annual_pct"]},
        "review": state.get("review"),
    }


def fallback_narrative(f: dict) -> str:
    """Plain text built only from :func:`narrative_facts`."""
    weights = ", ".join(f"{t} {w}%" for t, w in f["top_target_weights_pct"].items())
    text = (
        f"As of {f['as_of_date']}: decision {f['decision']} ({', '.join(f['reasons'])}). "
        f"Target ({f['objective']}) top weights: {weights}. {f['orders']} orders, "
        f"{f['traded_value_usd']:,.0f} USD traded, one-way turnover {f['turnover_pct']}%. "
        f"1-day 95% VaR {f['var_1d_pct']['current']}% -> {f['var_1d_pct']['proposed']}%, "
        f"CVaR {f['cvar_1d_pct']['current']}% -> {f['cvar_1d_pct']['proposed']}% of value. "
        f"Proposed vs S&P 500 over the lookback: beta {f['vs_sp500']['beta']}, tracking error "
        f"{f['vs_sp500']['tracking_error_annual_pct']}% a year, excess return "
        f"{f['vs_sp500']['excess_return_annual_pct']}% a year (in-sample)."
    )
    if f["review"]:
        text += f" Manager {f['review']['reviewer']}: {f['review']['decision']}."
    return text
