"""Portfolio-management reference agent: technical, fundamental and risk analysis, mean-variance
optimisation, rebalance orders, benchmark comparison and a portfolio manager's sign-off.
``AGENT`` is its definition."""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.portfolio_management.demo import resume_value, sample_inputs
from reference_agents.portfolio_management.graph import build_graph
from reference_agents.portfolio_management.inputs import PortfolioInput
from reference_agents.portfolio_management.outputs import output, summarize

AGENT = AgentDefinition(
    template="portfolio_management",
    title="Portfolio Management",
    build_graph=build_graph,
    input_model=PortfolioInput,
    output=output,
    sample_inputs=sample_inputs,
    resume_value=resume_value,
    summarize=summarize,
    package_dir=Path(__file__).resolve().parent,
)

__all__ = ["AGENT"]
