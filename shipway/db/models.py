"""SQLModel tables of Shipway's catalog.

Times are timezone-aware UTC. Money is US dollars (``*_usd``), durations are
milliseconds (``*_ms``), token counts are integers. LangGraph's checkpoint tables
are created separately by ``AsyncPostgresSaver.setup()``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pgvector.sqlalchemy import Vector
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, DateTime, Index, LargeBinary, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import AutoString, Field, SQLModel

from workflows.statuses import DeploymentState, RunStatus, VersionStatus, WebhookOutcome

EMBEDDING_DIM = 384


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def status_check(enum: type[StrEnum], table: str, exclude: tuple[StrEnum, ...] = ()) -> CheckConstraint:
    """A CHECK that ``status`` holds one of ``enum``'s values but ``exclude`` (statuses are stored as text)."""
    values = ", ".join(f"'{m.value}'" for m in enum if m not in exclude)
    return CheckConstraint(f"status IN ({values})", name=f"ck_{table}_status")


def _status(default: StrEnum) -> Any:
    # text, not a PostgreSQL ENUM type: adding a status is then a CHECK change, not an ALTER TYPE
    return Field(default=default, sa_type=AutoString)


class Agent(SQLModel, table=True):
    """An agent: a named line of versions owned by one person, private to one ``tenant`` or shared
    (``None``: every tenant's keys may run it)."""

    __tablename__ = "agents"
    name: str = Field(primary_key=True, max_length=63)
    owner: str
    template: str
    description: str = ""
    live_version: int | None = None
    tenant: str | None = Field(default=None, max_length=100)  # None: shared, every tenant may run it
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class AgentVersion(SQLModel, table=True):
    """One version of an agent: its validated spec, built artifact (SHA-256 in the artifact store and
    its manifest: entry point, files, input schema, test report) and lifecycle state.

    ``status`` is a :class:`~workflows.statuses.VersionStatus` (state machine in
    ``docs/architecture.md``); ``status_detail`` says why it failed, was rejected or rolled back.
    """

    __tablename__ = "agent_versions"
    __table_args__ = (UniqueConstraint("agent_name", "version"), status_check(VersionStatus, "agent_versions"))
    id: int | None = Field(default=None, primary_key=True)
    agent_name: str = Field(foreign_key="agents.name", index=True)
    version: int
    spec: dict = Field(sa_column=Column(JSONB, nullable=False))
    status: VersionStatus = _status(VersionStatus.SUBMITTED)
    status_detail: str = ""
    submitted_by: str = ""
    artifact_sha256: str | None = None
    manifest: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    embedding: list[float] | None = Field(default=None, sa_column=Column(Vector(EMBEDDING_DIM), nullable=True))
    workflow_id: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


Index(
    "ix_agent_versions_embedding_hnsw",
    AgentVersion.__table__.c.embedding,
    postgresql_using="hnsw",
    postgresql_with={"m": 16, "ef_construction": 64},
    postgresql_ops={"embedding": "vector_cosine_ops"},
)


class Approval(SQLModel, table=True):
    """A decision sent to a lifecycle workflow. ``accepted`` is False when the workflow refused it
    (malformed, no approver, the approver is the owner, already decided); ``refusal_reason`` says
    why. ``channel``: ``signal`` (console, CLI, ``temporal workflow signal``) or ``update``."""

    __tablename__ = "approvals"
    id: int | None = Field(default=None, primary_key=True)
    agent_name: str = Field(index=True)
    version: int
    decision: str  # approve | reject
    approver: str
    reason: str = ""
    accepted: bool = True
    refusal_reason: str | None = None
    channel: str = "signal"
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class Deployment(SQLModel, table=True):
    """A rollout of one agent version with a named strategy (CodeDeploy names): its state, the
    share of traffic (percent) on the new version, and why it ended as it did."""

    __tablename__ = "deployments"
    __table_args__ = (status_check(DeploymentState, "deployments"),)
    id: int | None = Field(default=None, primary_key=True)
    agent_name: str = Field(index=True)
    version: int
    strategy: str
    target: str = "local"
    status: DeploymentState = _status(DeploymentState.IN_PROGRESS)
    workflow_id: str = Field(unique=True)
    weight_pct: float = 0.0
    detail: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class TrafficWeight(SQLModel, table=True):
    """Share of an agent's traffic (percent, 0-100) routed to one version by the gateway."""

    __tablename__ = "traffic_weights"
    agent_name: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    weight_pct: float
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class Run(SQLModel, table=True):
    """One agent run (``AgentRunWorkflow``). ``status`` is a :class:`~workflows.statuses.RunStatus`;
    ``artifact_sha256`` the artifact whose code ran.

    ``latency_ms`` is wall time from start to final result, excluding time spent waiting
    for a human (``wait_ms``)."""

    __tablename__ = "runs"
    __table_args__ = (status_check(RunStatus, "runs", exclude=(RunStatus.REFUSED,)),)
    id: str = Field(primary_key=True)
    agent_name: str = Field(index=True)
    version: int
    thread_id: str = Field(index=True)
    tenant: str = Field(default="default", index=True)
    started_by: str = ""  # id of the API key that started it ("" when started outside the gateway)
    status: RunStatus = _status(RunStatus.RUNNING)
    input: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    output: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    interrupt: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    error: str | None = None
    artifact_sha256: str | None = None
    workflow_id: str
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    latency_ms: float | None = None
    wait_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


class Artifact(SQLModel, table=True):
    """A content-addressed object of the PostgreSQL artifact store: a version's artifact or a submitted
    project's source archive (``kind``), by the SHA-256 of its bytes. Immutable."""

    __tablename__ = "artifacts"
    sha256: str = Field(primary_key=True, max_length=64)
    kind: str
    size_bytes: int
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class Thread(SQLModel, table=True):
    """A conversation thread (LangGraph ``thread_id``): it belongs to one agent and one tenant, and
    at most one unfinished run (``active_run_id``: running or waiting for a human) holds it."""

    __tablename__ = "threads"
    thread_id: str = Field(primary_key=True, max_length=200)
    agent_name: str = Field(index=True)
    tenant: str
    active_run_id: str | None = None
    last_run_id: str
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class GuardResult(SQLModel, table=True):
    """One guard's verdict on one stage of a run: its ``input``, a ``resume:<n>`` value, or its
    ``output``. ``verdict``: pass | redacted | blocked | withheld. ``findings`` holds entity counts
    and rail scores, never the text itself. ``latency_ms`` is the guard's own time."""

    __tablename__ = "guard_results"
    __table_args__ = (UniqueConstraint("run_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    agent_name: str = Field(index=True)
    version: int
    stage: str
    verdict: str
    rail: str | None = None
    reason_code: str | None = None
    detail: str = ""
    findings: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    latency_ms: float = 0.0
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class LlmUsage(SQLModel, table=True):
    """Token usage of one LLM call inside a run, priced from :class:`ModelPrice`."""

    __tablename__ = "llm_usage"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ModelPrice(SQLModel, table=True):
    """Price of a model in US dollars per million tokens (provider list prices)."""

    __tablename__ = "model_prices"
    model: str = Field(primary_key=True)
    input_usd_per_mtok: float
    output_usd_per_mtok: float


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained audit log. ``hash`` = SHA-256 over ``prev_hash`` and the
    canonical JSON of (ts, actor, action, subject, detail)."""

    __tablename__ = "audit_events"
    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str
    action: str = Field(index=True)
    subject: str = Field(index=True)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    prev_hash: str
    hash: str = Field(unique=True)


class ApiKey(SQLModel, table=True):
    """An API key of the gateway, bound to a tenant and a :class:`~shipway.auth.roles.Role`. Only a
    salted SHA-256 of its secret is kept (:mod:`shipway.auth.keys`); ``prefix`` finds it. A revoked
    key keeps its row (``revoked_at``) so the audit log's references stay resolvable."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True, max_length=36)
    prefix: str = Field(unique=True, max_length=12)
    salt: str
    hash: str
    tenant: str = Field(max_length=100)
    role: str
    name: str = ""
    created_by: str = ""
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class ApprovalRequest(SQLModel, table=True):
    """A version's request for approval, opened when its lifecycle reaches the approval step: how
    many distinct approvers it needs (2 for ``restricted`` data), the spec guard's findings, and its
    Jira issue when Jira is configured. ``jira_unreachable_since`` is set while Jira calls fail (the
    workflow keeps retrying) and cleared by the next success; ``jira_error`` keeps the last failure.
    ``jira_account_id`` is the account Shipway acts as in Jira, so its own changes are not taken
    for decisions. Only :mod:`activities.approval_requests` writes it."""

    __tablename__ = "approval_requests"
    agent_name: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    workflow_id: str
    owner: str = ""
    required_approvers: int = 1
    guard_findings: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    jira_key: str | None = Field(default=None, index=True)  # not unique: another Jira site may reuse a key
    jira_url: str | None = None
    jira_account_id: str | None = None
    jira_unreachable_since: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    jira_error: str | None = None
    requested_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


# The deliveries a (source, identifier) may be taken by once: the predicate of the partial unique
# index, which an ON CONFLICT must repeat to the letter (activities.webhook_deliveries.claim).
DELIVERY_TAKEN = "signature_valid AND outcome <> 'duplicate' AND identifier IS NOT NULL"


class WebhookDelivery(SQLModel, table=True):
    """One webhook delivery as it arrived, whatever became of it (:class:`WebhookOutcome`):
    headers of interest, whether its signature verified, the decision it carried and the workflow it
    signalled. ``body`` is kept only for a delivery that verified (a dead letter is re-driven from
    it); ``body_sha256`` and ``body_bytes`` are kept for every one. One verified, non-duplicate
    delivery per (``source``, ``identifier``): a retried delivery is recorded as ``duplicate``.
    Only :mod:`activities.webhook_deliveries` writes it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("outcome IN ({})".format(", ".join(f"'{o.value}'" for o in WebhookOutcome)),
                        name="ck_webhook_deliveries_outcome"),
        Index("uq_webhook_deliveries_identifier", "source", "identifier", unique=True, postgresql_where=DELIVERY_TAKEN),
        Index("ix_webhook_deliveries_dead_letters", "received_at", postgresql_where="outcome = 'dead_letter'"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = "jira"
    identifier: str | None = None
    received_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    client_address: str = ""
    headers: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    body_bytes: int = 0
    body_sha256: str = ""
    body: str | None = None
    signature_valid: bool | None = None
    outcome: WebhookOutcome = _status(WebhookOutcome.IGNORED)
    detail: str = ""
    event: str | None = None
    issue_key: str | None = Field(default=None, index=True)
    decision: str | None = None
    jira_account_id: str | None = None
    approver: str | None = None
    workflow_id: str | None = None
    attempts: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class DeploymentAnalysis(SQLModel, table=True):
    """One canary analysis of a rollout: the window, the overall verdict, each metric's verdict
    against its threshold (:class:`~workflows.types.MetricVerdict` as JSON), the reasons of a
    breach, and the metrics of the canary and the stable version. One row per (``workflow_id``,
    ``analysis_index``), so a retried analysis replaces its row. Only :mod:`activities.canary` writes it."""

    __tablename__ = "deployment_analyses"
    __table_args__ = (UniqueConstraint("workflow_id", "analysis_index", name="uq_deployment_analyses_workflow_index"),)
    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str
    analysis_index: int
    agent_name: str = Field(index=True)
    version: int
    baseline_version: int | None = None
    step_index: int
    weight_pct: float = 0.0
    window_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    analysed_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    verdict: str
    reasons: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    metrics: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    canary: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    baseline: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
