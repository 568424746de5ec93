"""Fraud detection reference agent: real-time triage of card-transaction alerts.

Enrichment (customer, device, merchant and geo-velocity features), scoring (expert rules plus
an IsolationForest fitted on the customer's own history, combined into a 0-100 risk score
with reason codes), triage (auto_close / step_up / block by ``policy.yaml``) and an analyst
interrupt on high risk. Demo and test traffic is SYNTHETIC (``generator.py``).
"""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.fraud_detection.demo import resume_value, sample_inputs
from reference_agents.fraud_detection.graph import build_graph
from reference_agents.fraud_detection.inputs import FraudCaseInput
from reference_agents.fraud_detection.outputs import output, summarize

AGENT = AgentDefinition(
    template="fraud_detection",
    title="Fraud Detection",
    build_graph=build_graph,
    input_model=FraudCaseInput,
    output=output,
    sample_inputs=sample_inputs,
    resume_value=resume_value,
    summarize=summarize,
    package_dir=Path(__file__).resolve().parent,
)

__all__ = ["AGENT"]
