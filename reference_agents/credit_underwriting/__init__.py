"""Credit underwriting: intake, scorecard PD, policy decision tree, referral to an underwriter.

Exposes ``AGENT`` (see :class:`reference_agents.base.AgentDefinition`). ``AGENT.extra["labels"]``
is :func:`~reference_agents.credit_underwriting.tools.data.labels`, the German Credit
``creditability`` label per ``application_id``, for comparing decisions with the data.
"""

from reference_agents.base import AgentDefinition
from reference_agents.credit_underwriting.inputs import CreditApplication
from reference_agents.credit_underwriting.tools.data import labels

AGENT = AgentDefinition.from_package(__name__, "Credit Underwriting", CreditApplication, extra={"labels": labels})

__all__ = ["AGENT"]
