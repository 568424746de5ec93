"""Catalog writes made by the lifecycle: version status, artifacts, embeddings, approvals."""

from __future__ import annotations

import asyncio

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.embeddings import embed
from shipway.db.engine import async_engine
from shipway.db.models import Agent, AgentVersion, Approval, utcnow
from workflows.types import ApprovalRecord, VersionStatus


async def _version(session: AsyncSession, name: str, version: int) -> AgentVersion:
    row = (await session.exec(select(AgentVersion).where(AgentVersion.agent_name == name, AgentVersion.version == version))).first()
    if row is None:
        raise LookupError(f"agent version {name} v{version} is not in the catalog")
    return row


@activity.defn(name="set_version_status")
async def set_version_status(st: VersionStatus) -> None:
    """Set an agent version's status (and artifact, when given); ``live`` also sets the agent's live version."""
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        row = await _version(session, st.name, st.version)
        row.status = st.status
        row.updated_at = utcnow()
        if st.artifact_sha256:
            row.artifact_sha256, row.artifact_path = st.artifact_sha256, st.artifact_path
        if st.status == "live":
            agent = await session.get(Agent, st.name)
            agent.live_version = st.version
            session.add(agent)
        session.add(row)
        await session.commit()


@activity.defn(name="store_validated_spec")
async def store_validated_spec(name: str, version: int, spec: dict) -> None:
    """Replace the submitted spec with the validated one and refresh the agent's owner/template/description."""
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        row = await _version(session, name, version)
        row.spec = spec
        agent = await session.get(Agent, name)
        agent.owner, agent.template, agent.description = spec["owner"], spec["template"], spec["description"]
        session.add_all([row, agent])
        await session.commit()


@activity.defn(name="index_agent")
async def index_agent(name: str, version: int, text: str) -> int:
    """Embed ``text`` (the description) into the version's 384-d vector; returns the dimension."""
    [vec] = await asyncio.to_thread(embed, [text])
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        row = await _version(session, name, version)
        row.embedding = vec
        session.add(row)
        await session.commit()
    return len(vec)


@activity.defn(name="record_approval")
async def record_approval(rec: ApprovalRecord) -> None:
    """Write an approval decision (accepted or refused) to the ``approvals`` table."""
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        session.add(Approval(agent_name=rec.name, version=rec.version, decision=rec.decision, approver=rec.approver,
                             reason=rec.reason, accepted=rec.accepted, refusal_reason=rec.refusal_reason))
        await session.commit()
