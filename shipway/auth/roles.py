"""Roles and the actions each may take, the one table every entry point (gateway, console, CLI)
consults.

Roles (issue 10): ``admin`` manages keys and settings and may do everything else; ``operator``
deploys, rolls back, resumes runs and starts runbooks; ``approver`` approves or rejects versions
and answers interrupts; ``viewer`` reads; ``caller`` starts runs and reads or resumes only the runs
its own key started. Every role acts within its key's tenant.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A key's role."""

    ADMIN = "admin"
    OPERATOR = "operator"
    APPROVER = "approver"
    VIEWER = "viewer"
    CALLER = "caller"


class Action(StrEnum):
    """Something a role may or may not do."""

    AGENT_READ = "agent.read"
    RUN_START = "run.start"
    RUN_READ = "run.read"          # any run of the tenant
    RUN_READ_OWN = "run.read_own"  # runs this key started
    RUN_RESUME = "run.resume"      # any run of the tenant
    RUN_RESUME_OWN = "run.resume_own"
    METRICS_READ = "metrics.read"
    VERSION_SUBMIT = "version.submit"
    VERSION_APPROVE = "version.approve"
    VERSION_DEPLOY = "version.deploy"  # deploy, promote, pause, rollback
    RUNBOOK_START = "runbook.start"
    KEY_MANAGE = "key.manage"
    SETTINGS_MANAGE = "settings.manage"


_READ = {Action.AGENT_READ, Action.RUN_READ, Action.RUN_READ_OWN, Action.METRICS_READ}

PERMISSIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.OPERATOR: frozenset(_READ | {Action.RUN_START, Action.RUN_RESUME, Action.RUN_RESUME_OWN, Action.VERSION_SUBMIT,
                                      Action.VERSION_DEPLOY, Action.RUNBOOK_START}),
    Role.APPROVER: frozenset(_READ | {Action.VERSION_APPROVE, Action.RUN_RESUME, Action.RUN_RESUME_OWN}),
    Role.VIEWER: frozenset(_READ),
    Role.CALLER: frozenset({Action.AGENT_READ, Action.RUN_START, Action.RUN_READ_OWN, Action.RUN_RESUME_OWN}),
}


def allows(role: Role | str, action: Action) -> bool:
    """Whether ``role`` may take ``action``.

    Raises:
        ValueError: ``role`` is not one of :class:`Role`.
    """
    return action in PERMISSIONS[Role(role)]
