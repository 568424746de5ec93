"""Financial analysis reference agent: market data, technical indicators and sentiment to a
bullish / neutral / bearish signal; it never interrupts. ``AGENT`` is its definition."""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.financial_analysis.demo import resume_value, sample_inputs
from reference_agents.financial_analysis.graph import build_graph
from reference_agents.financial_analysis.inputs import FinancialAnalysisInput
from reference_agents.financial_analysis.outputs import output, summarize

AGENT = AgentDefinition(
    template="financial_analysis",
    title="Financial analysis",
    build_graph=build_graph,
    input_model=FinancialAnalysisInput,
    output=output,
    sample_inputs=sample_inputs,
    resume_value=resume_value,
    summarize=summarize,
    package_dir=Path(__file__).resolve().parent,
)

__all__ = ["AGENT"]
