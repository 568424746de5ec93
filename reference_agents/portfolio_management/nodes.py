"""Worker nodes of the portfolio-management graph; each returns ``Command(goto="supervisor")``.

Every worker takes ``(state, policy)``; ``graph.build_graph`` binds the policy. Workers read
adjusted closes (for returns only) from the cached data (``tools.market_data``) by the as-of row
the ``prepare`` worker found, so no DataFrame ever enters the state; prices for valuation and
orders come from the input.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from reference_agents.common.hitl import ask_human
from reference_agents.common.narrative import narrate
from reference_agents.portfolio_management import decision_rules
from reference_agents.portfolio_management.inputs import PortfolioInput, required_history_days
from reference_agents.portfolio_management.review import SignOffAnswer, review_request
from reference_agents.portfolio_management.state import PortfolioRunInput, PortfolioState
from reference_agents.portfolio_management.tools import market_data
from reference_agents.portfolio_management.tools.backtest import walk_forward as walk_forward_backtest
from reference_agents.portfolio_management.tools.benchmark import compare_to_benchmark
from reference_agents.portfolio_management.tools.expected_returns import bayes_stein_returns
from reference_agents.portfolio_management.tools.fundamentals import load_fundamentals, screen
from reference_agents.portfolio_management.tools.narrative import fallback_narrative, narrative_facts
from reference_agents.portfolio_management.tools.optimise import Trading, optimise_weights, weight_bounds
from reference_agents.portfolio_management.tools.rebalance import holdings_weights, rebalance_orders
from reference_agents.portfolio_management.tools.risk import (
    CASH,
    daily_returns,
    portfolio_returns,
    risk_report,
    shrinkage_covariance,
)
from reference_agents.portfolio_management.tools.technical import technical_signals

INPUT_KEYS = tuple(PortfolioRunInput.__annotations__)
Next = Command[Literal["supervisor"]]


def _row(state: PortfolioState) -> int:
    return market_data.stock_prices().index.get_loc(pd.Timestamp(state["as_of_date"]))


def _lookback_closes(state: PortfolioState):
    return market_data.price_window(state["universe"], _row(state), state["constraints"]["lookback_days"])


def prepare(state: PortfolioState, policy: dict) -> Next:
    """Validate the input (``pydantic.ValidationError`` names the field), find the as-of trading
    day, and value the holdings: shares at the input's as-traded prices, weights at the stated
    portfolio value (the data's adjusted closes are never used as prices, see ``inputs.py``)."""
    inp = PortfolioInput.model_validate({k: state[k] for k in INPUT_KEYS if k in state})
    c = inp.constraints
    row = market_data.as_of_position(c.as_of, required_history_days(c.lookback_days, policy["technical"]))
    as_of_date = market_data.stock_prices().index[row].date().isoformat()
    prices = inp.as_of_prices_usd or {}
    if inp.holdings_basis == "weights":
        values = {t: w * inp.portfolio_value_usd for t, w in inp.holdings.items()}
        cash = inp.portfolio_value_usd * (1.0 - sum(inp.holdings.values()))
    else:
        values = {t: s * prices[t] for t, s in inp.holdings.items() if s}
        cash = inp.cash_usd
    notes = []
    if as_of_date != c.as_of.isoformat():
        notes.append(f"{c.as_of.isoformat()} is not a trading day in the data; used the close of {as_of_date}.")
    if not prices:
        notes.append("No as-traded prices (as_of_prices_usd) were given: orders are USD amounts, not shares.")
    return Command(goto="supervisor", update={
        **inp.model_dump(mode="json"),
        "as_of_date": as_of_date,
        "universe": inp.universe,
        "order_units": "shares" if prices else "usd",
        "prices_usd": prices,
        "current_values_usd": values,
        "current_cash_usd": cash,
        "notes": notes,
    })


def technical(state: PortfolioState, policy: dict) -> Next:
    """12-1 momentum and 50/200-day moving-average state per ticker at the as-of date."""
    p = policy["technical"]
    n = max(p["momentum_lookback_days"] + 1, 2 * p["sma_slow_days"])
    row = _row(state)
    closes = market_data.stock_prices().iloc[row - n + 1 : row + 1][state["universe"]]
    return Command(goto="supervisor", update={"technical": technical_signals(closes, p)})


def fundamentals(state: PortfolioState, policy: dict) -> Next:
    """Screen the universe with the user's fundamentals CSV, or skip with a note when none is configured.

    Raises:
        FundamentalsFileError: the configured CSV is missing or malformed.
    """
    path = policy.get("fundamentals_csv")
    if not path:
        note = "No fundamentals_csv configured: fundamentals screen skipped; technical and risk analysis only."
        return Command(goto="supervisor", update={"fundamentals": {"status": "skipped", "source": None, "screen": {}},
                                                  "notes": [note]})
    result = screen(load_fundamentals(path), state["universe"], policy["fundamentals"])
    failed = sorted(t for t, r in result.items() if not r["passed"])
    note = (f"Fundamentals screen from {path}: {len(failed)} of {len(result)} tickers failed "
            f"({', '.join(failed) or 'none'}).")
    return Command(goto="supervisor", update={
        "fundamentals": {"status": "applied", "source": str(path), "screen": result}, "notes": [note]})


def risk_model(state: PortfolioState, policy: dict) -> Next:
    """Ledoit-Wolf covariance and Bayes-Stein expected returns over the lookback window (annualised)."""
    closes = _lookback_closes(state)
    cov, delta = shrinkage_covariance(closes)
    mu, weight = bayes_stein_returns(closes)
    return Command(goto="supervisor", update={"risk_model": {
        "tickers": list(cov.columns),
        "covariance_annual": cov.to_numpy().tolist(),
        "shrinkage_intensity": round(delta, 6),
        "expected_return_annual": {t: float(mu[t]) for t in cov.columns},
        "return_shrinkage_weight": round(weight, 6),
    }})


def _current_weights(state: PortfolioState) -> dict[str, float]:
    return holdings_weights(state["current_values_usd"], state["current_cash_usd"])


def optimiser(state: PortfolioState, policy: dict) -> Next:
    """Target weights net of trading costs, within the turnover limit and the weight bounds
    (capped for bearish signals and failed screens)."""
    c = state["constraints"]
    caps: dict[str, dict] = {}
    for t, sig in state["technical"].items():
        if sig["signal"] == "bearish":
            caps[t] = {"cap": policy["technical"]["bearish_weight_cap"], "reasons": ["BEARISH_TECHNICAL_CAP"]}
    for t, res in state["fundamentals"]["screen"].items():
        if not res["passed"]:
            cap = policy["fundamentals"]["screened_weight_cap"]
            prev = caps.get(t, {"cap": cap, "reasons": []})
            caps[t] = {"cap": min(prev["cap"], cap),
                       "reasons": [*prev["reasons"], "FUNDAMENTAL_SCREEN_CAP", *res["reasons"]]}
    bounds, dropped = weight_bounds(state["universe"], c["weight_min"], c["weight_max"],
                                    {t: v["cap"] for t, v in caps.items()})
    rm = state["risk_model"]
    mu = pd.Series(rm["expected_return_annual"])[rm["tickers"]]
    cov = pd.DataFrame(rm["covariance_annual"], index=rm["tickers"], columns=rm["tickers"])
    now = _current_weights(state)
    limit = decision_rules.max_turnover(state, policy)
    trading = Trading.from_policy({t: w for t, w in now.items() if t != CASH}, now[CASH], limit, policy)
    result = optimise_weights(mu, cov, bounds, c["objective"], c["risk_free_rate"], trading)
    notes = []
    if result["fallback"]:
        notes.append("No portfolio within the bounds and the turnover limit has an expected return above the "
                     "risk-free rate net of costs: max-Sharpe is undefined, solved min-volatility instead.")
    if not result["turnover_limit"]["reachable"]:
        notes.append(f"The weight bounds (or cash to invest) force more than the turnover limit of {limit:.0%}: "
                     "the proposal trades the least they allow.")
    if dropped:
        notes.append(f"Signal/screen caps on {', '.join(sorted(caps))} left no fully invested portfolio possible; "
                     "they were not applied.")
        caps = {}
    return Command(goto="supervisor", update={
        "optimisation": {**result, "bounds": {t: list(b) for t, b in bounds.items()}, "caps": caps,
                         "caps_dropped": dropped, "max_turnover": limit},
        "notes": notes,
    })


def rebalance(state: PortfolioState, policy: dict) -> Next:
    """Orders from the current holdings to the target weights: whole shares at the as-traded
    prices, or USD amounts when none were given."""
    codes = {t: list(v["reasons"]) for t, v in state["optimisation"]["caps"].items()}
    for t, sig in state["technical"].items():
        if sig["signal"] == "bullish":
            codes.setdefault(t, []).append("BULLISH_TECHNICAL")
        if sig["recent_crossover"]:
            codes.setdefault(t, []).append(sig["last_crossover"].upper())
    values, prices = state["current_values_usd"], state["prices_usd"]
    shares = state["order_units"] == "shares"
    if not shares:
        units, unit_prices = dict(values), dict.fromkeys(state["universe"], 1.0)
    elif state["holdings_basis"] == "shares":
        units, unit_prices = {t: s for t, s in state["holdings"].items() if s}, prices
    else:
        units, unit_prices = {t: v / prices[t] for t, v in values.items()}, prices
    result = rebalance_orders(units, unit_prices, state["current_cash_usd"], state["optimisation"]["weights"],
                              policy["rebalance"]["min_trade_usd"], shares, codes)
    return Command(goto="supervisor", update={"rebalance": result})


def risk(state: PortfolioState, policy: dict) -> Next:
    """Historical 1-day VaR/CVaR and volatility of the current and proposed portfolios, and limit breaches."""
    returns = daily_returns(_lookback_closes(state))
    limits = policy["risk_limits"]
    conf = limits["var_confidence"]
    current = risk_report(returns, state["rebalance"]["current_weights"], conf)
    proposed = risk_report(returns, state["rebalance"]["post_trade_weights"], conf)
    breaches = []
    if proposed["var_1d_pct"] > limits["max_var_95_1d_pct"]:
        breaches.append("VAR_ABOVE_LIMIT")
    if proposed["cvar_1d_pct"] > limits["max_cvar_95_1d_pct"]:
        breaches.append("CVAR_ABOVE_LIMIT")
    return Command(goto="supervisor", update={"risk": {
        "current": current, "proposed": proposed, "breaches": breaches,
        "limits": {"max_var_1d_pct": limits["max_var_95_1d_pct"], "max_cvar_1d_pct": limits["max_cvar_95_1d_pct"],
                   "confidence": conf},
    }})


def benchmark(state: PortfolioState, policy: dict) -> Next:
    """The proposed portfolio vs the S&P 500 index over the lookback window: in sample, since the
    target weights were chosen on the same days."""
    row, n = _row(state), state["constraints"]["lookback_days"]
    port = portfolio_returns(daily_returns(_lookback_closes(state)), state["rebalance"]["post_trade_weights"])
    result = compare_to_benchmark(port, market_data.index_window(row, n), state["constraints"]["risk_free_rate"])
    return Command(goto="supervisor", update={"in_sample_benchmark": result})


def walk_forward(state: PortfolioState, policy: dict) -> Next:
    """Out-of-sample walk-forward backtest of this run's rule (objective, bounds, lookback, turnover
    limit, costs) over the periods before the as-of date, against equal weight and the index."""
    c = state["constraints"]
    rules = {**c, "max_turnover": state["optimisation"]["max_turnover"]}
    history = required_history_days(c["lookback_days"], policy["technical"])
    result = walk_forward_backtest(state["universe"], _row(state), history, rules, policy)
    notes = []
    if result["status"] != "ok":
        notes.append(f"Walk-forward backtest not reported: only {result['rebalances']} rebalance periods of history "
                     f"before the as-of date (at least {result['min_rebalances']} needed).")
    return Command(goto="supervisor", update={"walk_forward": result, "notes": notes})


def limits(state: PortfolioState, policy: dict) -> Next:
    """Which limits a trade proposal breaches, so a portfolio manager must sign off (empty: none)."""
    return Command(goto="supervisor", update={"review_required": decision_rules.review_codes(state, policy)})


def manager_review(state: PortfolioState, policy: dict) -> Next:
    """Pause for a portfolio manager's sign-off (request and answer in :mod:`.review`); resume with
    ``{"decision": "approve"|"reject", "reviewer": str, "note": str}``. A malformed answer is asked
    again with ``error`` naming the field (:func:`reference_agents.common.hitl.ask_human`)."""
    answer = ask_human(review_request(state, policy), SignOffAnswer)
    return Command(goto="supervisor", update={"review": answer.model_dump()})


def decide(state: PortfolioState, policy: dict) -> Next:
    """``rebalance`` | ``hold`` | ``rejected`` with reason codes (rules in ``decision_rules.py``)."""
    decision, reasons = decision_rules.decide(state, policy)
    return Command(goto="supervisor", update={"decision": decision, "reasons": reasons})


def narrative(state: PortfolioState, config: RunnableConfig) -> Next:
    """A short summary for people: written by the configured LLM from the computed facts, else a template.

    ``narrative_source`` is ``"llm"`` only when the model's answer is used; ``"tools"`` for the
    template (no model configured, or the model returned nothing).
    """
    facts = narrative_facts(state)
    text, source = narrate(config, f"Portfolio review as of {state['as_of_date']}", facts, fallback_narrative(facts))
    return Command(goto="supervisor", update={"narrative": text, "narrative_source": source})
