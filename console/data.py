"""What the console pages read, through :mod:`shipway.queries`.

Every function opens a short session on :func:`shipway.db.engine.sync_engine`, calls the query
functions and returns rows, plain values or pandas DataFrames ready for ``st.dataframe``. Times
are timezone-aware UTC; ``latency_ms`` is milliseconds, ``cost_usd`` US dollars.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import psycopg
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlmodel import Session

from activities.artifact_store import store_from_settings
from activities.code_mappings import MAPPING_TEMPLATE
from reference_agents.dag_mapping.review import listed_nodes
from shipway import queries
from shipway.db.engine import sync_engine
from shipway.db.models import Approval, Deployment, DeploymentAnalysis, Run, WebhookDelivery, utcnow
from shipway.queries import RunFilter
from shipway.search import search_agents
from shipway.settings import get_settings
from shipway.version_diff import VersionDiff, diff_versions
from workflows.statuses import ApprovalKind, DeploymentState, RunStatus, WebhookOutcome
from workflows.strategies import CUSTOM, steps_for
from workflows.types import DeploymentStep, deployment_workflow_id

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


RUN_COLUMNS = ["run_id", "agent", "version", "status", "latency_ms", "cost_usd", "tokens_in", "tokens_out", "tenant",
               "started_at", "workflow"]


def _run_rows(rows: list[Run]) -> pd.DataFrame:
    settings = get_settings()
    return pd.DataFrame(
        [{"run_id": r.id, "agent": r.agent_name, "version": r.version, "status": r.status, "latency_ms": r.latency_ms,
          "cost_usd": r.cost_usd, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out, "tenant": r.tenant,
          "started_at": r.started_at, "workflow": settings.workflow_url(r.workflow_id)} for r in rows],
        columns=RUN_COLUMNS,
    )


def runs_frame(f: RunFilter = RunFilter(), limit: int = RUNS_TABLE_LIMIT) -> pd.DataFrame:
    """The newest ``limit`` runs matching ``f``.

    Columns: ``run_id, agent, version, status, latency_ms, cost_usd, tokens_in, tokens_out,
    tenant, started_at, workflow`` (Temporal Web UI URL).
    """
    with session() as s:
        return _run_rows(queries.filtered_runs(s, f, limit))


def run_stats(f: RunFilter = RunFilter()) -> queries.RunStats:
    """Totals over every run matching ``f``, computed by the database."""
    with session() as s:
        return queries.filtered_run_stats(s, f)


def run_versions(agent: str | None = None) -> list[int]:
    """The versions (of ``agent``) that have runs, newest first."""
    with session() as s:
        return queries.run_versions(s, agent)


def run_tenants() -> list[str]:
    """The tenants that have runs, sorted."""
    with session() as s:
        return queries.run_tenants(s)


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


# -- deployments -----------------------------------------------------------------------------------
DEPLOYMENTS_LIMIT = 100  # rollouts listed on the Deployments page, newest first
ACTIVE_STATES = (DeploymentState.IN_PROGRESS, DeploymentState.PAUSED)  # a rollout that still takes signals
DEPLOYMENT_COLUMNS = ["agent", "version", "strategy", "target", "state", "weight_pct", "started", "finished", "detail",
                      "workflow_id", "workflow"]
CANARY_METRICS = ("error_rate", "p99_latency", "violation_rate", "cost_per_run")  # activities.canary_verdict's, in its order
ANALYSIS_COLUMNS = ["analysis", "step", "weight_pct", "window_start", "analysed_at", "verdict", "canary_finished",
                    "stable_finished", *CANARY_METRICS, "reasons"]
METRIC_COLUMNS = ["analysis", "step", "weight_pct", "metric", "verdict", "canary", "stable", "threshold", "threshold_text",
                  "p_value"]
WEIGHT_COLUMNS = ["ts", "version", "role", "weight_pct", "event"]
EVENT_COLUMNS = ["ts", "actor", "action", "detail"]
# the rollout's own audit actions that change its traffic, besides ``deployment.weights``
_ENDING_EVENTS = {f"deployment.{DeploymentState.SUCCEEDED}": "succeeded", f"deployment.{DeploymentState.ROLLED_BACK}": "rolled back",
                  f"deployment.{DeploymentState.ABORTED}": "aborted"}


def deployments_frame(limit: int = DEPLOYMENTS_LIMIT) -> pd.DataFrame:
    """The newest ``limit`` rollouts, newest first.

    Columns: ``agent, version, strategy, target, state, weight_pct`` (the new version's share of
    traffic, percent), ``started, finished`` (None while running), ``detail`` (why it ended as it
    did), ``workflow_id, workflow`` (Temporal Web UI URL).
    """
    settings = get_settings()
    with session() as s:
        rows = queries.deployments(s, limit=limit)
    return pd.DataFrame(
        [{"agent": d.agent_name, "version": d.version, "strategy": d.strategy, "target": d.target, "state": str(d.status),
          "weight_pct": d.weight_pct, "started": d.created_at, "finished": d.finished_at, "detail": d.detail,
          "workflow_id": d.workflow_id, "workflow": settings.workflow_url(d.workflow_id)} for d in rows],
        columns=DEPLOYMENT_COLUMNS,
    )


@dataclass
class RolloutStep:
    """One step of a rollout: its number (1-based), the new version's weight (percent), its bake
    time (seconds, before ``bake_time_scale``; None when the plan is unknown), where the rollout is
    (``done``, ``current``, ``next: paused before it``, ``pending``, ``not reached``, or the ended
    state where it stopped), when its weights were set, and its analyses with the last verdict."""

    step: int
    weight_pct: float
    bake_s: float | None
    status: str
    reached_at: datetime | None = None
    analyses: int = 0
    last_verdict: str | None = None


@dataclass
class Rollout:
    """One rollout with what the Deployments page shows of it: its ``deployments`` row, the stable
    version it started from (from its ``deployment.started`` audit event), its steps, its weights
    over time (from its ``deployment.weights`` audit events), its stored canary analyses (oldest
    first) and its audit events (``deployment.*``, oldest first)."""

    deployment: Deployment
    stable_version: int | None
    steps: list[RolloutStep]
    weights: pd.DataFrame
    analyses: list[DeploymentAnalysis]
    events: pd.DataFrame
    pending_pause: tuple[str, datetime] | None = None  # (actor, when): a pause sent while the step still bakes

    @property
    def active(self) -> bool:
        """Whether the rollout still takes signals (in progress or paused)."""
        return self.deployment.status in ACTIVE_STATES

    @property
    def workflow_url(self) -> str:
        """Link to the rollout's workflow in the Temporal Web UI."""
        return get_settings().workflow_url(self.deployment.workflow_id)


def rollout(agent_name: str, version: int) -> Rollout | None:
    """The rollout of ``agent_name`` v``version`` (its workflow is ``deploy:{name}:v{n}``), or None."""
    wf_id = deployment_workflow_id(agent_name, version)
    with session() as s:
        d = next((d for d in queries.deployments(s, agent_name) if d.workflow_id == wf_id), None)
        if d is None:
            return None
        events = queries.audit_events(s, f"agent:{agent_name}:v{version}", "deployment.")
        analyses = queries.deployment_analyses(s, workflow_id=wf_id)
        planned = _planned_steps(s, d)
    started = next((e for e in events if e.action == "deployment.started"), None)
    stable = started.detail.get("stable") if started else None
    stable = int(stable) if isinstance(stable, int | str) and str(stable).isdigit() else None
    reached = [e for e in events if e.action == "deployment.weights"]
    return Rollout(deployment=d, stable_version=stable, steps=_steps(d, planned, reached, analyses),
                   weights=weights_frame(events, d.version, stable), analyses=analyses,
                   events=pd.DataFrame([{"ts": e.ts, "actor": e.actor, "action": e.action,
                                         "detail": json.dumps(e.detail, sort_keys=True)} for e in events], columns=EVENT_COLUMNS),
                   pending_pause=_pending_pause(d, events))


def _planned_steps(s: Session, d: Deployment) -> list[DeploymentStep]:
    """The steps of ``d``'s strategy (a ``Custom`` one's from its version's spec); [] when unknown."""
    custom = None
    if d.strategy == CUSTOM:
        row = queries.agent_version(s, d.agent_name, d.version)
        spec = (row.spec or {}) if row else {}
        try:
            custom = [DeploymentStep(float(x["weight_pct"]), float(x.get("bake_s", 0.0)))
                      for x in (spec.get("deployment") or {}).get("steps") or ()] or None
        except (AttributeError, KeyError, TypeError, ValueError):
            return []
    try:
        return steps_for(d.strategy, custom)
    except ValueError:
        return []


def _steps(d: Deployment, planned: list[DeploymentStep], reached: list, analyses: list[DeploymentAnalysis]) -> list[RolloutStep]:
    """Each step of ``d`` and where the rollout is, from its ``deployment.weights`` events (one per
    step it reached, in order). Without a known plan, the steps it reached."""
    if not planned:
        planned = [DeploymentStep(float(e.detail.get("weights", {}).get(str(d.version), 0.0)), None) for e in reached]
    n = len(reached)
    state = DeploymentState(d.status)
    steps = []
    for i, p in enumerate(planned):
        if state == DeploymentState.SUCCEEDED or i < n - 1 or (state == DeploymentState.PAUSED and i < n):
            status = "done"
        elif state == DeploymentState.PAUSED:
            status = "next: paused before it" if i == n else "pending"
        elif i == n - 1:
            status = "current" if state == DeploymentState.IN_PROGRESS else f"ended here: {state}"
        else:
            status = "pending" if state == DeploymentState.IN_PROGRESS else "not reached"
        own = [a for a in analyses if a.step_index == i]
        steps.append(RolloutStep(step=i + 1, weight_pct=float(p.weight_pct), bake_s=p.bake_s, status=status,
                                 reached_at=reached[i].ts if i < n else None, analyses=len(own),
                                 last_verdict=own[-1].verdict if own else None))
    return steps


def _pending_pause(d: Deployment, events: list) -> tuple[str, datetime] | None:
    """A pause signal not yet followed by a resume while the rollout is still in progress (the
    workflow pauses before its next step)."""
    if d.status != DeploymentState.IN_PROGRESS:
        return None
    last = next((e for e in reversed(events) if e.action in ("deployment.signal.pause", "deployment.signal.resume")), None)
    return (last.actor, last.ts) if last is not None and last.action == "deployment.signal.pause" else None


def weights_frame(events: list, version: int, stable: int | None) -> pd.DataFrame:
    """The rollout's traffic weights over time, one row per version and change: each
    ``deployment.weights`` event (``{"weights": {"<version>": pct}}``; a version it leaves out
    gets 0), then its end (``deployment.succeeded``: all on the new version; ``rolled_back`` or
    ``aborted``: all back on the stable version, or nothing served without one).

    Columns: ``ts, version, role`` (``canary`` or ``stable``), ``weight_pct, event``.
    """
    changes: list[tuple[datetime, dict[str, float], str]] = []
    step = 0
    for e in events:
        if e.action == "deployment.weights":
            step += 1
            weights = (e.detail or {}).get("weights") or {}
            changes.append((e.ts, {str(k): float(v) for k, v in weights.items()}, f"step {step}"))
        elif e.action in _ENDING_EVENTS:
            ended = {str(version): 100.0} if e.action == "deployment.succeeded" else (
                {str(stable): 100.0} if stable is not None else {})
            changes.append((e.ts, ended, _ENDING_EVENTS[e.action]))
    versions = [version] + ([stable] if stable is not None else [])
    versions += sorted({int(k) for _, w, _ in changes for k in w if k.isdigit()} - set(versions))
    return pd.DataFrame(
        [{"ts": ts, "version": v, "role": "canary" if v == version else "stable", "weight_pct": w.get(str(v), 0.0),
          "event": label} for ts, w, label in changes for v in versions],
        columns=WEIGHT_COLUMNS,
    )


def analyses_frame(analyses: list[DeploymentAnalysis]) -> pd.DataFrame:
    """One row per canary analysis, oldest first: its number, step (1-based), the canary's weight
    (percent), window and time, the overall verdict, the finished runs of the canary and the stable
    version, each metric's verdict, and the reasons of a breach (joined by "; ")."""
    rows = []
    for a in analyses:
        verdicts = {m.get("metric"): m.get("verdict") for m in a.metrics or ()}
        rows.append({"analysis": a.analysis_index, "step": a.step_index + 1, "weight_pct": a.weight_pct,
                     "window_start": a.window_start, "analysed_at": a.analysed_at, "verdict": a.verdict,
                     "canary_finished": (a.canary or {}).get("finished"),
                     "stable_finished": (a.baseline or {}).get("finished") if a.baseline is not None else None,
                     **{m: verdicts.get(m) for m in CANARY_METRICS}, "reasons": "; ".join(a.reasons or ())})
    return pd.DataFrame(rows, columns=ANALYSIS_COLUMNS)


def metric_frame(analyses: list[DeploymentAnalysis]) -> pd.DataFrame:
    """Each metric of each analysis: the canary's and the stable version's values, the threshold
    in words and as the number it amounts to (:func:`threshold_value`; None when it has none), the
    metric's verdict and p-value. Rates are 0-1, latency milliseconds, cost US dollars."""
    return pd.DataFrame(
        [{"analysis": a.analysis_index, "step": a.step_index + 1, "weight_pct": a.weight_pct, "metric": m.get("metric"),
          "verdict": m.get("verdict"), "canary": m.get("canary"), "stable": m.get("baseline"), "threshold": threshold_value(m),
          "threshold_text": m.get("threshold", ""), "p_value": m.get("p_value")}
         for a in analyses for m in a.metrics or ()],
        columns=METRIC_COLUMNS,
    )


def threshold_value(metric: dict) -> float | None:
    """The value a stored metric breaches above (its ``limit``: rates 0-1, latency ms, cost USD), or
    None when it has none (cost without a paid stable version). Rate limits are those of a
    significance test: the canary's observed rate may sit above them and still pass."""
    limit = metric.get("limit")
    return float(limit) if limit is not None else None


# == observability (issue 13): Overview, Costs, a run's node costs and trace, Search ===============
# Time ranges the Overview links to and the Runs page filters by (``?since=`` in its URL).
TIME_RANGES: dict[str, tuple[str, timedelta | None]] = {
    "all": ("all time", None),
    "1h": ("last hour", timedelta(hours=1)),
    "24h": ("last 24 hours", timedelta(days=1)),
    "7d": ("last 7 days", timedelta(days=7)),
    "30d": ("last 30 days", timedelta(days=30)),
}
BUDGET_BADGES = ((1.0, "100%"), (0.8, "80%"))  # share of a daily budget spent -> badge, highest first
PER_MINUTE_WINDOW = 60  # minutes of the Overview's runs-per-minute chart
COSTLIEST_RUNS = 20
TRACE_LINK_TIMEOUT_S = 3.0
_trace_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trace-link")


def range_start(key: str, now: datetime | None = None) -> datetime | None:
    """When the time range ``key`` (one of :data:`TIME_RANGES`) starts, before ``now`` (UTC); None for ``all``.

    Raises:
        KeyError: an unknown key.
    """
    span = TIME_RANGES[key][1]
    return None if span is None else (now or utcnow()) - span


def day_start(now: datetime | None = None) -> datetime:
    """Midnight UTC of ``now``'s day (default today): where "today" starts for costs and budgets."""
    return (now or utcnow()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Overview:
    """What the Overview page shows, for one tenant's runs (None: every tenant).

    ``hour`` / ``day``: totals of the runs started in the last hour / 24 hours; ``per_minute``:
    runs started per minute over the last :data:`PER_MINUTE_WINDOW` minutes (columns ``minute,
    runs``, every minute listed); ``cost_today_usd``: cost of the runs started since midnight UTC;
    ``agents_by_status``: ``{status: agents}`` (:func:`shipway.queries.agent_status_counts`);
    ``awaiting_approval``: versions waiting for an approver; ``rollouts``: rollouts in progress,
    paused, or rolled back / failed in the last 24 hours (:data:`DEPLOYMENT_COLUMNS`);
    ``budgets``: today's budget use of each agent with a daily budget (:func:`budget_frame`).
    """

    hour: queries.RunStats
    day: queries.RunStats
    per_minute: pd.DataFrame
    cost_today_usd: float
    agents_by_status: dict[str, int]
    awaiting_approval: int
    rollouts: pd.DataFrame
    budgets: pd.DataFrame

    @property
    def active_rollouts(self) -> int:
        """Rollouts in progress or paused."""
        return int(self.rollouts["state"].isin([str(s) for s in ACTIVE_STATES]).sum())

    @property
    def failing_rollouts(self) -> int:
        """Rollouts rolled back or failed in the last 24 hours."""
        return len(self.rollouts) - self.active_rollouts

    @property
    def budgets_alerting(self) -> int:
        """Agents that have spent at least 80% of today's budget."""
        return int((self.budgets["badge"] != "").sum())


def overview(tenant: str | None = None, now: datetime | None = None) -> Overview:
    """The Overview's numbers at ``now`` (default: the current time), for ``tenant``'s runs."""
    now = now or utcnow()
    minute = now.replace(second=0, microsecond=0)
    first = minute - timedelta(minutes=PER_MINUTE_WINDOW - 1)
    settings = get_settings()
    with session() as s:
        hour = queries.filtered_run_stats(s, RunFilter(tenant=tenant, since=now - timedelta(hours=1)))
        day = queries.filtered_run_stats(s, RunFilter(tenant=tenant, since=now - timedelta(days=1)))
        counts = queries.runs_per_minute(s, RunFilter(tenant=tenant, since=first))
        today = queries.filtered_run_stats(s, RunFilter(tenant=tenant, since=day_start(now)))
        by_status = queries.agent_status_counts(s)
        awaiting = len(queries.versions_awaiting_approval(s))
        rollouts = queries.rollouts_to_watch(s, now - timedelta(days=1))
        budgets = queries.budget_usage(s, day_start(now).date())
    minutes = [first + timedelta(minutes=i) for i in range(PER_MINUTE_WINDOW)]
    return Overview(
        hour=hour, day=day, cost_today_usd=today.cost_usd, agents_by_status=by_status,
        awaiting_approval=awaiting, budgets=_budget_rows(budgets),
        per_minute=pd.DataFrame({"minute": minutes, "runs": [counts.get(m, 0) for m in minutes]}),
        rollouts=pd.DataFrame(
            [{"agent": d.agent_name, "version": d.version, "strategy": d.strategy, "target": d.target, "state": str(d.status),
              "weight_pct": d.weight_pct, "started": d.created_at, "finished": d.finished_at, "detail": d.detail,
              "workflow_id": d.workflow_id, "workflow": settings.workflow_url(d.workflow_id)} for d in rollouts],
            columns=DEPLOYMENT_COLUMNS),
    )


def budget_badge(ratio: float) -> str:
    """``"100%"`` once a daily budget is spent, ``"80%"`` from 80% of it, ``""`` below."""
    return next((badge for floor, badge in BUDGET_BADGES if ratio >= floor), "")


BUDGET_COLUMNS = ["agent", "budget_usd", "spent_usd", "used_pct", "badge", "hard_stop"]


def _budget_rows(uses: list) -> pd.DataFrame:
    return pd.DataFrame(
        [{"agent": u.agent, "budget_usd": u.budget_usd, "spent_usd": u.spent_usd, "used_pct": 100.0 * u.ratio,
          "badge": budget_badge(u.ratio), "hard_stop": u.hard_stop} for u in sorted(uses, key=lambda u: -u.ratio)],
        columns=BUDGET_COLUMNS)


def budget_frame(day: date | None = None) -> pd.DataFrame:
    """Each agent's daily budget and its use on ``day`` (default today, UTC), most used first.

    Columns: ``agent, budget_usd, spent_usd`` (US dollars), ``used_pct`` (percent of the budget),
    ``badge`` (:func:`budget_badge`), ``hard_stop`` (whether runs are refused once it is spent).
    Source: :func:`shipway.queries.budget_usage`.
    """
    with session() as s:
        return _budget_rows(queries.budget_usage(s, day))


COST_COLUMNS = ["day", "agent", "version", "tenant", "model", "runs", "calls", "tokens_in", "tokens_out", "cost_usd"]


def cost_frame(since: date, until: date | None = None, agent: str | None = None, tenant: str | None = None) -> pd.DataFrame:
    """Daily cost rollups from ``since`` (to ``until``, inclusive; default today), of one agent
    and/or tenant: one row per day, agent, version, tenant and model (:data:`COST_COLUMNS`, cost in
    the rollup's ``currency``, US dollars). Source: :func:`shipway.queries.cost_rollups`, written by
    the cost-rollup schedule (today's row lags by up to its interval)."""
    with session() as s:
        rows = queries.cost_rollups(s, since, until, agent)
    return pd.DataFrame(
        [{"day": r.day, "agent": r.agent_name, "version": r.version, "tenant": r.tenant, "model": r.model, "runs": r.runs,
          "calls": r.calls, "tokens_in": r.tokens_in, "tokens_out": r.tokens_out, "cost_usd": r.cost_usd}
         for r in rows if tenant is None or r.tenant == tenant],
        columns=COST_COLUMNS)


def costliest_runs_frame(f: RunFilter, limit: int = COSTLIEST_RUNS) -> pd.DataFrame:
    """The ``limit`` costliest runs matching ``f``, costliest first (columns as :func:`runs_frame`)."""
    with session() as s:
        return _run_rows(queries.filtered_runs(s, f, limit, costliest=True))


PRICE_COLUMNS = ["model", "input_usd_per_mtok", "output_usd_per_mtok", "currency", "effective_from", "effective_to", "source",
                 "source_date"]


def prices_frame(at: date | None = None) -> pd.DataFrame:
    """The model prices in force on ``at`` (default today): US dollars per million input / output
    tokens, since when, until when, and where the price comes from. Source: :func:`shipway.queries.price_rows`."""
    with session() as s:
        rows = queries.price_rows(s, at)
    return pd.DataFrame([{c: getattr(p, c) for c in PRICE_COLUMNS} for p in rows], columns=PRICE_COLUMNS)


NODE_COST_COLUMNS = ["node", "calls", "tokens_in", "tokens_out", "cost_usd"]


def node_cost_frame(run_id: str) -> pd.DataFrame:
    """The LLM calls of each graph node of a run: ``node, calls, tokens_in, tokens_out, cost_usd``
    (US dollars), costliest first. Source: ``llm_usage`` (:func:`shipway.queries.node_costs`)."""
    with session() as s:
        rows = queries.node_costs(s, run_id)
    return pd.DataFrame([asdict(r) for r in rows], columns=NODE_COST_COLUMNS)


def trace_link(run_id: str, timeout_s: float = TRACE_LINK_TIMEOUT_S) -> str | None:
    """The run's LangSmith trace URL, or None: LangSmith is not configured, the run has no trace,
    or the lookup failed or took longer than ``timeout_s`` seconds (a page never waits on LangSmith longer)."""
    if not get_settings().langsmith_api_key:
        return None
    from activities.tracing import trace_url  # only with LangSmith configured

    try:
        return _trace_pool.submit(trace_url, run_id).result(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - any failure of the lookup only costs the link
        return None


SEARCH_COLUMNS = ["name", "score", "status", "live_version", "owner", "template", "tenant", "description", "vector_rank",
                  "text_rank"]


def search_frame(text: str, embedding: list[float] | None, status: str | None = None, owner: str | None = None,
                 template: str | None = None, tenant: str | None = None, limit: int = 10) -> pd.DataFrame:
    """Agents matching ``text`` by hybrid search (vector similarity of ``embedding``, the text's
    384-float embedding, fused with full-text rank; ``embedding`` None: full text only), best first,
    optionally of one status, owner, template and/or tenant (shared agents and its own):
    :data:`SEARCH_COLUMNS` (``score`` the fused score, the ranks 1-based or None when that side did
    not find the agent). Source: :func:`shipway.search.search_agents`."""
    with session() as s:
        hits = search_agents(s, text, embedding, status=status, owner=owner, tenant=tenant, template=template, limit=limit)
    return pd.DataFrame([{c: getattr(h, c) for c in SEARCH_COLUMNS} for h in hits], columns=SEARCH_COLUMNS)


def search_options() -> dict[str, list[str]]:
    """Values the Search page's filters offer: ``{"owner": [...], "template": [...]}``, sorted."""
    with session() as s:
        agents = queries.agents(s)
    return {"owner": sorted({a.owner for a in agents}), "template": sorted({a.template for a in agents})}
# == end observability =============================================================================


# == DAG -> code mapping jobs (issue 17): the Mapping jobs page =====================================

MAPPING_JOBS_LIMIT = 200  # jobs listed, newest first
MAPPING_BANDS = ("accept", "second_pass", "review", "reviewed", "rejected")
MAPPING_JOB_COLUMNS = ["job_id", "analysis_id", "agent", "version", "status", "nodes", *MAPPING_BANDS, "cost_usd",
                       "started_at"]


def _waiting_nodes(run: Run) -> list[dict]:
    """The nodes an interrupted job waits on a person for (its review request's ``context.nodes``)."""
    return listed_nodes(run.interrupt) if run.status == RunStatus.INTERRUPTED else []


def mapping_jobs_frame(tenant: str | None = None, limit: int = MAPPING_JOBS_LIMIT) -> pd.DataFrame:
    """The newest ``limit`` mapping jobs (runs of agents built from the ``dag_mapping`` template) of
    ``tenant`` (None: every tenant), newest first.

    Columns: ``job_id`` (the run id), ``analysis_id, agent, version, status, nodes`` (in the plan),
    one count of nodes per band of :data:`MAPPING_BANDS`, ``cost_usd`` (US dollars), ``started_at``.
    Counts come from the job's output (its ``code_mappings`` rows are written from it in the same
    transaction): None until it ends, except ``review``, the nodes an interrupted job waits on.
    """
    with session() as s:
        jobs = queries.mapping_jobs(s, MAPPING_TEMPLATE, limit, tenant=tenant)
    return pd.DataFrame(
        [{"job_id": r.id, "analysis_id": r.input.get("analysis_id"), "agent": r.agent_name, "version": r.version,
          "status": str(r.status), "nodes": (r.output or {}).get("nodes"), **_band_counts(r), "cost_usd": r.cost_usd,
          "started_at": r.started_at} for r in jobs],
        columns=MAPPING_JOB_COLUMNS,
    )


def _band_counts(run: Run) -> dict[str, int | None]:
    """Nodes per band of :data:`MAPPING_BANDS`: from an ended job's output; of a job still going,
    only ``review`` is known (the nodes an interrupted job waits on), the rest None."""
    bands = (run.output or {}).get("bands")
    if bands is not None:
        return {b: int(bands.get(b, 0)) for b in MAPPING_BANDS}
    waiting = _waiting_nodes(run)
    return {b: len(waiting) if b == "review" and waiting else None for b in MAPPING_BANDS}


@dataclass
class MappingJob:
    """One mapping job: its run, its ``code_mappings`` rows as dicts (the fields of
    :class:`~shipway.db.models.CodeMapping`, in plan pre-order; empty until it ends) and, while it
    is interrupted, the nodes waiting for a person (``node_id, operator, kind, confidence,
    explanation, candidates``)."""

    run: Run
    mappings: list[dict]
    waiting: list[dict]

    @property
    def repository(self) -> str | None:
        """Where the job read the code (a directory or archive on the worker's machine)."""
        return self.run.input.get("repository")

    @property
    def workflow_url(self) -> str:
        """Link to the job's run workflow in the Temporal Web UI."""
        return get_settings().workflow_url(self.run.workflow_id)


def mapping_job(job_id: str, tenant: str | None = None) -> MappingJob | None:
    """The mapping job ``job_id``, or None: no such run, a run of another tenant than ``tenant``
    (when given), or a run of an agent not built from the ``dag_mapping`` template."""
    with session() as s:
        run = queries.run(s, job_id)
        if run is None or tenant not in (None, run.tenant):
            return None
        agent = queries.agent(s, run.agent_name)
        if agent is None or agent.template != MAPPING_TEMPLATE:
            return None
        rows = [m.model_dump() for m in queries.code_mappings(s, run.id)]
    return MappingJob(run=run, mappings=rows, waiting=_waiting_nodes(run))
# == end mapping jobs ==============================================================================
