"""The agent catalog (the only writer of ``agents`` and ``agent_versions``): versions as they are
submitted, validated, scaffolded and indexed, their status along the version state machine, and
which version of an agent is live."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shipway.db.engine import Database
from shipway.db.models import Agent, AgentVersion, utcnow
from workflows.statuses import VERSION_TRANSITIONS, VersionStatus
from workflows.types import (
    GET_LIVE_VERSION,
    INDEX_AGENT,
    REGISTER_VERSION,
    SET_LIVE_VERSION,
    SET_VERSION_STATUS,
    STORE_VALIDATED_SPEC,
    IndexInput,
    IndexResult,
    LiveVersionInput,
    LiveVersionResult,
    RegisterVersionInput,
    RegisterVersionResult,
    SetLiveVersionInput,
    SetLiveVersionResult,
    SetVersionStatusInput,
    SetVersionStatusResult,
    StoreSpecInput,
    StoreSpecResult,
)

Embedder = Callable[[list[str]], list[list[float]]]


async def _version(session: AsyncSession, name: str, version: int) -> AgentVersion:
    row = (await session.exec(select(AgentVersion).where(AgentVersion.agent_name == name, AgentVersion.version == version))).first()
    if row is None:
        raise ApplicationError(f"agent version {name} v{version} is not in the catalog", type="UnknownAgentVersion",
                               non_retryable=True)
    return row


# -- agent search: agents.status (migration 0013) ---------------------------------------------------
_AGENT_STATUS = text("""
UPDATE agents a SET status = coalesce(
  (SELECT v.status FROM agent_versions v WHERE v.agent_name = a.name AND v.version = a.live_version),
  (SELECT v.status FROM agent_versions v WHERE v.agent_name = a.name ORDER BY v.version DESC LIMIT 1), a.status)
WHERE a.name = :name""")


async def _refresh_agent_status(session: AsyncSession, name: str) -> None:
    """Set ``agents.status`` to the live version's status, else the newest version's (what search
    filters by), after this session's version changes."""
    await session.flush()
    # lock the row first: the UPDATE's own statement then starts after a concurrent writer of the same
    # agent committed, and sees its version change (in one statement it would read an older snapshot)
    await session.exec(select(Agent.name).where(Agent.name == name).with_for_update())
    await session.exec(_AGENT_STATUS, params={"name": name})
# -- end agent search -------------------------------------------------------------------------------


def code_of(spec: dict) -> str:
    """What an agent's code is, as the catalog shows it: its template, or ``project:<graph>``."""
    source = spec.get("source")
    if isinstance(source, dict) and not spec.get("template"):
        return f"project:{source.get('graph', '')}"
    return str(spec.get("template") or "")


def _text(spec: dict, key: str) -> str:
    value = spec.get(key, "")
    return value if isinstance(value, str) else str(value)


def _tenant(spec: dict) -> str | None:
    # a submitted spec is not validated yet: a private agent must not look shared meanwhile, so any
    # string is taken (validation then fails the version if it is not a valid tenant)
    value = spec.get("tenant")
    return value[:100] if isinstance(value, str) and value else None


class CatalogActivities:
    """Catalog writes of the lifecycle and deployment workflows.

    Args:
        db: the worker's database.
        embed: ``texts -> vectors`` (384 floats each) for :meth:`index_agent`; a blocking call,
            run in a thread.
    """

    def __init__(self, db: Database, embed: Embedder) -> None:
        self.db = db
        self.embed = embed

    @activity.defn(name=REGISTER_VERSION)
    async def register_version(self, inp: RegisterVersionInput) -> RegisterVersionResult:
        """Insert the version (status ``submitted``, the raw spec) and, for a new agent, the agent row.
        Idempotent: a retried attempt finds its row and returns ``created=False``."""
        async with self.db.session() as session:
            await session.exec(insert(Agent).values(
                name=inp.name, owner=_text(inp.spec, "owner"), template=code_of(inp.spec),
                description=_text(inp.spec, "description"), tenant=_tenant(inp.spec), created_at=utcnow()).on_conflict_do_nothing())
            exists = (await session.exec(select(AgentVersion.id).where(
                AgentVersion.agent_name == inp.name, AgentVersion.version == inp.version))).first()
            if exists is None:
                session.add(AgentVersion(agent_name=inp.name, version=inp.version, spec=inp.spec, status=VersionStatus.SUBMITTED,
                                         submitted_by=inp.submitted_by, workflow_id=inp.workflow_id))
            await _refresh_agent_status(session, inp.name)
            await session.commit()
        return RegisterVersionResult(created=exists is None)

    @activity.defn(name=STORE_VALIDATED_SPEC)
    async def store_validated_spec(self, inp: StoreSpecInput) -> StoreSpecResult:
        """Replace the submitted spec with the validated one and refresh the agent's owner, template
        and description from it."""
        async with self.db.session() as session:
            row = await _version(session, inp.name, inp.version)
            row.spec = inp.spec
            agent = await session.get(Agent, inp.name)
            agent.owner, agent.template, agent.description = inp.spec["owner"], code_of(inp.spec), inp.spec["description"]
            agent.tenant = inp.spec.get("tenant")
            session.add_all([row, agent])
            await session.commit()
        return StoreSpecResult(owner=inp.spec["owner"])

    @activity.defn(name=SET_VERSION_STATUS)
    async def set_version_status(self, inp: SetVersionStatusInput) -> SetVersionStatusResult:
        """Move a version along the version state machine (and record its artifact once scaffolded).

        Raises:
            ApplicationError (non-retryable, ``IllegalTransition``): the move is not in
                :data:`~workflows.statuses.VERSION_TRANSITIONS`; ``UnknownAgentVersion``: no such version.
        """
        async with self.db.session() as session:
            row = await _version(session, inp.name, inp.version)
            previous = VersionStatus(row.status)
            if previous != inp.status and inp.status not in VERSION_TRANSITIONS[previous]:
                raise ApplicationError(f"{inp.name} v{inp.version} cannot go from {previous} to {inp.status}",
                                       type="IllegalTransition", non_retryable=True)
            row.status, row.status_detail, row.updated_at = inp.status, inp.detail, utcnow()
            if inp.artifact_sha256:
                row.artifact_sha256, row.manifest = inp.artifact_sha256, inp.manifest
            session.add(row)
            await _refresh_agent_status(session, inp.name)
            await session.commit()
        return SetVersionStatusResult(previous=previous, status=inp.status)

    @activity.defn(name=INDEX_AGENT)
    async def index_agent(self, inp: IndexInput) -> IndexResult:
        """Embed ``inp.text`` (the description) into the version's search vector and the agent's
        (``agents.embedding``, which agent search ranks by)."""
        [vec] = await asyncio.to_thread(self.embed, [inp.text])
        async with self.db.session() as session:
            row = await _version(session, inp.name, inp.version)
            row.embedding = vec
            agent = await session.get(Agent, inp.name)
            agent.embedding = vec
            session.add_all([row, agent])
            await session.commit()
        return IndexResult(dimensions=len(vec))

    @activity.defn(name=GET_LIVE_VERSION)
    async def live_version(self, inp: LiveVersionInput) -> LiveVersionResult:
        """The agent's live version (None when nothing is live)."""
        async with self.db.session() as session:
            agent = await session.get(Agent, inp.name)
        return LiveVersionResult(version=agent.live_version if agent else None)

    @activity.defn(name=SET_LIVE_VERSION)
    async def set_live_version(self, inp: SetLiveVersionInput) -> SetLiveVersionResult:
        """Make ``inp.version`` the agent's live version. Versions still ``live`` besides it become
        ``superseded`` (their lifecycle workflows are also told, and record the same)."""
        async with self.db.session() as session:
            agent = await session.get(Agent, inp.name)
            if agent is None:
                raise ApplicationError(f"agent {inp.name} is not in the catalog", type="UnknownAgentVersion", non_retryable=True)
            previous = agent.live_version
            agent.live_version = inp.version
            session.add(agent)
            for old in (await session.exec(select(AgentVersion).where(
                    AgentVersion.agent_name == inp.name, AgentVersion.status == VersionStatus.LIVE,
                    AgentVersion.version != inp.version))).all():
                old.status, old.status_detail, old.updated_at = VersionStatus.SUPERSEDED, f"superseded by v{inp.version}", utcnow()
                session.add(old)
            await _refresh_agent_status(session, inp.name)
            await session.commit()
        return SetLiveVersionResult(previous=previous if previous != inp.version else None)
