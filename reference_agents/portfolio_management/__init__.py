"""Portfolio-management reference agent: technical, fundamental and risk analysis, mean-variance
optimisation, rebalance orders, benchmark comparison and a portfolio manager's sign-off.
``AGENT`` is its definition."""

from reference_agents.base import AgentDefinition
from reference_agents.portfolio_management.inputs import PortfolioInput

AGENT = AgentDefinition.from_package(__name__, "Portfolio Management", PortfolioInput)

__all__ = ["AGENT"]
