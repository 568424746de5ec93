"""Financial analysis agent: market data, technical indicators and sentiment to a signal.

Exposes ``AGENT`` (see :class:`reference_agents.base.AgentDefinition`).
"""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.financial_analysis.agent import output, resume_value, sample_inputs, summarize
from reference_agents.financial_analysis.graph import build_graph
from reference_agents.financial_analysis.state import FinancialAnalysisInput

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
