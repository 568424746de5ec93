"""The portfolio manager's sign-off: the answer model and the interrupt request.

A trading proposal above the turnover limit or a risk limit (``decision_rules.review_codes``)
waits for a portfolio manager's ``approve`` or ``reject``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reference_agents.common.hitl import InterruptRequest, ReviewAnswer, build_request, reason_texts
from reference_agents.portfolio_management.decision_rules import max_turnover
from reference_agents.portfolio_management.state import PortfolioState
from reference_agents.portfolio_management.tools.narrative import walk_forward_facts

KIND = "portfolio_manager_signoff"
QUESTION = "Approve this rebalance proposal? approve sends its orders; reject sends none."


class SignOffAnswer(ReviewAnswer):
    """The portfolio manager's answer (the interrupt's resume value).

    decision: approve (the orders are sent: decision rebalance) or reject (no orders: decision
    rejected). reviewer: the portfolio manager. note: why.
    """

    decision: Literal["approve", "reject"] = Field(
        description="approve: send the proposal's orders; reject: send none.")


def review_request(state: PortfolioState, policy: dict) -> InterruptRequest:
    """The request shown to the portfolio manager for the state's proposal.

    ``context`` (units in the names; weights and turnover are fractions of portfolio value):
    ``as_of_date``, ``portfolio_value_usd``, ``objective``, ``target_weights``, ``orders``
    (ticker, side, shares, value_usd), ``turnover_fraction`` and ``max_turnover_fraction``,
    ``risk_current`` / ``risk_proposed`` (1-day VaR / CVaR % of value, volatility % a year) and
    ``risk_limits``, ``order_units`` (``shares`` | ``usd``) and ``walk_forward`` (the rule's
    out-of-sample record after costs, or ``None`` without the history). ``reasons``: the codes in ``state["review_required"]`` with their text from
    ``policy["reason_texts"]``.
    """
    reb, risk, opt = state["rebalance"], state["risk"], state["optimisation"]
    context = {
        "as_of_date": state["as_of_date"],
        "portfolio_value_usd": reb["portfolio_value_usd"],
        "objective": opt["objective_used"],
        "target_weights": {t: round(w, 6) for t, w in opt["weights"].items()},
        "orders": [{k: o[k] for k in ("ticker", "side", "shares", "value_usd")} for o in reb["orders"]],
        "turnover_fraction": reb["turnover_fraction"],
        "max_turnover_fraction": max_turnover(state, policy),
        "risk_current": risk["current"],
        "risk_proposed": risk["proposed"],
        "risk_limits": risk["limits"],
        "order_units": state["order_units"],
        "walk_forward": walk_forward_facts(state["walk_forward"]),
    }
    reasons = reason_texts(policy["reason_texts"], state["review_required"])
    return build_request(KIND, QUESTION, SignOffAnswer, context, reasons)
