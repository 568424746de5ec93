"""The ``local`` deployment target: traffic weights in Postgres, read by the gateway per request."""

from __future__ import annotations

from sqlmodel import delete, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from shipway.db.engine import async_engine
from shipway.db.models import Agent, AgentVersion, Deployment, TrafficWeight, utcnow
from workflows.types import TrafficUpdate


@activity.defn(name="live_version")
async def live_version(name: str) -> int | None:
    """The agent's current live version, or None."""
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        agent = await session.get(Agent, name)
        return agent.live_version if agent else None


@activity.defn(name="set_traffic")
async def set_traffic(upd: TrafficUpdate) -> None:
    """Replace the agent's weights with ``upd.weights`` (percent; must sum to 100, or be empty for
    "serve nothing") in one transaction.

    Raises:
        ValueError: non-empty weights that do not sum to 100.
    """
    total = sum(upd.weights.values())
    if upd.weights and abs(total - 100.0) > 1e-6:
        raise ValueError(f"traffic weights must sum to 100, got {total}")
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        await session.exec(delete(TrafficWeight).where(TrafficWeight.agent_name == upd.name))
        for version, pct in upd.weights.items():
            if pct > 0:
                session.add(TrafficWeight(agent_name=upd.name, version=int(version), weight_pct=pct))
        if upd.live_version is not None:
            agent = await session.get(Agent, upd.name)
            agent.live_version = upd.live_version
            session.add(agent)
            # the version it replaces stops being "live" in the catalog
            for old in (await session.exec(select(AgentVersion).where(
                    AgentVersion.agent_name == upd.name, AgentVersion.status == "live", AgentVersion.version != upd.live_version))).all():
                old.status, old.updated_at = "superseded", utcnow()
                session.add(old)
        await session.commit()


@activity.defn(name="record_deployment")
async def record_deployment(name: str, version: int, strategy: str, target: str, workflow_id: str, status: str, detail: dict) -> None:
    """Insert or update the ``deployments`` row of this rollout workflow."""
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        row = (await session.exec(select(Deployment).where(Deployment.workflow_id == workflow_id))).first()
        if row is None:
            row = Deployment(agent_name=name, version=version, strategy=strategy, target=target, workflow_id=workflow_id)
        row.status, row.detail = status, detail
        if status != "in_progress":
            row.finished_at = utcnow()
        session.add(row)
        await session.commit()
