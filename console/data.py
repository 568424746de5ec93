"""What the console pages read, through :mod:`shipway.queries`.

Every function opens a short session on :func:`shipway.db.engine.sync_engine`, calls the query
functions and returns rows, plain values or pandas DataFrames ready for ``st.dataframe``. Times
are timezone-aware UTC; ``latency_ms`` is milliseconds, ``cost_usd`` US dollars.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlmodel import Session

from activities.artifact_store import store_from_settings
from shipway import queries
from shipway.db.engine import sync_engine
from shipway.db.models import Approval, Run, WebhookDelivery, utcnow
from shipway.settings import get_settings
from shipway.version_diff import VersionDiff, diff_versions
from workflows.statuses import ApprovalKind, RunStatus, WebhookOutcome

# ``refused`` is only a workflow outcome: no runs row ever has it.
RUN_STATUSES = tuple(s for s in RunStatus if s is not RunStatus.REFUSED)
RUNS_TABLE_LIMIT = 500  # rows in the Runs table; totals cover every matching run
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


# -- agents ----------------------------------------------------------------------------------------
def agents_frame() -> pd.DataFrame:
    """One row per agent: ``name, owner, template, live_version, versions, description``."""
    with session() as s:
        agents = queries.agents(s)
        counts = queries.version_counts(s)
    return pd.DataFrame(
        [{"name": a.name, "owner": a.owner, "template": a.template, "live_version": a.live_version,
          "versions": counts.get(a.name, 0), "description": a.description} for a in agents],
        columns=["name", "owner", "template", "live_version", "versions", "description"],
    )


def versions_frame(agent_name: str | None = None) -> pd.DataFrame:
    """One row per agent version, by agent, newest version first, with a link to its lifecycle workflow.

    Columns: ``agent, version, status, status_detail`` (why it failed, was rejected, expired,
    rolled back or superseded; ``""`` otherwise), ``submitted_by, artifact_sha256`` (short),
    ``workflow_id, workflow`` (Temporal Web UI URL), ``updated_at``.
    """
    settings = get_settings()
    with session() as s:
        rows = queries.versions(s, agent_name)
    return pd.DataFrame(
        [{"agent": v.agent_name, "version": v.version, "status": v.status, "status_detail": v.status_detail,
          "submitted_by": v.submitted_by, "artifact_sha256": short_sha(v.artifact_sha256), "workflow_id": v.workflow_id,
          "workflow": settings.workflow_url(v.workflow_id), "updated_at": v.updated_at} for v in rows],
        columns=["agent", "version", "status", "status_detail", "submitted_by", "artifact_sha256", "workflow_id", "workflow",
                 "updated_at"],
    )


def traffic_frame() -> pd.DataFrame:
    """Versions receiving traffic: ``agent, version, weight_pct`` (percent of the agent's traffic), ``updated_at``."""
    with session() as s:
        rows = queries.traffic(s)
    return pd.DataFrame(
        [{"agent": w.agent_name, "version": w.version, "weight_pct": w.weight_pct, "updated_at": w.updated_at} for w in rows],
        columns=["agent", "version", "weight_pct", "updated_at"],
    )


def version_numbers(agent_name: str) -> list[int]:
    """The agent's version numbers, newest first (empty for an unknown agent)."""
    with session() as s:
        return [v.version for v in queries.versions(s, agent_name)]


def next_version(agent_name: str) -> int:
    """The version number a new submission of ``agent_name`` gets (1 for a new agent)."""
    with session() as s:
        return queries.next_version(s, agent_name)


@dataclass
class VersionComparison:
    """Two versions of an agent compared: the spec diff and, when both versions have an artifact, the
    changed files (``diff.files``). ``unbuilt`` lists the versions without an artifact yet (not
    scaffolded, or failed before), with their status; their files are not compared."""

    agent: str
    old: int
    new: int
    diff: VersionDiff
    unbuilt: list[tuple[int, str]]


def compare_versions(agent_name: str, old: int, new: int) -> VersionComparison:
    """What changed from ``agent_name`` v``old`` to v``new``: the spec, and the artifacts file by file
    (read from the artifact store).

    Raises:
        LookupError: the agent has no such version.
        activities.artifact_store.ArtifactNotFound: a version's artifact is missing from the store.
        activities.artifact_format.ArtifactError: an artifact is not a readable archive.
        DatabaseUnavailable: as :func:`session`, or the store's database cannot be reached.
    """
    with session() as s:
        rows = {v: queries.agent_version(s, agent_name, v) for v in (old, new)}
    missing = [f"v{v}" for v, row in rows.items() if row is None]
    if missing:
        raise LookupError(f"{agent_name} has no {' or '.join(missing)}")
    unbuilt = [(v, str(row.status)) for v, row in rows.items() if not row.artifact_sha256]
    artifacts: dict[int, bytes | None] = {old: None, new: None}
    if not unbuilt:
        # a missing side would list every file of the other as added or removed: compare files only when both exist
        try:
            store = store_from_settings(get_settings())
            artifacts = {v: store.get(row.artifact_sha256) for v, row in rows.items()}
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot reach the artifact store: {exc}") from exc
    diff = diff_versions(rows[old].spec, rows[new].spec, artifacts[old], artifacts[new], f"v{old}", f"v{new}")
    return VersionComparison(agent=agent_name, old=old, new=new, diff=diff, unbuilt=unbuilt)


# -- approvals -------------------------------------------------------------------------------------
@dataclass
class PendingApproval:
    """An agent version waiting for an approver: its spec summary, the attempts the workflow refused
    (``approvals`` rows with ``accepted`` False, oldest first), the accepted approvals so far (a
    ``restricted`` version needs two different approvers), its approval request (Jira issue, whether
    Jira is failing, the spec guard's findings) and the version it is compared with.

    ``jira_key`` / ``jira_url`` are None until the issue exists (or always, without Jira);
    ``jira_unreachable_since`` is set while the workflow's Jira calls fail, with the last error in
    ``jira_error``. ``guard_findings`` are dicts ``{field, entity, start, end, score}``.
    ``previous_version`` is the newest earlier version with an artifact, or None.
    """

    agent: str
    version: int
    owner: str
    submitted_by: str
    template: str
    model: str | None
    data_classification: str
    description: str
    workflow_id: str
    waiting_since: datetime
    refused: list[Approval] = field(default_factory=list)
    required_approvers: int = 1
    approvers_so_far: list[str] = field(default_factory=list)
    jira_key: str | None = None
    jira_url: str | None = None
    jira_unreachable_since: datetime | None = None
    jira_error: str | None = None
    guard_findings: list[dict] = field(default_factory=list)
    previous_version: int | None = None

    @property
    def workflow_url(self) -> str:
        """Link to the lifecycle workflow in the Temporal Web UI."""
        return get_settings().workflow_url(self.workflow_id)

    @property
    def age(self) -> timedelta:
        """How long the version has been waiting, until now."""
        return utcnow() - self.waiting_since


def previous_built_version(s: Session, agent_name: str, version: int) -> int | None:
    """The newest version of ``agent_name`` before ``version`` that has an artifact (what a new
    version is compared with), or None for the first one."""
    return next((v.version for v in queries.versions(s, agent_name) if v.version < version and v.artifact_sha256), None)


def pending_approvals() -> list[PendingApproval]:
    """Versions awaiting approval, longest waiting first, each with its refused attempts, accepted
    approvals and approval request."""
    with session() as s:
        pending = []
        for v in queries.versions_awaiting_approval(s):
            agent = queries.agent(s, v.agent_name)
            spec = v.spec or {}
            classification = str(spec.get("data_classification", "internal"))
            # the request row is written by the workflow just after the status: until then, the
            # spec says how many approvers it will need (the workflow's own rule)
            request = queries.approval_request(s, v.agent_name, v.version)
            accepted = queries.approvals(s, v.agent_name, v.version, accepted=True)
            pending.append(PendingApproval(
                agent=v.agent_name,
                version=v.version,
                owner=str(spec.get("owner") or (agent.owner if agent else "")),
                submitted_by=v.submitted_by,
                template=str(spec.get("template") or (agent.template if agent else "")),
                model=spec.get("model"),
                data_classification=classification,
                description=str(spec.get("description") or (agent.description if agent else "")),
                workflow_id=v.workflow_id,
                waiting_since=v.updated_at,
                refused=queries.approvals(s, v.agent_name, v.version, accepted=False),
                required_approvers=request.required_approvers if request else (2 if classification == "restricted" else 1),
                approvers_so_far=[a.approver for a in accepted if a.decision == ApprovalKind.APPROVE],
                jira_key=request.jira_key if request else None,
                jira_url=request.jira_url if request else None,
                jira_unreachable_since=request.jira_unreachable_since if request else None,
                jira_error=request.jira_error if request else None,
                guard_findings=list(request.guard_findings) if request else [],
                previous_version=previous_built_version(s, v.agent_name, v.version),
            ))
    return pending


def dead_letters() -> list[WebhookDelivery]:
    """Webhook deliveries that verified and mapped to a workflow but could not signal it (they wait
    for a replay), newest first."""
    with session() as s:
        return queries.webhook_deliveries(s, outcome=WebhookOutcome.DEAD_LETTER, newest_first=True)


# -- runs ------------------------------------------------------------------------------------------
def agent_names() -> list[str]:
    """Names of all agents that have versions or runs, sorted."""
    with session() as s:
        return queries.agent_names(s)


def runs_frame(agent: str | None = None, status: str | None = None, limit: int = RUNS_TABLE_LIMIT,
               tenant: str | None = None) -> pd.DataFrame:
    """The newest ``limit`` runs, optionally of one agent, status and/or tenant.

    Columns: ``run_id, agent, version, status, latency_ms, cost_usd, tokens_in, tokens_out,
    tenant, started_at, workflow`` (Temporal Web UI URL).
    """
    settings = get_settings()
    with session() as s:
        rows = queries.runs(s, agent, status, limit, tenant=tenant)
    return pd.DataFrame(
        [{"run_id": r.id, "agent": r.agent_name, "version": r.version, "status": r.status, "latency_ms": r.latency_ms,
          "cost_usd": r.cost_usd, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out, "tenant": r.tenant,
          "started_at": r.started_at, "workflow": settings.workflow_url(r.workflow_id)} for r in rows],
        columns=["run_id", "agent", "version", "status", "latency_ms", "cost_usd", "tokens_in", "tokens_out", "tenant",
                 "started_at", "workflow"],
    )


def run_stats(agent: str | None = None, status: str | None = None, tenant: str | None = None) -> queries.RunStats:
    """Totals over every run of ``agent`` / ``status`` / ``tenant`` (all optional), computed by the database."""
    with session() as s:
        return queries.run_stats(s, agent, status, tenant)


def get_run(run_id: str, tenant: str | None = None) -> Run | None:
    """One run by id, or ``None`` (also for a run of another tenant than ``tenant``, when given)."""
    with session() as s:
        run = queries.run(s, run_id)
    return run if run is not None and tenant in (None, run.tenant) else None


# -- run guards ------------------------------------------------------------------------------------
def guard_frame(run_id: str) -> pd.DataFrame:
    """The guard verdicts of one run. Columns: ``stage, verdict, rail, reason_code, detail,
    latency_ms, findings`` (entity counts and rail scores as JSON text; never the run's text)."""
    with session() as s:
        rows = queries.guard_results(s, run_id)
    return pd.DataFrame(
        [{"stage": g.stage, "verdict": g.verdict, "rail": g.rail, "reason_code": g.reason_code, "detail": g.detail,
          "latency_ms": g.latency_ms, "findings": json.dumps(g.findings, sort_keys=True)} for g in rows],
        columns=["stage", "verdict", "rail", "reason_code", "detail", "latency_ms", "findings"],
    )


def guard_stats_frame(agent: str | None = None) -> pd.DataFrame:
    """Guard verdicts counted per agent, stage, verdict and reason code, with p50/p95 guard latency (ms)."""
    with session() as s:
        rows = queries.guard_stats(s, agent)
    return pd.DataFrame([asdict(r) for r in rows],
                        columns=["agent", "stage", "verdict", "reason_code", "count", "p50_ms", "p95_ms"])
