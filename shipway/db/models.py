"""SQLModel tables of Shipway's catalog.

Times are timezone-aware UTC. Money is US dollars (``*_usd``), durations are
milliseconds (``*_ms``), token counts are integers. LangGraph's checkpoint tables
are created separately by ``AsyncPostgresSaver.setup()``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from pgvector.sqlalchemy import Vector
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Column, DateTime, Identity, Index, LargeBinary, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy import Computed  # agent search (0013)
from sqlalchemy.dialects.postgresql import TSVECTOR  # agent search (0013)
from sqlmodel import AutoString, Field, SQLModel

from workflows.statuses import DeploymentState, RunbookStatus, RunbookStepStatus, RunbookTrigger, RunStatus, VersionStatus, WebhookOutcome

EMBEDDING_DIM = 384
# agents.search_tsv (migration 0013): name weighs most, then description, then template; English stemming
AGENT_SEARCH_TSV = ("setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') || "
                    "setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B') || "
                    "setweight(to_tsvector('english'::regconfig, coalesce(template, '')), 'C')")


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
    # -- agent search (migration 0013; read by shipway/search.py) ------------------------------------
    # the live version's status, else the newest version's: kept by activities/catalog.py
    status: VersionStatus = Field(default=VersionStatus.SUBMITTED, sa_type=AutoString,
                                  sa_column_kwargs={"server_default": VersionStatus.SUBMITTED.value})
    # the description's embedding, written by the index step
    embedding: list[float] | None = Field(default=None, sa_column=Column(Vector(EMBEDDING_DIM), nullable=True))
    search_tsv: str | None = Field(default=None, sa_column=Column(TSVECTOR, Computed(AGENT_SEARCH_TSV, persisted=True)))
    # -- end agent search ------------------------------------------------------------------------------


# -- agent search (migration 0013) -------------------------------------------------------------------
Agent.__table__.append_constraint(status_check(VersionStatus, "agents"))
Index("ix_agents_embedding_hnsw", Agent.__table__.c.embedding, postgresql_using="hnsw",
      postgresql_with={"m": 16, "ef_construction": 128}, postgresql_ops={"embedding": "vector_cosine_ops"})
Index("ix_agents_search_tsv", Agent.__table__.c.search_tsv, postgresql_using="gin")
# -- end agent search ------------------------------------------------------------------------------------


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
    meta: dict = Field(default_factory=dict, sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")))


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
    agent_name: str | None = Field(default=None, index=True)  # None until a first run binds it (``POST /threads``)
    tenant: str
    active_run_id: str | None = None
    last_run_id: str | None = None
    meta: dict = Field(default_factory=dict, sa_column=Column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb")))
    created_by: str = Field(default="", sa_column_kwargs={"server_default": ""})  # id of the key that made it ("": unknown)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class RunEvent(SQLModel, table=True):
    """One chunk a run streamed (``event``: ``metadata``, a stream mode such as ``values`` or
    ``updates|<namespace>``, ``error``, ``end``), in order of ``id``; readers replay from an id and
    follow new ones with ``LISTEN run_events`` (:mod:`activities.run_events`)."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run_id_id", "run_id", "id"),)
    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    run_id: str
    tenant: str = Field(max_length=100)
    event: str
    data: Any = Field(default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False,
                                                                            server_default=text("now()")))


class CodeMapping(SQLModel, table=True):
    """One plan node of a DAG -> code mapping job (a run of a ``dag_mapping`` agent) placed in code:
    ``path`` (repository-relative), ``symbol``, ``start_line``..``end_line`` (1-based, inclusive;
    ``None`` when a person found no code for it), ``confidence`` in [0, 1], ``band`` (``accept``,
    ``second_pass``, ``reviewed``, ``rejected``), ``alternatives`` (other candidate spans with their
    scores), ``children`` (node ids: the plan's edges), ``position`` (pre-order, root 0). Written once
    the job ends (:mod:`activities.code_mappings`)."""

    __tablename__ = "code_mappings"
    run_id: str = Field(primary_key=True)
    node_id: str = Field(primary_key=True)
    tenant: str = Field(max_length=100, index=True)
    analysis_id: str = Field(index=True)
    position: int
    operator: str
    kind: str
    path: str | None = None
    symbol: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    confidence: float
    band: str
    explanation: str = ""
    alternatives: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    children: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    source: str
    reviewed_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


# A node's fields of :class:`CodeMapping` as a mapping job's output lists them (one dict per node),
# in that order: what the rows are written from and what the jobs API answers.
CODE_MAPPING_FIELDS = ("node_id", "children", "operator", "kind", "path", "symbol", "start_line", "end_line",
                       "confidence", "band", "explanation", "alternatives", "source", "reviewed_by")


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
    """Token usage of one LLM call inside a run, priced from :class:`ModelPrice`; ``node`` is the
    LangGraph node that made it (None for calls outside a node, and rows from before migration 0012)."""

    __tablename__ = "llm_usage"
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True)
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    node: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ModelPrice(SQLModel, table=True):
    """Price of a model per million input and output tokens, in ``currency`` (an ISO 4217 code; the
    column names predate it: Shipway prices calls in USD), in effect from ``effective_from`` to
    ``effective_to`` (days, inclusive; None = open). ``source`` and ``source_date`` say where and when
    the price was read (None for rows older than migration 0011). No two ranges of a model overlap
    (exclusion constraint). Written only by :mod:`shipway.price_book` (the seed and an admin's edits)."""

    __tablename__ = "model_prices"
    __table_args__ = (CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_model_prices_currency"),
                      CheckConstraint("effective_to IS NULL OR effective_to >= effective_from", name="ck_model_prices_range"))
    model: str = Field(primary_key=True)
    effective_from: date = Field(primary_key=True)
    effective_to: date | None = None
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    currency: str = Field(default="USD", max_length=3, sa_column_kwargs={"server_default": "USD"})
    source: str | None = None
    source_date: date | None = None
    updated_by: str = ""
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


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


# -- cost governance (issue 13): cost rollups, daily budget alerts, indexes of their range scans ---------
class CostRollup(SQLModel, table=True):
    """Cost of one UTC ``day``, agent, version, tenant and model: ``runs`` (distinct runs with a call of
    that model that day; a run using two models counts in both), ``calls``, tokens, cost (``currency``,
    always USD: LLM calls are priced in USD). Model ``-`` holds the runs started that day that made no
    LLM call. Days follow the call's time (a run's start for model ``-``). Recomputed by the
    cost-rollup schedule; written only by :mod:`activities.cost_rollups`."""

    __tablename__ = "cost_rollups"
    __table_args__ = (Index("ix_cost_rollups_agent_name_day", "agent_name", "day"),)
    day: date = Field(primary_key=True)
    agent_name: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    tenant: str = Field(primary_key=True)
    model: str = Field(primary_key=True)
    runs: int = 0
    calls: int = 0
    tokens_in: int = Field(default=0, sa_type=BigInteger)
    tokens_out: int = Field(default=0, sa_type=BigInteger)
    cost_usd: float = 0.0
    currency: str = Field(default="USD", max_length=3, sa_column_kwargs={"server_default": "USD"})
    refreshed_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class BudgetAlert(SQLModel, table=True):
    """An agent's spend on a UTC ``day`` reached ``threshold_pct`` (80 or 100) of its daily budget
    (spec ``daily_budget_usd``): spent and budget in USD when it fired. Once per agent, day and
    threshold. Written only by :mod:`activities.cost_rollups`."""

    __tablename__ = "budget_alerts"
    __table_args__ = (CheckConstraint("threshold_pct IN (80, 100)", name="ck_budget_alerts_threshold_pct"),)
    agent_name: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    threshold_pct: int = Field(primary_key=True)
    spent_usd: float
    budget_usd: float
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


# an agent's spend since midnight (daily budgets) and the LLM calls of a day range (rollups)
Index("ix_runs_agent_name_started_at", Run.__table__.c.agent_name, Run.__table__.c.started_at)
Index("ix_llm_usage_created_at", LlmUsage.__table__.c.created_at)
# -- end cost governance ------------------------------------------------------------------------------


# -- runbooks (issue 14): one row per runbook run and per step; written only by activities/runbook_reports.py
class RunbookRun(SQLModel, table=True):
    """One run of a runbook workflow: ``id`` is its workflow id; ``runbook`` a
    :class:`~workflows.statuses.Runbook` value; ``subject`` what it is about (an agent, a deployment,
    a backup) or None; ``params`` its input; ``report`` the final report (findings, actions, who
    confirmed them, durations in seconds) once it ended."""

    __tablename__ = "runbook_runs"
    __table_args__ = (Index("ix_runbook_runs_started_at", "started_at"),)
    id: str = Field(primary_key=True)
    runbook: str
    status: str = _status(RunbookStatus.RUNNING)
    trigger: str = Field(default=RunbookTrigger.OPERATOR, sa_type=AutoString)
    started_by: str
    reason: str = ""
    subject: str | None = None
    params: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    summary: str = ""
    report: dict | None = Field(default=None, sa_column=Column(JSONB))
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class RunbookStep(SQLModel, table=True):
    """Step ``seq`` of a runbook run: ``kind`` diagnostic | remediation; ``findings`` what it found
    (JSON); for a remediation, ``proposal`` (what it would change), and who answered (``decided_by``,
    ``reason``); ``result`` what it changed; ``error`` why it failed or timed out. Times UTC."""

    __tablename__ = "runbook_steps"
    run_id: str = Field(primary_key=True, foreign_key="runbook_runs.id")
    seq: int = Field(primary_key=True)
    name: str
    kind: str
    status: str = _status(RunbookStepStatus.RUNNING)
    findings: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    proposal: str = ""
    decided_by: str | None = None
    reason: str | None = None
    result: dict | None = Field(default=None, sa_column=Column(JSONB))
    error: str | None = None
    started_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


# -- backups (issue 14): written only by activities/backups.py --------------------------------------
class Backup(SQLModel, table=True):
    """One base backup (migration 0016): ``kind`` full | incremental (``parent_id`` the full backup
    it builds on); ``path`` its folder on the machine that took it, ``s3_url`` where it was shipped;
    the WAL it needs starts at ``start_lsn`` (file ``start_wal``, ``timeline``) and it is consistent
    at ``stop_lsn``; ``verified`` whether ``pg_verifybackup`` passed (``verify_detail``);
    ``deleted_at`` when retention removed it. The same facts live in ``shipway_backup.json`` next to
    the backup (``activities/backup_catalog.py``), readable when this database is gone."""

    __tablename__ = "backups"
    __table_args__ = (CheckConstraint("kind IN ('full', 'incremental')", name="ck_backups_kind"),
                      CheckConstraint("(kind = 'full') = (parent_id IS NULL)", name="ck_backups_parent"),
                      Index("ix_backups_started_at", "started_at"))
    id: str = Field(primary_key=True, max_length=64)
    kind: str
    parent_id: str | None = Field(default=None, max_length=64)
    label: str = ""
    path: str
    s3_url: str | None = None
    start_lsn: str
    stop_lsn: str
    start_wal: str
    timeline: int
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    size_bytes: int = Field(sa_type=BigInteger)
    verified: bool
    verify_detail: str = ""
    temporal_db_copied: bool = False
    started_by: str = ""
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


# -- end backups -------------------------------------------------------------------------------------
