"""The portfolio-management graph: a supervisor routing workers by what the state lacks.

prepare -> technical -> fundamentals -> risk_model -> optimiser -> rebalance -> risk ->
benchmark (in sample) -> walk_forward (out of sample) -> limits -> [manager_review] -> decide ->
narrative. Each worker returns ``Command(goto="supervisor", update=...)``; the supervisor is
deterministic. A proposal that exceeds the turnover limit (the bounds forced it) or a risk limit stops at ``interrupt()`` in ``manager_review`` (request
and answer in :mod:`.review`) until the platform resumes the thread with
``Command(resume={"decision": "approve"|"reject", "reviewer", "note"})``.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from reference_agents.portfolio_management import nodes
from reference_agents.portfolio_management.policy import load_policy
from reference_agents.portfolio_management.state import PortfolioRunInput, PortfolioState
from reference_agents.portfolio_management.tools.market_data import index_prices, stock_prices

# (state key a worker fills, worker) in the order the supervisor runs them.
PIPELINE = (
    ("as_of_date", "prepare"),
    ("technical", "technical"),
    ("fundamentals", "fundamentals"),
    ("risk_model", "risk_model"),
    ("optimisation", "optimiser"),
    ("rebalance", "rebalance"),
    ("risk", "risk"),
    ("in_sample_benchmark", "benchmark"),
    ("walk_forward", "walk_forward"),
    ("review_required", "limits"),
)
Route = Literal["prepare", "technical", "fundamentals", "risk_model", "optimiser", "rebalance", "risk",
                "benchmark", "walk_forward", "limits", "manager_review", "decide", "narrative", "__end__"]


def supervisor(state: PortfolioState) -> Command[Route]:
    """Route to the first worker whose result is missing; sign-off before deciding when required."""
    for key, worker in PIPELINE:
        if key not in state:
            return Command(goto=worker)
    if state["review_required"] and "review" not in state:
        return Command(goto="manager_review")
    if "decision" not in state:
        return Command(goto="decide")
    if "narrative" not in state:
        return Command(goto="narrative")
    return Command(goto=END)


def build_graph(config: dict) -> StateGraph:
    """The uncompiled graph.

    Args:
        config: the spec's ``config``, deep-merged over ``policy.yaml`` (e.g.
            ``{"fundamentals_csv": "/path/f.csv", "risk_limits": {"max_var_95_1d_pct": 3.0}}``).

    Raises:
        ValueError: ``config`` names a key ``policy.yaml`` does not have, or leaves a review
            reason without its text.
    """
    policy = load_policy(config)
    stock_prices(), index_prices()  # read the data once per process now, not inside the first run
    builder = StateGraph(PortfolioState, input_schema=PortfolioRunInput)
    builder.add_node("supervisor", supervisor)
    for name in ("prepare", "technical", "fundamentals", "risk_model", "optimiser", "rebalance", "risk",
                 "benchmark", "walk_forward", "limits", "manager_review", "decide"):
        worker = getattr(nodes, name)
        builder.add_node(name, partial(worker, policy=policy), destinations=("supervisor",))
    builder.add_node("narrative", nodes.narrative, destinations=("supervisor",))
    builder.add_edge(START, "supervisor")
    return builder
