"""Credit underwriting: intake, scorecard PD, policy decision tree, referral to an underwriter.

Exposes ``AGENT`` (see :class:`reference_agents.base.AgentDefinition`) and :func:`labels`,
the German Credit ``creditability`` label per ``application_id`` for comparing decisions.
``AGENT.extra``: ``labels`` (that function) and ``validate_resume`` (resume value -> normalised
dict, raises ``InvalidUnderwriterDecision``, a ``ValueError``) for callers that check an
underwriter's answer before resuming.
"""

from pathlib import Path

from reference_agents.base import AgentDefinition
from reference_agents.credit_underwriting.application import CreditApplication
from reference_agents.credit_underwriting.graph import build_graph
from reference_agents.credit_underwriting.report import output, summarize
from reference_agents.credit_underwriting.tools.data import labels, sample_inputs
from reference_agents.credit_underwriting.tools.review import demo_underwriter_decision, parse_underwriter_decision

AGENT = AgentDefinition(
    template="credit_underwriting",
    title="Credit Underwriting",
    build_graph=build_graph,
    input_model=CreditApplication,
    output=output,
    sample_inputs=sample_inputs,
    resume_value=demo_underwriter_decision,
    summarize=summarize,
    package_dir=Path(__file__).resolve().parent,
    extra={"labels": labels, "validate_resume": parse_underwriter_decision},
)

__all__ = ["AGENT", "labels"]
