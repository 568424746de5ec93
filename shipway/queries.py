"""Every read of Shipway's catalog, runs and audit log, in one place.

Functions take a synchronous SQLModel :class:`~sqlmodel.Session`: the console and CLI pass one of
:func:`shipway.db.engine.sync_engine`; the gateway and activities call them through
``await async_session.run_sync(fn, ...)``. Nothing here writes: each table has one writer, an
activity module (see ``docs/architecture.md``). Times are timezone-aware UTC, latencies
milliseconds, costs US dollars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, or_, text
from sqlmodel import Session, col, select

from shipway.db.models import (
    ApprovalRequest,
    BudgetAlert,
    CostRollup,
    DeploymentAnalysis,
    WebhookDelivery,
    ApiKey,
    Agent,
    AgentVersion,
    Approval,
    AuditEvent,
    CodeMapping,
    Deployment,
    GuardResult,
    LlmUsage,
    ModelPrice,
    Run,
    RunbookRun,
    RunbookStep,
    Thread,
    TrafficWeight,
)
from shipway.pricing import price_table
from workflows.statuses import DeploymentState, RunStatus, VersionStatus, WebhookOutcome
from workflows.types import VersionMetrics


def ping(s: Session) -> None:
    """Round trip to the database (health checks).

    Raises:
        sqlalchemy.exc.OperationalError: the database cannot be reached.
    """
    s.exec(text("SELECT 1"))


# -- agents and versions ---------------------------------------------------------------------------
def next_version(s: Session, name: str) -> int:
    """The version number a new submission of agent ``name`` gets (1 for a new agent)."""
    last = s.exec(select(func.max(AgentVersion.version)).where(AgentVersion.agent_name == name)).first()
    return (last or 0) + 1


def agent(s: Session, name: str) -> Agent | None:
    """One agent, or None."""
    return s.get(Agent, name)


def agents(s: Session) -> list[Agent]:
    """All agents by name."""
    return list(s.exec(select(Agent).order_by(Agent.name)).all())


def agent_names(s: Session) -> list[str]:
    """Names of agents that have versions or runs, sorted."""
    return sorted(set(s.exec(select(Agent.name)).all()) | set(s.exec(select(Run.agent_name).distinct()).all()))


def version_counts(s: Session) -> dict[str, int]:
    """Number of versions per agent name."""
    rows = s.exec(select(AgentVersion.agent_name, func.count()).group_by(AgentVersion.agent_name)).all()
    return {name: int(n) for name, n in rows}


def agent_version(s: Session, name: str, version: int) -> AgentVersion | None:
    """One version of an agent, or None when the catalog has no such version."""
    return s.exec(select(AgentVersion).where(AgentVersion.agent_name == name, AgentVersion.version == version)).first()


def versions(s: Session, name: str | None = None) -> list[AgentVersion]:
    """Versions of one agent (or all), by agent name, newest version first."""
    query = select(AgentVersion).order_by(AgentVersion.agent_name, col(AgentVersion.version).desc())
    if name:
        query = query.where(AgentVersion.agent_name == name)
    return list(s.exec(query).all())


def version_status(s: Session, name: str, version: int) -> VersionStatus | None:
    """Catalog status of one version, or None when it does not exist."""
    status = s.exec(select(AgentVersion.status).where(AgentVersion.agent_name == name, AgentVersion.version == version)).first()
    return VersionStatus(status) if status is not None else None


def live_version(s: Session, name: str) -> int | None:
    """The agent's live version, or None (no such agent, or nothing live)."""
    row = s.get(Agent, name)
    return row.live_version if row else None


def versions_awaiting_approval(s: Session) -> list[AgentVersion]:
    """Versions waiting for an approver, longest waiting first."""
    return list(s.exec(select(AgentVersion).where(AgentVersion.status == VersionStatus.AWAITING_APPROVAL)
                       .order_by(AgentVersion.updated_at)).all())


# -- approvals -------------------------------------------------------------------------------------
def approvals(s: Session, name: str, version: int, accepted: bool | None = None) -> list[Approval]:
    """Decisions recorded for one version, oldest first; only accepted or refused ones when given."""
    query = select(Approval).where(Approval.agent_name == name, Approval.version == version)
    if accepted is not None:
        query = query.where(Approval.accepted == accepted)
    return list(s.exec(query.order_by(col(Approval.id))).all())


# -- traffic and deployments -----------------------------------------------------------------------
def traffic(s: Session, name: str | None = None) -> list[TrafficWeight]:
    """Traffic weights (percent) with a positive share, of one agent or all, by agent and version."""
    query = select(TrafficWeight).where(TrafficWeight.weight_pct > 0).order_by(TrafficWeight.agent_name, TrafficWeight.version)
    if name:
        query = query.where(TrafficWeight.agent_name == name)
    return list(s.exec(query).all())


def deployments(s: Session, name: str | None = None, limit: int = 100) -> list[Deployment]:
    """Newest rollouts first, of one agent or all."""
    query = select(Deployment).order_by(col(Deployment.id).desc()).limit(limit)
    if name:
        query = query.where(Deployment.agent_name == name)
    return list(s.exec(query).all())


# -- runs and threads ------------------------------------------------------------------------------
def run(s: Session, run_id: str) -> Run | None:
    """One run by id, or None."""
    return s.get(Run, run_id)


def thread(s: Session, thread_id: str) -> Thread | None:
    """One conversation thread, or None."""
    return s.get(Thread, thread_id)


def thread_version(s: Session, thread_id: str, agent: str) -> int | None:
    """The version that served the last run of ``thread_id`` for ``agent``, or None (a new thread,
    or one of another agent)."""
    return s.exec(select(Run.version).join(Thread, Thread.last_run_id == Run.id)
                  .where(Thread.thread_id == thread_id, Thread.agent_name == agent)).first()


def runs(s: Session, agent: str | None = None, status: str | None = None, limit: int = 500,
         tenant: str | None = None, started_by: str | None = None) -> list[Run]:
    """The newest ``limit`` runs, optionally of one agent, status, tenant and/or starting key id."""
    query = select(Run).order_by(col(Run.started_at).desc()).limit(limit)
    if tenant is not None:
        query = query.where(Run.tenant == tenant)
    if started_by is not None:
        query = query.where(Run.started_by == started_by)
    if agent:
        query = query.where(Run.agent_name == agent)
    if status:
        query = query.where(Run.status == status)
    return list(s.exec(query).all())


@dataclass(frozen=True)
class RunStats:
    """Aggregates over every matching run (not a page of them): count, count per status, summed
    cost (USD), mean and 95th-percentile latency (ms, over runs that recorded one; None when none did)."""

    runs: int
    by_status: dict[str, int]
    cost_usd: float
    mean_latency_ms: float | None
    p95_latency_ms: float | None


def run_stats(s: Session, agent: str | None = None, status: str | None = None, tenant: str | None = None) -> RunStats:
    """:class:`RunStats` of all runs of ``agent`` / ``status`` / ``tenant`` (all optional), computed in SQL."""
    where = [] if tenant is None else [Run.tenant == tenant]
    if agent:
        where.append(Run.agent_name == agent)
    if status:
        where.append(Run.status == status)
    total = s.exec(select(func.count(), func.coalesce(func.sum(Run.cost_usd), 0.0), func.avg(Run.latency_ms),
                          func.percentile_cont(0.95).within_group(Run.latency_ms)).where(*where)).one()
    by_status = {st: int(n) for st, n in s.exec(select(Run.status, func.count()).where(*where).group_by(Run.status)).all()}
    return RunStats(runs=int(total[0]), by_status=by_status, cost_usd=float(total[1]),
                    mean_latency_ms=float(total[2]) if total[2] is not None else None,
                    p95_latency_ms=float(total[3]) if total[3] is not None else None)


def version_metrics(s: Session, name: str, version: int, since: datetime) -> VersionMetrics:
    """Metrics of one version's runs started since ``since``: finished (succeeded, failed, or
    budget_exceeded: a budget stop is not a failure of the code, and its cost counts) and failed
    counts, error rate (0-1), p99 latency (ms) and mean cost per run (USD) of the finished ones;
    runs that ended (finished, blocked or withheld) and guardrail violations among them (blocked or
    withheld by the run guards) with their rate (0-1)."""
    finished = col(Run.status).in_((RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.BUDGET_EXCEEDED))
    violated = col(Run.status).in_((RunStatus.BLOCKED, RunStatus.WITHHELD))
    row = s.exec(
        select(func.count().filter(finished), func.count().filter(Run.status == RunStatus.FAILED),
               func.percentile_cont(0.99).within_group(Run.latency_ms).filter(col(Run.latency_ms).is_not(None)),
               func.avg(Run.cost_usd).filter(finished), func.count().filter(violated))
        .where(Run.agent_name == name, Run.version == version, Run.started_at >= since)
    ).one()
    n, failed, violations = int(row[0] or 0), int(row[1] or 0), int(row[4] or 0)
    ended = n + violations
    return VersionMetrics(finished=n, failed=failed, error_rate=failed / n if n else None,
                          p99_ms=float(row[2]) if row[2] is not None else None,
                          cost_per_run_usd=float(row[3]) if row[3] is not None else None,
                          runs=ended, violations=violations, violation_rate=violations / ended if ended else None)


def model_prices(s: Session) -> dict[str, tuple[float, float]]:
    """``{model: (input, output US dollars per million tokens)}`` of the US-dollar prices in effect
    today (UTC) in the ``model_prices`` table (a price in another currency prices nothing)."""
    today = datetime.now(timezone.utc).date()
    return price_table(price_rows(s, today), today)


# -- run guards ------------------------------------------------------------------------------------
def guard_results(s: Session, run_id: str) -> list[GuardResult]:
    """Every guard verdict of one run (``input``, ``resume:<n>``, ``output``), in the order recorded."""
    return list(s.exec(select(GuardResult).where(GuardResult.run_id == run_id).order_by(col(GuardResult.id))).all())


@dataclass(frozen=True)
class GuardStat:
    """Guard verdicts of one agent, stage kind (``input``, ``resume``, ``output``), verdict and
    reason code: how many, and their p50 / p95 guard latency (ms)."""

    agent: str
    stage: str
    verdict: str
    reason_code: str | None
    count: int
    p50_ms: float
    p95_ms: float


def guard_stats(s: Session, agent: str | None = None, since: datetime | None = None) -> list[GuardStat]:
    """:class:`GuardStat` rows over all guard verdicts (of ``agent``, since ``since``), computed in SQL."""
    stage = func.split_part(GuardResult.stage, ":", 1)
    query = (select(GuardResult.agent_name, stage, GuardResult.verdict, GuardResult.reason_code, func.count(),
                    func.percentile_cont(0.5).within_group(GuardResult.latency_ms),
                    func.percentile_cont(0.95).within_group(GuardResult.latency_ms))
             .group_by(GuardResult.agent_name, stage, GuardResult.verdict, GuardResult.reason_code)
             .order_by(GuardResult.agent_name, stage, GuardResult.verdict))
    if agent:
        query = query.where(GuardResult.agent_name == agent)
    if since:
        query = query.where(GuardResult.created_at >= since)
    return [GuardStat(a, st, v, rc, int(n), float(p50), float(p95)) for a, st, v, rc, n, p50, p95 in s.exec(query).all()]


# -- audit -----------------------------------------------------------------------------------------
def audit_events_after(s: Session, after_id: int, limit: int) -> list[AuditEvent]:
    """Up to ``limit`` audit events with ids above ``after_id``, in chain order (to walk the whole
    chain in pages)."""
    return list(s.exec(select(AuditEvent).where(AuditEvent.id > after_id).order_by(col(AuditEvent.id)).limit(limit)).all())


def audit_events(s: Session, subject: str | None = None, action_prefix: str | None = None, limit: int = 1000) -> list[AuditEvent]:
    """Audit events in order of the chain, optionally of one subject and/or actions starting with a prefix."""
    query = select(AuditEvent).order_by(col(AuditEvent.id)).limit(limit)
    if subject:
        query = query.where(AuditEvent.subject == subject)
    if action_prefix:
        query = query.where(col(AuditEvent.action).startswith(action_prefix))
    return list(s.exec(query).all())


def api_key_by_prefix(s: Session, prefix: str) -> ApiKey | None:
    """The API key with this lookup prefix (revoked or not), or None."""
    return s.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()


def api_keys(s: Session, tenant: str | None = None, include_revoked: bool = False) -> list[ApiKey]:
    """API keys, newest first, optionally of one tenant; revoked ones only when asked."""
    query = select(ApiKey).order_by(col(ApiKey.created_at).desc())
    if tenant is not None:
        query = query.where(ApiKey.tenant == tenant)
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(s.exec(query).all())


def approval_request(s: Session, name: str, version: int) -> ApprovalRequest | None:
    """The approval request of one version (None before it reached the approval step)."""
    return s.get(ApprovalRequest, (name, version))


def approval_request_by_issue(s: Session, jira_key: str) -> ApprovalRequest | None:
    """The approval request whose Jira issue is ``jira_key`` (the newest, should another Jira site
    have reused the key), or None (not an issue Shipway opened)."""
    return s.exec(select(ApprovalRequest).where(ApprovalRequest.jira_key == jira_key)
                  .order_by(col(ApprovalRequest.requested_at).desc())).first()


def webhook_deliveries(s: Session, ids: list[int] | None = None, outcome: WebhookOutcome | None = None,
                       limit: int = 500, newest_first: bool = False) -> list[WebhookDelivery]:
    """Webhook deliveries, oldest first (the order they are replayed in) unless ``newest_first``:
    those of ``ids``, or (optionally) those with ``outcome``; at most ``limit``."""
    order = col(WebhookDelivery.id).desc() if newest_first else col(WebhookDelivery.id)
    query = select(WebhookDelivery).order_by(order).limit(limit)
    if ids is not None:
        query = query.where(col(WebhookDelivery.id).in_(ids))
    if outcome is not None:
        query = query.where(WebhookDelivery.outcome == outcome)
    return list(s.exec(query).all())


def deployment_analyses(s: Session, workflow_id: str | None = None, agent: str | None = None,
                        limit: int = 500) -> list[DeploymentAnalysis]:
    """Stored canary analyses, oldest first: of one rollout (its workflow id) and/or one agent."""
    query = select(DeploymentAnalysis).order_by(col(DeploymentAnalysis.analysed_at), col(DeploymentAnalysis.id)).limit(limit)
    if workflow_id is not None:
        query = query.where(DeploymentAnalysis.workflow_id == workflow_id)
    if agent is not None:
        query = query.where(DeploymentAnalysis.agent_name == agent)
    return list(s.exec(query).all())


# == console observability (issue 13: Overview, Runs filters, Costs) ===============================
# Reads of the console's Overview, Runs and Costs pages: runs filtered by version and start time,
# per-minute counts, costliest runs, agents by status, rollouts to watch, LLM cost per graph node.
@dataclass(frozen=True)
class RunFilter:
    """Which runs: of one agent, version, status and/or tenant, started in ``[since, until)`` (UTC);
    every field optional (None: any)."""

    agent: str | None = None
    version: int | None = None
    status: str | None = None
    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list:
        """The SQL conditions on :class:`Run` this filter amounts to."""
        where = []
        for column, value in ((Run.agent_name, self.agent), (Run.version, self.version), (Run.status, self.status),
                              (Run.tenant, self.tenant)):
            if value is not None:
                where.append(column == value)
        if self.since is not None:
            where.append(col(Run.started_at) >= self.since)
        if self.until is not None:
            where.append(col(Run.started_at) < self.until)
        return where


def filtered_runs(s: Session, f: RunFilter, limit: int = 500, costliest: bool = False) -> list[Run]:
    """Up to ``limit`` runs matching ``f``: the newest first, or the costliest first (then newest)."""
    order = (col(Run.cost_usd).desc(), col(Run.started_at).desc()) if costliest else (col(Run.started_at).desc(),)
    return list(s.exec(select(Run).where(*f.conditions()).order_by(*order).limit(limit)).all())


def filtered_run_stats(s: Session, f: RunFilter) -> RunStats:
    """:class:`RunStats` over every run matching ``f``, computed in SQL."""
    where = f.conditions()
    total = s.exec(select(func.count(), func.coalesce(func.sum(Run.cost_usd), 0.0), func.avg(Run.latency_ms),
                          func.percentile_cont(0.95).within_group(Run.latency_ms)).where(*where)).one()
    by_status = {st: int(n) for st, n in s.exec(select(Run.status, func.count()).where(*where).group_by(Run.status)).all()}
    return RunStats(runs=int(total[0]), by_status=by_status, cost_usd=float(total[1]),
                    mean_latency_ms=float(total[2]) if total[2] is not None else None,
                    p95_latency_ms=float(total[3]) if total[3] is not None else None)


def runs_per_minute(s: Session, f: RunFilter) -> dict[datetime, int]:
    """Runs matching ``f`` counted per minute they started in: ``{minute (UTC, truncated): count}``;
    minutes without runs are left out."""
    minute = func.date_trunc("minute", Run.started_at)
    return {m: int(n) for m, n in s.exec(select(minute, func.count()).where(*f.conditions()).group_by(minute)).all()}


def run_versions(s: Session, agent: str | None = None) -> list[int]:
    """The versions that have runs (of ``agent``), newest first."""
    query = select(Run.version).distinct().order_by(col(Run.version).desc())
    if agent:
        query = query.where(Run.agent_name == agent)
    return list(s.exec(query).all())


def run_tenants(s: Session) -> list[str]:
    """The tenants that have runs, sorted."""
    return list(s.exec(select(Run.tenant).distinct().order_by(Run.tenant)).all())


def agent_status_counts(s: Session) -> dict[str, int]:
    """``{status: agents}`` by ``agents.status`` (the live version's status, else the newest version's)."""
    return {str(st): int(n) for st, n in s.exec(select(Agent.status, func.count()).group_by(Agent.status).order_by(Agent.status)).all()}


def rollouts_to_watch(s: Session, ended_since: datetime) -> list[Deployment]:
    """Rollouts still running (in progress or paused) and those that ended since ``ended_since``
    rolled back or failed, newest first."""
    active = col(Deployment.status).in_((DeploymentState.IN_PROGRESS, DeploymentState.PAUSED))
    failing = col(Deployment.status).in_((DeploymentState.ROLLED_BACK, DeploymentState.FAILED)) & \
        (col(Deployment.finished_at) >= ended_since)
    return list(s.exec(select(Deployment).where(active | failing).order_by(col(Deployment.created_at).desc())).all())


@dataclass(frozen=True)
class NodeCost:
    """LLM calls one graph node of a run made: how many, their tokens and cost (US dollars);
    ``node`` is ``""`` for calls recorded without one."""

    node: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float


def node_costs(s: Session, run_id: str) -> list[NodeCost]:
    """:class:`NodeCost` per node of ``run_id`` (from ``llm_usage``), costliest first."""
    node = func.coalesce(LlmUsage.node, "")
    rows = s.exec(select(node, func.count(), func.sum(LlmUsage.tokens_in), func.sum(LlmUsage.tokens_out), func.sum(LlmUsage.cost_usd))
                  .where(LlmUsage.run_id == run_id).group_by(node).order_by(func.sum(LlmUsage.cost_usd).desc(), node)).all()
    return [NodeCost(n, int(c), int(ti or 0), int(to or 0), float(cost or 0.0)) for n, c, ti, to, cost in rows]
# == end console observability =====================================================================


# == cost governance (issue 13: price table, cost rollups, daily budgets) ==========================
def price_rows(s: Session, at: date | None = None) -> list[ModelPrice]:
    """Rows of the price table by model and start date: all of them, or those in effect on day ``at``."""
    query = select(ModelPrice).order_by(ModelPrice.model, col(ModelPrice.effective_from))
    if at is not None:
        query = query.where(ModelPrice.effective_from <= at,
                            or_(col(ModelPrice.effective_to).is_(None), col(ModelPrice.effective_to) >= at))
    return list(s.exec(query).all())


def cost_rollups(s: Session, since: date, until: date | None = None, agent: str | None = None) -> list[CostRollup]:
    """Cost rollup rows of the UTC days ``since`` to ``until`` (inclusive; None: no end), optionally of
    one agent, by day, agent, version, tenant and model."""
    query = select(CostRollup).where(CostRollup.day >= since).order_by(
        CostRollup.day, CostRollup.agent_name, CostRollup.version, CostRollup.tenant, CostRollup.model)
    if until is not None:
        query = query.where(CostRollup.day <= until)
    if agent is not None:
        query = query.where(CostRollup.agent_name == agent)
    return list(s.exec(query).all())


def utc_midnight(day: date) -> datetime:
    """The start of UTC ``day`` (daily budgets and rollups count UTC days)."""
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def daily_budgets(s: Session, agent: str | None = None) -> dict[str, tuple[float, bool]]:
    """``{agent: (daily budget in US dollars, hard stop)}`` of the agents whose live version's spec sets
    ``daily_budget_usd`` (``daily_budget_hard_stop`` absent counts as False)."""
    spec = col(AgentVersion.spec)
    budget, hard_stop = spec["daily_budget_usd"].as_float(), spec["daily_budget_hard_stop"].as_boolean()
    query = (select(Agent.name, budget, hard_stop)
             .join(AgentVersion, (AgentVersion.agent_name == Agent.name) & (AgentVersion.version == Agent.live_version))
             .where(budget.is_not(None)))
    if agent is not None:
        query = query.where(Agent.name == agent)
    return {name: (float(b), bool(h)) for name, b, h in s.exec(query).all()}


def agent_spend(s: Session, since: datetime, until: datetime | None = None) -> dict[str, float]:
    """``{agent: summed runs.cost_usd}`` (US dollars) of the runs started in ``[since, until)`` that the
    session's role sees (every tenant's for the workers' and console's roles)."""
    query = select(Run.agent_name, func.sum(Run.cost_usd)).where(col(Run.started_at) >= since).group_by(Run.agent_name)
    if until is not None:
        query = query.where(col(Run.started_at) < until)
    return {name: float(total or 0.0) for name, total in s.exec(query).all()}


@dataclass(frozen=True)
class BudgetUse:
    """An agent's daily budget on one UTC day: budget and spend (US dollars, runs started that day,
    every tenant), ``ratio`` = spent / budget, whether the budget stops new runs, and the alert
    thresholds (percent: 80, 100) already crossed that day."""

    agent: str
    budget_usd: float
    spent_usd: float
    ratio: float
    hard_stop: bool
    alerts: list[int]


def budget_usage(s: Session, day: date | None = None) -> list[BudgetUse]:
    """:class:`BudgetUse` of every agent with a daily budget, on ``day`` (default: today, UTC), by agent."""
    day = day or datetime.now(timezone.utc).date()
    spent = agent_spend(s, utc_midnight(day), utc_midnight(day + timedelta(days=1)))
    alerts: dict[str, list[int]] = {}
    for a in s.exec(select(BudgetAlert).where(BudgetAlert.day == day).order_by(BudgetAlert.threshold_pct)).all():
        alerts.setdefault(a.agent_name, []).append(a.threshold_pct)
    return [BudgetUse(name, budget, spent.get(name, 0.0), spent.get(name, 0.0) / budget, hard_stop, alerts.get(name, []))
            for name, (budget, hard_stop) in sorted(daily_budgets(s).items())]


@dataclass(frozen=True)
class DailyBudgetState:
    """What the gateway's hard stop needs of one agent: its daily budget and spend since midnight (US dollars)."""

    budget_usd: float
    hard_stop: bool
    spent_usd: float


def daily_budget_state(s: Session, agent: str, since: datetime) -> DailyBudgetState | None:
    """The agent's daily budget (its live version's spec) and its spend on runs started since ``since``
    across every tenant, or None when it has no daily budget. The spend comes from the SQL function
    ``shipway_agent_spend_since`` (migration 0011): the gateway's role sees only its own tenant's runs,
    the function sums every tenant's for an agent the caller may see (0 otherwise); it is computed only
    for a budget with a hard stop."""
    budget = daily_budgets(s, agent).get(agent)
    if budget is None:
        return None
    spent = s.exec(select(func.shipway_agent_spend_since(agent, since))).one() if budget[1] else 0.0
    return DailyBudgetState(budget_usd=budget[0], hard_stop=budget[1], spent_usd=float(spent))
# == end cost governance ===========================================================================


# == runbooks (issue 14: runbook runs and their steps, for `shipway runbook` and the Runbooks page) ==
def runbook_runs(s: Session, status: str | None = None, limit: int = 50, runbook: str | None = None) -> list[RunbookRun]:
    """Up to ``limit`` runbook runs, newest first, optionally only those with ``status`` (a
    :class:`~workflows.statuses.RunbookStatus` value) and/or of ``runbook`` (a
    :class:`~workflows.statuses.Runbook` value)."""
    query = select(RunbookRun).order_by(col(RunbookRun.started_at).desc(), col(RunbookRun.id)).limit(limit)
    if status is not None:
        query = query.where(RunbookRun.status == status)
    if runbook is not None:
        query = query.where(RunbookRun.runbook == runbook)
    return list(s.exec(query).all())


@dataclass(frozen=True)
class RunbookRunDetail:
    """A runbook run with its steps in order (``seq``)."""

    run: RunbookRun
    steps: list[RunbookStep]


def runbook_run(s: Session, run_id: str) -> RunbookRunDetail | None:
    """Runbook run ``run_id`` (its workflow id) with its steps, or None when no such run is stored."""
    run = s.get(RunbookRun, run_id)
    if run is None:
        return None
    steps = s.exec(select(RunbookStep).where(RunbookStep.run_id == run_id).order_by(RunbookStep.seq)).all()
    return RunbookRunDetail(run, list(steps))
# == end runbooks ==================================================================================


# == LangGraph Platform API, read side (issue 16: assistants = live agents, threads) ===============
from sqlalchemy import case, exists  # noqa: E402  (kept with the section that uses them)
from sqlalchemy.orm import aliased  # noqa: E402

# thread status as the Platform names it, from the status of the thread's current run
_ERROR_RUN_STATUSES = (RunStatus.FAILED, RunStatus.BLOCKED, RunStatus.WITHHELD, RunStatus.BUDGET_EXCEEDED)


@dataclass(frozen=True)
class LiveAgent:
    """An agent serving traffic and its stable version: the agent's ``live_version`` when that one
    has a share, else its highest version with a share; ``version_updated_at`` is that version's."""

    agent: Agent
    version: int
    version_updated_at: datetime


def live_agents(s: Session, name: str | None = None) -> list[LiveAgent]:
    """Agents with a positive traffic weight (all, or the one named ``name``), by name."""
    query = select(Agent, TrafficWeight.version).join(TrafficWeight, TrafficWeight.agent_name == Agent.name) \
        .where(TrafficWeight.weight_pct > 0).order_by(Agent.name)
    if name is not None:
        query = query.where(Agent.name == name)
    served: dict[str, tuple[Agent, list[int]]] = {}
    for agent_row, version in s.exec(query).all():
        served.setdefault(agent_row.name, (agent_row, []))[1].append(version)
    out = []
    for agent_row, versions_served in served.values():
        version = agent_row.live_version if agent_row.live_version in versions_served else max(versions_served)
        row = agent_version(s, agent_row.name, version)
        out.append(LiveAgent(agent_row, version, row.updated_at if row else agent_row.created_at))
    return out


@dataclass(frozen=True)
class ThreadRow:
    """A thread with its current run (the active one, else the last; None before any run) and its
    status as the LangGraph Platform names it: ``busy`` (a run is executing), ``interrupted`` (its run
    waits at an interrupt), ``error`` (its run failed, was blocked, withheld or over budget), else ``idle``."""

    thread: Thread
    run: Run | None
    status: str


def _thread_status():
    current = aliased(Run)
    status = case((current.status == RunStatus.RUNNING, "busy"), (current.status == RunStatus.INTERRUPTED, "interrupted"),
                  (col(current.status).in_(_ERROR_RUN_STATUSES), "error"), else_="idle")
    return current, status


def _not_started_by_others(key_id: str):
    """Threads a caller key may see: made by it or by no known key, and run by no other key."""
    other = aliased(Run)
    return (col(Thread.created_by).in_((key_id, ""))) & ~exists().where(other.thread_id == Thread.thread_id,
                                                                        other.started_by != key_id)


def lg_thread(s: Session, thread_id: str, started_by: str | None = None) -> ThreadRow | None:
    """Thread ``thread_id`` with its current run and status, or None. ``started_by`` (a key id): None
    also when a run on it was started by another key (what a ``caller`` key may not see)."""
    rows = lg_threads(s, ids=[thread_id], started_by=started_by, limit=1)
    return rows[0] if rows else None


def lg_threads(s: Session, metadata: dict | None = None, status: str | None = None, ids: list[str] | None = None,
               started_by: str | None = None, sort_by: str = "updated_at", descending: bool = True,
               limit: int = 10, offset: int = 0, graph_id: str | None = None) -> list[ThreadRow]:
    """Threads whose ``metadata`` contains ``metadata`` (JSONB ``@>``), of Platform ``status``
    (``idle``/``busy``/``interrupted``/``error``), among ``ids``, of ``graph_id`` (the metadata's own
    ``graph_id``, else the agent the thread is bound to), each filter when given, none of whose runs
    another key than ``started_by`` started (when given); ordered by ``sort_by`` (``thread_id``,
    ``status``, ``created_at``, ``updated_at``), then page ``offset``/``limit``."""
    current, status_expr = _thread_status()
    query = select(Thread, current, status_expr).outerjoin(
        current, current.id == func.coalesce(Thread.active_run_id, Thread.last_run_id))
    if metadata:
        query = query.where(col(Thread.meta).contains(metadata))
    if status is not None:
        query = query.where(status_expr == status)
    if graph_id is not None:
        query = query.where(func.coalesce(col(Thread.meta)["graph_id"].astext, Thread.agent_name) == graph_id)
    if ids is not None:
        query = query.where(col(Thread.thread_id).in_(ids))
    if started_by is not None:
        query = query.where(_not_started_by_others(started_by))
    order = {"thread_id": col(Thread.thread_id), "status": status_expr, "created_at": col(Thread.created_at)}.get(
        sort_by, col(Thread.updated_at))
    query = query.order_by(order.desc() if descending else order.asc(), col(Thread.thread_id)).offset(offset).limit(limit)
    return [ThreadRow(t, r, st) for t, r, st in s.exec(query).all()]
# == end LangGraph Platform API, read side ===========================================================


def thread_runs(s: Session, thread_id: str, limit: int = 10, offset: int = 0, status: str | None = None) -> list[Run]:
    """The runs of one thread, newest first, a page of ``limit`` after ``offset``, optionally of one status."""
    query = select(Run).where(Run.thread_id == thread_id).order_by(col(Run.started_at).desc()).offset(offset).limit(limit)
    if status:
        query = query.where(Run.status == status)
    return list(s.exec(query).all())


def code_mappings(s: Session, run_id: str) -> list[CodeMapping]:
    """The ``code_mappings`` rows of one mapping job (run), in plan pre-order."""
    return list(s.exec(select(CodeMapping).where(CodeMapping.run_id == run_id).order_by(CodeMapping.position)).all())


def mapping_jobs(s: Session, template: str, limit: int = 200, tenant: str | None = None) -> list[Run]:
    """The latest ``limit`` runs of agents built from ``template`` (mapping jobs) of ``tenant``
    (None: every tenant), newest first."""
    names = select(Agent.name).where(Agent.template == template)
    query = select(Run).where(Run.agent_name.in_(names))
    if tenant is not None:
        query = query.where(Run.tenant == tenant)
    return list(s.exec(query.order_by(Run.started_at.desc()).limit(limit)).all())
