"""Fraud detection reference agent: real-time triage of card-transaction alerts.

Enrichment (customer, device, merchant and geo-velocity features), scoring (expert rules plus
an IsolationForest fitted on the customer's own history, combined into a 0-100 risk score, a
ranking score rather than a probability, with reason codes), triage (auto_close / step_up / block
by ``policy.yaml``) and an analyst interrupt on high risk (block or release). Demo and test
traffic is SYNTHETIC (``generator.py``).
"""

from reference_agents.base import AgentDefinition
from reference_agents.fraud_detection.inputs import FraudCaseInput

AGENT = AgentDefinition.from_package(__name__, "Fraud Detection", FraudCaseInput)

__all__ = ["AGENT"]
