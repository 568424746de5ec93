"""Financial analysis reference agent: market data, technical indicators and sentiment to a
bullish / neutral / bearish signal; it never interrupts. ``AGENT`` is its definition."""

from reference_agents.base import AgentDefinition
from reference_agents.financial_analysis.inputs import FinancialAnalysisInput

AGENT = AgentDefinition.from_package(__name__, "Financial analysis", FinancialAnalysisInput)

__all__ = ["AGENT"]
