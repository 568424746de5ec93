"""Deployment targets behind one interface that only applies weights (the only writer of
``traffic_weights``): ``local`` keeps an agent's weights in PostgreSQL, read by the gateway per
request; ``aws`` also applies them to the agent's ALB listener rule as a weighted forward to each
version's target group (:mod:`activities.targets.aws_alb`). The weights in PostgreSQL are the
record of what every target was told, whichever it is."""

from __future__ import annotations

import asyncio

from sqlmodel import delete
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.targets.aws_alb import AlbWeights, AwsTarget
from shipway.db.engine import Database
from shipway.db.models import TrafficWeight
from shipway.settings import Settings
from workflows.types import SET_TRAFFIC, TrafficResult, TrafficUpdate

TARGETS = ("local", "aws")


class TrafficActivities:
    """Sets how an agent's traffic splits between its versions, on its deployment target.

    Args:
        db: the catalog database.
        aws: the ``aws`` target, or None when AWS is not configured (an ``aws`` rollout then fails).
    """

    def __init__(self, db: Database, aws: AwsTarget | None = None) -> None:
        self.db, self.aws = db, aws

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> TrafficActivities:
        """With the ``aws`` target when ``aws_listener_rules`` is set."""
        aws = (AwsTarget(AlbWeights(region=settings.aws_region, endpoint_url=settings.aws_endpoint_url),
                         settings.aws_listener_rules) if settings.aws_listener_rules else None)
        return cls(db, aws)

    @activity.defn(name=SET_TRAFFIC)
    async def set_traffic(self, upd: TrafficUpdate) -> TrafficResult:
        """Apply ``upd.weights`` (percent by version) on ``upd.target``, then record them (one transaction).

        Raises:
            ApplicationError (non-retryable): ``InvalidWeights``, non-empty weights that do not sum to
                100; ``UnknownTarget``; ``TargetNotConfigured``, an ``aws`` rollout without
                ``aws_listener_rules``, or no rule or target group for the agent's versions.
            activities.targets.aws_alb.TargetError: AWS failed the call (retried).

        An ``aws`` rollback to "serve nothing" (no stable version) leaves the ALB rule as it was and
        records no weights: the listener rule needs a version to forward to.
        """
        total = sum(upd.weights.values())
        if upd.weights and abs(total - 100.0) > 1e-6:
            raise ApplicationError(f"traffic weights must sum to 100, got {total}", type="InvalidWeights", non_retryable=True)
        if upd.target not in TARGETS:
            raise ApplicationError(f"unknown deployment target {upd.target!r}; one of {', '.join(TARGETS)}",
                                   type="UnknownTarget", non_retryable=True)
        if upd.target == "aws" and upd.weights:
            await self._apply_aws(upd)
        async with self.db.session() as session:
            await session.exec(delete(TrafficWeight).where(TrafficWeight.agent_name == upd.name))
            for version, pct in upd.weights.items():
                if pct > 0:
                    session.add(TrafficWeight(agent_name=upd.name, version=int(version), weight_pct=pct))
            await session.commit()
        return TrafficResult(weights={v: p for v, p in upd.weights.items() if p > 0})

    async def _apply_aws(self, upd: TrafficUpdate) -> None:
        if self.aws is None:
            raise ApplicationError("an aws rollout needs the setting aws_listener_rules (agent -> ALB listener rule ARN)",
                                   type="TargetNotConfigured", non_retryable=True)
        try:
            await asyncio.to_thread(self.aws.apply, upd.name, {int(v): p for v, p in upd.weights.items()})
        except (LookupError, ValueError) as exc:
            raise ApplicationError(str(exc), type="TargetNotConfigured", non_retryable=True) from exc
