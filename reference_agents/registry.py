"""Find an :class:`~reference_agents.base.AgentDefinition` by template name.

A template is either a folder of ``reference_agents`` (``credit_underwriting``) or an
importable ``module:ATTRIBUTE`` of the user's own, so agents outside this repo can be
governed the same way.
"""

from __future__ import annotations

import importlib

from reference_agents.base import AgentDefinition

BUILTIN_TEMPLATES = (
    "credit_underwriting",
    "financial_analysis",
    "compliance_monitoring",
    "fraud_detection",
    "portfolio_management",
    "dag_mapping",
)


class UnknownTemplateError(LookupError):
    """No agent template of that name exists."""


def available_templates() -> list[str]:
    """Names of the built-in templates that are importable in this installation."""
    out = []
    for name in BUILTIN_TEMPLATES:
        try:
            importlib.import_module(f"reference_agents.{name}")
        except ModuleNotFoundError:
            continue
        out.append(name)
    return out


def get_agent(template: str) -> AgentDefinition:
    """The agent definition for ``template``.

    Raises:
        UnknownTemplateError: not a built-in name nor an importable ``module:ATTR``.
    """
    if ":" in template:
        module_name, attr = template.split(":", 1)
    else:
        if template not in BUILTIN_TEMPLATES:
            raise UnknownTemplateError(f"unknown agent template {template!r}; known: {', '.join(BUILTIN_TEMPLATES)}")
        module_name, attr = f"reference_agents.{template}", "AGENT"
    try:
        module = importlib.import_module(module_name)
        agent = getattr(module, attr)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise UnknownTemplateError(f"agent template {template!r} cannot be loaded: {exc}") from exc
    if not isinstance(agent, AgentDefinition):
        raise UnknownTemplateError(f"{template!r} is not an AgentDefinition")
    return agent
