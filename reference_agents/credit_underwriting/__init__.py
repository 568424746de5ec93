"""Credit underwriting: intake, scorecard PD, policy decision tree, referral to an underwriter.

Exposes ``AGENT`` (see :class:`reference_agents.base.AgentDefinition`). ``AGENT.extra["labels"]``
is :func:`~reference_agents.credit_underwriting.tools.data.labels`, the German Credit
``creditability`` label per ``application_id``, for comparing decisions with the data.
"""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.credit_underwriting.demo import resume_value, sample_inputs
from reference_agents.credit_underwriting.graph import build_graph
from reference_agents.credit_underwriting.inputs import CreditApplication
from reference_agents.credit_underwriting.outputs import output, summarize
from reference_agents.credit_underwriting.tools.data import labels

AGENT = AgentDefinition(
    template="credit_underwriting",
    title="Credit Underwriting",
    build_graph=build_graph,
    input_model=CreditApplication,
    output=output,
    sample_inputs=sample_inputs,
    resume_value=resume_value,
    summarize=summarize,
    package_dir=Path(__file__).resolve().parent,
    extra={"labels": labels},
)

__all__ = ["AGENT"]
