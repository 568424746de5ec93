"""Compliance Monitoring reference agent: sanctions watchlist screening (UN Security
Council Consolidated List, optional OFAC SDN) with an analyst's review of potential
matches, plus AML transaction monitoring rules. ``AGENT`` is its definition."""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.compliance_monitoring.demo import resume_value, sample_inputs
from reference_agents.compliance_monitoring.graph import build_graph
from reference_agents.compliance_monitoring.inputs import ComplianceInput
from reference_agents.compliance_monitoring.outputs import output, summarize

AGENT = AgentDefinition(
    template="compliance_monitoring",
    title="Compliance Monitoring",
    build_graph=build_graph,
    input_model=ComplianceInput,
    output=output,
    sample_inputs=sample_inputs,
    resume_value=resume_value,
    summarize=summarize,
    package_dir=Path(__file__).resolve().parent,
)

__all__ = ["AGENT"]
