"""Read-only queries of the catalog database for the console pages.

Every function opens a short session on :func:`shipway.db.engine.sync_engine` and
returns plain values or pandas DataFrames ready for ``st.dataframe``. Times are
timezone-aware UTC; ``latency_ms`` is milliseconds, ``cost_usd`` US dollars.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlmodel import Session, col, select

from shipway.db.engine import sync_engine
from shipway.db.models import Agent, AgentVersion, Approval, Run, TrafficWeight
from shipway.settings import get_settings

RUN_STATUSES = ("running", "interrupted", "succeeded", "failed")
SHA_SHORT = 12  # hex digits shown of an artifact's SHA-256


class DatabaseUnavailable(RuntimeError):
    """The catalog database is not configured, cannot be reached, or has no schema yet."""


@contextmanager
def session() -> Iterator[Session]:
    """A SQLModel session on the catalog database.

    Raises:
        DatabaseUnavailable: no database is configured, the server refuses connections,
            or the tables do not exist (migrations not applied).
    """
    try:
        engine = sync_engine()
    except RuntimeError as exc:
        raise DatabaseUnavailable(str(exc)) from exc
    try:
        with Session(engine) as s:
            yield s
    except OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach the database: {exc.orig}") from exc
    except ProgrammingError as exc:
        raise DatabaseUnavailable(f"the database has no Shipway schema: {exc.orig}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(f"lost the database connection: {exc.orig}") from exc
        raise


def short_sha(sha256: str | None) -> str:
    """The first :data:`SHA_SHORT` hex digits of a SHA-256, or ``""`` when there is none."""
    return (sha256 or "")[:SHA_SHORT]


def agents_frame() -> pd.DataFrame:
    """One row per agent: ``name, owner, template, live_version, versions, description``."""
    with session() as s:
        agents = s.exec(select(Agent).order_by(Agent.name)).all()
        counts: dict[str, int] = {}
        for name in s.exec(select(AgentVersion.agent_name)).all():
            counts[name] = counts.get(name, 0) + 1
    return pd.DataFrame(
        [
            {
                "name": a.name,
                "owner": a.owner,
                "template": a.template,
                "live_version": a.live_version,
                "versions": counts.get(a.name, 0),
                "description": a.description,
            }
            for a in agents
        ],
        columns=["name", "owner", "template", "live_version", "versions", "description"],
    )


def versions_frame(agent_name: str | None = None) -> pd.DataFrame:
    """One row per agent version, newest first, with a link to its lifecycle workflow.

    Columns: ``agent, version, status, artifact_sha256`` (short), ``workflow_id``,
    ``workflow`` (Temporal Web UI URL), ``updated_at``.
    """
    settings = get_settings()
    query = select(AgentVersion).order_by(AgentVersion.agent_name, col(AgentVersion.version).desc())
    if agent_name:
        query = query.where(AgentVersion.agent_name == agent_name)
    with session() as s:
        rows = s.exec(query).all()
    return pd.DataFrame(
        [
            {
                "agent": v.agent_name,
                "version": v.version,
                "status": v.status,
                "artifact_sha256": short_sha(v.artifact_sha256),
                "workflow_id": v.workflow_id,
                "workflow": settings.workflow_url(v.workflow_id),
                "updated_at": v.updated_at,
            }
            for v in rows
        ],
        columns=["agent", "version", "status", "artifact_sha256", "workflow_id", "workflow", "updated_at"],
    )


def traffic_frame() -> pd.DataFrame:
    """Current traffic weights: ``agent, version, weight_pct`` (percent of the agent's traffic), ``updated_at``."""
    with session() as s:
        rows = s.exec(select(TrafficWeight).order_by(TrafficWeight.agent_name, TrafficWeight.version)).all()
    return pd.DataFrame(
        [{"agent": w.agent_name, "version": w.version, "weight_pct": w.weight_pct, "updated_at": w.updated_at} for w in rows],
        columns=["agent", "version", "weight_pct", "updated_at"],
    )


@dataclass
class PendingApproval:
    """An agent version waiting for an approver, with its spec summary and refused attempts."""

    agent: str
    version: int
    owner: str
    template: str
    model: str | None
    data_classification: str
    description: str
    workflow_id: str
    waiting_since: datetime
    refused: list[Approval] = field(default_factory=list)

    @property
    def workflow_url(self) -> str:
        """Link to the lifecycle workflow in the Temporal Web UI."""
        return get_settings().workflow_url(self.workflow_id)


def pending_approvals() -> list[PendingApproval]:
    """Versions whose status is ``awaiting_approval``, oldest first, each with its refused approvals."""
    with session() as s:
        versions = s.exec(
            select(AgentVersion).where(AgentVersion.status == "awaiting_approval").order_by(AgentVersion.updated_at)
        ).all()
        pending = []
        for v in versions:
            agent = s.get(Agent, v.agent_name)
            spec = v.spec or {}
            pending.append(
                PendingApproval(
                    agent=v.agent_name,
                    version=v.version,
                    owner=str(spec.get("owner") or (agent.owner if agent else "")),
                    template=str(spec.get("template") or (agent.template if agent else "")),
                    model=spec.get("model"),
                    data_classification=str(spec.get("data_classification", "internal")),
                    description=str(spec.get("description") or (agent.description if agent else "")),
                    workflow_id=v.workflow_id,
                    waiting_since=v.updated_at,
                    refused=list(
                        s.exec(
                            select(Approval)
                            .where(Approval.agent_name == v.agent_name, Approval.version == v.version, Approval.accepted == False)  # noqa: E712
                            .order_by(Approval.created_at)
                        ).all()
                    ),
                )
            )
    return pending


def last_approval_id(agent: str, version: int) -> int:
    """Highest ``approvals.id`` recorded for one version so far (0 when none); a watermark for :func:`decision_since`."""
    with session() as s:
        ids = s.exec(select(Approval.id).where(Approval.agent_name == agent, Approval.version == version)).all()
    return max(ids, default=0)


def decision_since(agent: str, version: int, approver: str, after_id: int) -> Approval | None:
    """The newest approvals row for ``approver``'s decision on one version with ``id > after_id``.

    Ids are a sequence, so this finds what the workflow recorded after a signal without
    comparing clocks. Returns ``None`` while nothing has been recorded.
    """
    with session() as s:
        return s.exec(
            select(Approval)
            .where(Approval.agent_name == agent, Approval.version == version, Approval.approver == approver, col(Approval.id) > after_id)
            .order_by(col(Approval.id).desc())
        ).first()


def version_status(agent: str, version: int) -> str | None:
    """``agent_versions.status`` of one version, or ``None`` if it does not exist."""
    with session() as s:
        return s.exec(select(AgentVersion.status).where(AgentVersion.agent_name == agent, AgentVersion.version == version)).first()


def agent_names() -> list[str]:
    """Names of all agents that have runs or versions, sorted."""
    with session() as s:
        names = set(s.exec(select(Agent.name)).all()) | set(s.exec(select(Run.agent_name).distinct()).all())
    return sorted(names)


def runs_frame(agent: str | None = None, status: str | None = None, limit: int = 500) -> pd.DataFrame:
    """The newest ``limit`` runs, optionally of one agent and/or one status.

    Columns: ``run_id, agent, version, status, latency_ms, cost_usd, tokens_in, tokens_out,
    tenant, started_at, workflow`` (Temporal Web UI URL).
    """
    settings = get_settings()
    query = select(Run).order_by(col(Run.started_at).desc()).limit(limit)
    if agent:
        query = query.where(Run.agent_name == agent)
    if status:
        query = query.where(Run.status == status)
    with session() as s:
        rows = s.exec(query).all()
    return pd.DataFrame(
        [
            {
                "run_id": r.id,
                "agent": r.agent_name,
                "version": r.version,
                "status": r.status,
                "latency_ms": r.latency_ms,
                "cost_usd": r.cost_usd,
                "tokens_in": r.tokens_in,
                "tokens_out": r.tokens_out,
                "tenant": r.tenant,
                "started_at": r.started_at,
                "workflow": settings.workflow_url(r.workflow_id),
            }
            for r in rows
        ],
        columns=["run_id", "agent", "version", "status", "latency_ms", "cost_usd", "tokens_in", "tokens_out", "tenant", "started_at", "workflow"],
    )


@dataclass(frozen=True)
class RunTotals:
    """Aggregates over a set of runs: count, per-status counts, summed cost (USD),
    mean and 95th-percentile latency (ms, over runs that recorded one; NaN when none did)."""

    runs: int
    by_status: dict[str, int]
    cost_usd: float
    mean_latency_ms: float
    p95_latency_ms: float


def run_totals(runs: pd.DataFrame) -> RunTotals:
    """Totals of a frame returned by :func:`runs_frame`."""
    latency = runs["latency_ms"].dropna().astype(float)
    return RunTotals(
        runs=len(runs),
        by_status={k: int(v) for k, v in runs["status"].value_counts().items()},
        cost_usd=float(runs["cost_usd"].sum()),
        mean_latency_ms=float(latency.mean()) if len(latency) else float("nan"),
        p95_latency_ms=float(latency.quantile(0.95)) if len(latency) else float("nan"),
    )


def get_run(run_id: str) -> Run | None:
    """One run by id, or ``None``."""
    with session() as s:
        return s.get(Run, run_id)
