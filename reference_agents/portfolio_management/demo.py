"""Demo traffic: sample runs drawn from the price data, and the demo manager's sign-off rule."""

from __future__ import annotations

from datetime import date

from reference_agents.portfolio_management.tools import market_data
from reference_agents.portfolio_management.tools.risk import CASH

# Portfolio profiles. Holdings are weights of ``value_usd``: an equal-dollar split, or
# (``rebalanced_days_ago``) the weights this agent itself produced that many trading days earlier,
# drifted with the market since, so the drift is real market movement. Weights, not shares: the
# data holds only adjusted closes, which cannot value shares (see ``inputs.py``), and the demo has
# no as-traded prices to supply; its orders are therefore USD amounts.
_PROFILES = (
    {"as_of": date(2021, 12, 31), "tickers": ["JNJ", "KO", "PEP", "PG", "WMT", "XOM", "CVX", "MRK", "PFE", "HD"],
     "value_usd": 2_500_000, "cash_usd": 100_000.0, "candidates": [],
     "constraints": {"objective": "min_volatility", "weight_min": 0.03, "weight_max": 0.2, "lookback_days": 504,
                     "max_turnover": 0.5}},
    {"as_of": date(2019, 12, 31), "tickers": ["AAPL", "MSFT", "AMD"], "value_usd": 1_000_000, "cash_usd": 0.0,
     "candidates": ["JNJ", "KO", "PG", "WMT", "UNH", "HD", "PEP", "LLY"],
     "constraints": {"objective": "max_sharpe", "weight_min": 0.0, "weight_max": 0.25, "lookback_days": 756,
                     "max_turnover": 0.4}},
    {"as_of": date(2022, 12, 28), "tickers": ["BAC", "JPM", "GE", "XOM", "CVX", "UNH"], "value_usd": 750_000,
     "cash_usd": 25_000.0, "candidates": ["LLY", "MRK", "PG", "KO"],
     "constraints": {"objective": "max_sharpe", "weight_min": 0.0, "weight_max": 0.3, "lookback_days": 504,
                     "max_turnover": 0.2}},
    {"as_of": date(2018, 6, 29), "tickers": ["JNJ", "KO", "PEP", "PG", "WMT", "MRK", "PFE", "XOM"],
     "value_usd": 1_500_000, "cash_usd": 0.0, "candidates": [], "rebalanced_days_ago": 5,
     "constraints": {"objective": "min_volatility", "weight_min": 0.05, "weight_max": 0.25, "lookback_days": 756}},
    {"as_of": date(2009, 3, 31), "tickers": ["BAC", "JPM", "GE", "AMD", "BBY", "RRC"], "value_usd": 400_000,
     "cash_usd": 0.0, "candidates": ["JNJ", "PG", "WMT", "KO"],
     "constraints": {"objective": "min_volatility", "weight_min": 0.0, "weight_max": 0.4, "lookback_days": 252}},
    {"as_of": date(2016, 6, 30), "tickers": ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
                                            "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"],
     "value_usd": 5_000_000, "cash_usd": 0.0, "candidates": [],
     "constraints": {"objective": "max_sharpe", "weight_min": 0.01, "weight_max": 0.15, "lookback_days": 756,
                     "risk_free_rate": 0.01, "max_turnover": 0.5}},
)


def _equal_dollar(prof: dict, as_of: date) -> dict:
    each = (prof["value_usd"] - prof["cash_usd"]) / prof["value_usd"] / len(prof["tickers"])
    return {
        "holdings": dict.fromkeys(prof["tickers"], each),
        "holdings_basis": "weights",
        "portfolio_value_usd": float(prof["value_usd"]),
        "candidates": list(prof["candidates"]),
        "constraints": {"as_of": as_of.isoformat(), **prof["constraints"]},
    }


def _rebalanced_earlier(prof: dict, as_of: date) -> dict:
    """The weights the agent produced ``rebalanced_days_ago`` trading days before ``as_of``,
    starting from the equal-dollar portfolio with no turnover limit (a one-off full rebalance),
    drifted to ``as_of`` with the stocks' total returns; the value grows with them.

    Raises:
        RuntimeError: that earlier run did not end in ``rebalance`` (the profile is unsuitable).
    """
    from langgraph.checkpoint.memory import InMemorySaver

    from reference_agents.portfolio_management.graph import build_graph

    prices = market_data.stock_prices()
    row = int(prices.index.searchsorted(as_of.isoformat(), side="right")) - 1
    earlier = prices.index[row - prof["rebalanced_days_ago"]].date()
    start = _equal_dollar(prof, earlier)
    start["constraints"]["max_turnover"] = 1.0
    graph = build_graph({}).compile(checkpointer=InMemorySaver())
    state = graph.invoke(start, {"configurable": {"thread_id": f"sample-{earlier}"}})
    if state.get("decision") != "rebalance":
        raise RuntimeError(f"sample profile {earlier}: the setup run did not rebalance ({state.get('reasons')})")
    post = state["rebalance"]["post_trade_weights"]
    growth = prices.iloc[row] / prices.loc[earlier.isoformat()]
    values = {t: w * float(growth[t]) for t, w in post.items() if t != CASH and w > 0}
    total = sum(values.values()) + post[CASH]
    return {**start, "holdings": {t: v / total for t, v in values.items()},
            "portfolio_value_usd": round(start["portfolio_value_usd"] * total, 2),
            "constraints": {"as_of": as_of.isoformat(), **prof["constraints"]}}


def sample_inputs(n: int) -> list[dict]:
    """Up to ``n`` run inputs: the profiles above, then the same profiles one year earlier, and so on."""
    out = []
    for i in range(max(n, 0)):
        prof = _PROFILES[i % len(_PROFILES)]
        as_of = prof["as_of"].replace(year=prof["as_of"].year - i // len(_PROFILES))
        out.append(_rebalanced_earlier(prof, as_of) if prof.get("rebalanced_days_ago") else _equal_dollar(prof, as_of))
    return out


def resume_value(request: dict, run_input: dict) -> dict:
    """The demo portfolio manager's answer to a sign-off request (a fixed rule, not a guess).

    Rule: approve when the proposal does not raise the 1-day CVaR above the current portfolio's
    and its turnover is at most 1.5 x the limit; otherwise reject.

    Args:
        request: the interrupt's :class:`~reference_agents.common.hitl.InterruptRequest` as JSON
            (``context``: ``risk_current``, ``risk_proposed``, ``turnover_fraction``,
            ``max_turnover_fraction``).
        run_input: the run's input (unused: the request carries the facts).

    Returns:
        A :class:`~reference_agents.portfolio_management.review.SignOffAnswer` as JSON.
    """
    facts = request["context"]
    lower_risk = facts["risk_proposed"]["cvar_1d_pct"] <= facts["risk_current"]["cvar_1d_pct"]
    modest = facts["turnover_fraction"] <= 1.5 * facts["max_turnover_fraction"]
    approve = lower_risk and modest
    note = ("CVaR not increased and turnover within 1.5x the limit" if approve
            else "proposal raises CVaR or trades more than 1.5x the turnover limit")
    return {"decision": "approve" if approve else "reject", "reviewer": "demo-pm@bank.example", "note": note}
