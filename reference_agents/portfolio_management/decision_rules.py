"""Decision rules: when a portfolio manager must sign off, and ``rebalance`` | ``hold`` | ``rejected``.

Rules (thresholds in ``policy.yaml``):
1. A proposal *trades* when it has at least one order and its one-way turnover is at least
   ``rebalance.hold_below_turnover``; otherwise the decision is ``hold``
   (``DRIFT_BELOW_THRESHOLD`` or ``NO_ORDERS_ABOVE_MIN_TRADE``).
2. A trading proposal needs a portfolio manager's sign-off when its turnover exceeds the
   input's ``max_turnover`` (else ``rebalance.default_max_turnover``) — ``TURNOVER_ABOVE_LIMIT``;
   the optimiser keeps within the limit, so this happens when the weight bounds or cash to invest
   force more — or the proposed portfolio's 1-day VaR / CVaR exceeds ``risk_limits`` —
   ``VAR_ABOVE_LIMIT`` / ``CVAR_ABOVE_LIMIT``.
3. Signed off with ``reject``: ``rejected`` (``MANAGER_REJECTED``); with ``approve`` or without
   need of sign-off: ``rebalance`` (``TARGET_MAX_SHARPE`` / ``TARGET_MIN_VOLATILITY``,
   ``MANAGER_APPROVED`` when signed).
Context codes are added to every decision: ``FUNDAMENTALS_SKIPPED``, ``FUNDAMENTAL_SCREEN_APPLIED``,
``BEARISH_TECHNICAL_CAPS``, ``WEIGHT_CAPS_DROPPED_INFEASIBLE``, ``MAX_SHARPE_INFEASIBLE_USED_MIN_VOLATILITY``,
``TURNOVER_LIMIT_UNREACHABLE``, ``ORDERS_IN_USD``
(no as-traded prices given), and, for trading proposals, ``RISK_REDUCED`` / ``RISK_INCREASED``
(proposed vs current CVaR).
"""

from __future__ import annotations

from reference_agents.portfolio_management.state import PortfolioState


def max_turnover(state: PortfolioState, policy: dict) -> float:
    """The turnover limit (one-way fraction): the input's, else the policy default."""
    limit = state["constraints"].get("max_turnover")
    return float(limit) if limit is not None else float(policy["rebalance"]["default_max_turnover"])


def trades(state: PortfolioState, policy: dict) -> bool:
    """Rule 1: the proposal has orders and enough turnover to be worth trading."""
    reb = state["rebalance"]
    return bool(reb["orders"]) and reb["turnover_fraction"] >= policy["rebalance"]["hold_below_turnover"]


def review_codes(state: PortfolioState, policy: dict) -> list[str]:
    """Rule 2: the codes that require a manager's sign-off (empty when none or when holding)."""
    if not trades(state, policy):
        return []
    codes = []
    if state["rebalance"]["turnover_fraction"] > max_turnover(state, policy):
        codes.append("TURNOVER_ABOVE_LIMIT")
    return codes + list(state["risk"]["breaches"])


def _context_codes(state: PortfolioState) -> list[str]:
    opt = state["optimisation"]
    codes = ["FUNDAMENTALS_SKIPPED" if state["fundamentals"]["status"] == "skipped" else "FUNDAMENTAL_SCREEN_APPLIED"]
    if any("BEARISH_TECHNICAL_CAP" in c["reasons"] for c in opt["caps"].values()):
        codes.append("BEARISH_TECHNICAL_CAPS")
    if opt["caps_dropped"]:
        codes.append("WEIGHT_CAPS_DROPPED_INFEASIBLE")
    if opt["fallback"] == "max_sharpe_undefined":
        codes.append("MAX_SHARPE_INFEASIBLE_USED_MIN_VOLATILITY")
    if not opt["turnover_limit"]["reachable"]:
        codes.append("TURNOVER_LIMIT_UNREACHABLE")
    if state["order_units"] == "usd":
        codes.append("ORDERS_IN_USD")
    return codes


def _risk_change_code(state: PortfolioState) -> list[str]:
    cur, prop = state["risk"]["current"]["cvar_1d_pct"], state["risk"]["proposed"]["cvar_1d_pct"]
    return ["RISK_REDUCED"] if prop < cur else ["RISK_INCREASED"] if prop > cur else []


def decide(state: PortfolioState, policy: dict) -> tuple[str, list[str]]:
    """Rules 1-3: ``(decision, reason codes)``; the sign-off is ``state["review"]`` (``decision``
    ``approve`` | ``reject``) when rule 2 asked for one."""
    context = _context_codes(state)
    if not trades(state, policy):
        code = "NO_ORDERS_ABOVE_MIN_TRADE" if not state["rebalance"]["orders"] else "DRIFT_BELOW_THRESHOLD"
        return "hold", [code, *state["risk"]["breaches"], *context]
    context += _risk_change_code(state)
    required = list(state.get("review_required") or [])
    review = state.get("review")
    if review and review["decision"] == "reject":
        return "rejected", [*required, "MANAGER_REJECTED", *context]
    target = f"TARGET_{state['optimisation']['objective_used'].upper()}"
    signed = ["MANAGER_APPROVED"] if review else []
    return "rebalance", [target, *required, *signed, *context]
