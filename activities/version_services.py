"""What a version needs on its deployment target before it gets traffic and after it has none: on
``aws``, its own ECS service behind its own ALB target group (:mod:`activities.targets.aws_ecs`);
on ``local`` nothing (every worker loads every version from the artifact store).
"""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.targets.aws_ecs import EcsVersionConfig, VersionServices
from shipway.settings import Settings
from workflows.types import PREPARE_VERSION, RETIRE_VERSION, VersionOnTarget, VersionOnTargetResult


class VersionServiceActivities:
    """Prepares and retires versions on the ``aws`` target.

    Args:
        services: the ECS services of versions, or None when ``aws_ecs`` is not configured.
        listener_rules: agent -> ALB listener rule ARN (``aws_listener_rules``).
    """

    def __init__(self, services: VersionServices | None, listener_rules: dict[str, str]) -> None:
        self.services, self.listener_rules = services, listener_rules

    @classmethod
    def from_settings(cls, settings: Settings) -> VersionServiceActivities:
        """With ECS version services when ``settings.aws_ecs`` is set (its keys are
        :class:`~activities.targets.aws_ecs.EcsVersionConfig`'s fields)."""
        services = (VersionServices(EcsVersionConfig(**settings.aws_ecs), region=settings.aws_region,
                                    endpoint_url=settings.aws_endpoint_url) if settings.aws_ecs else None)
        return cls(services, settings.aws_listener_rules)

    @activity.defn(name=PREPARE_VERSION)
    async def prepare_version(self, inp: VersionOnTarget) -> VersionOnTargetResult:
        """On ``aws``: create (or find) the version's target group, task definition and ECS service;
        idempotent. The service runs the same image as the gateway with ``SHIPWAY_SERVED_AGENT`` and
        ``SHIPWAY_SERVED_VERSION`` set.

        Raises:
            ApplicationError (non-retryable, ``TargetNotConfigured``): an ``aws`` rollout without
                ``aws_ecs`` or without a listener rule for the agent.
            activities.targets.aws_ecs.ServiceError: AWS refused or failed (retried).
        """
        if inp.target != "aws":
            return VersionOnTargetResult()
        services, rule = self._configured(inp.name)
        arn = await asyncio.to_thread(services.ensure, inp.name, inp.version,
                                      {"SHIPWAY_SERVED_AGENT": inp.name, "SHIPWAY_SERVED_VERSION": str(inp.version)},
                                      listener_rule_arn=rule)
        return VersionOnTargetResult(arn)

    @activity.defn(name=RETIRE_VERSION)
    async def retire_version(self, inp: VersionOnTarget) -> VersionOnTargetResult:
        """On ``aws``: remove the version's ECS service and, once no rule forwards to it, its target
        group; idempotent. Refused (retried) while the agent's rule still sends it traffic."""
        if inp.target != "aws":
            return VersionOnTargetResult()
        services, rule = self._configured(inp.name)
        await asyncio.to_thread(services.retire, inp.name, inp.version, listener_rule_arn=rule)
        return VersionOnTargetResult()

    def _configured(self, agent: str) -> tuple[VersionServices, str]:
        rule = self.listener_rules.get(agent)
        if self.services is None or rule is None:
            raise ApplicationError(f"an aws rollout of {agent!r} needs the settings aws_ecs and aws_listener_rules[{agent!r}]",
                                   type="TargetNotConfigured", non_retryable=True)
        return self.services, rule


