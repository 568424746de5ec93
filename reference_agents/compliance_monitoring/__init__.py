"""Compliance Monitoring reference agent: sanctions watchlist screening (UN Security
Council Consolidated List, optional OFAC SDN) with an analyst's review of potential
matches, plus AML transaction monitoring rules. ``AGENT`` is its definition."""

from reference_agents.base import AgentDefinition
from reference_agents.compliance_monitoring.inputs import ComplianceInput

AGENT = AgentDefinition.from_package(__name__, "Compliance Monitoring", ComplianceInput)

__all__ = ["AGENT"]
