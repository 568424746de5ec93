"""Rollout records (the only writer of ``deployments``)."""

from __future__ import annotations

from sqlmodel import select
from temporalio import activity

from shipway.db.engine import Database
from shipway.db.models import Deployment, utcnow
from workflows.statuses import DeploymentState
from workflows.types import RECORD_DEPLOYMENT, DeploymentRecord, DeploymentRecordResult


class DeploymentActivities:
    """Keeps one ``deployments`` row per rollout workflow up to date."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=RECORD_DEPLOYMENT)
    async def record_deployment(self, rec: DeploymentRecord) -> DeploymentRecordResult:
        """Insert or update the row of ``rec.workflow_id``: state, weight (percent), detail; sets
        ``finished_at`` once the rollout has ended."""
        async with self.db.session() as session:
            row = (await session.exec(select(Deployment).where(Deployment.workflow_id == rec.workflow_id))).first()
            if row is None:
                row = Deployment(agent_name=rec.name, version=rec.version, strategy=rec.strategy, target=rec.target,
                                 workflow_id=rec.workflow_id)
            row.status, row.weight_pct, row.detail = rec.state, rec.weight_pct, rec.detail
            if rec.state not in (DeploymentState.IN_PROGRESS, DeploymentState.PAUSED):
                row.finished_at = row.finished_at or utcnow()
            session.add(row)
            await session.commit()
            return DeploymentRecordResult(deployment_id=row.id)
