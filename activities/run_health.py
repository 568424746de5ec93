"""High error rate and failed deployments: error rates per agent version from the ``runs`` table, and
recent rollouts with their canary analyses, the version they replaced and the traffic now. Writes
no table.

What counts, as the canary analysis counts it (:func:`shipway.queries.version_metrics`): a run is
*finished* once it succeeded, failed or was stopped by its budget (a budget stop is not a fault of
the code); the error rate is failed / finished. Runs the guards stopped (``blocked``, ``withheld``)
are guardrail violations, reported apart: they say the input or output was refused, not that the
agent broke. Running and interrupted runs have no outcome yet and are not counted.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select
from temporalio import activity

from shipway.db.engine import Database
from shipway.db.models import Deployment, DeploymentAnalysis, TrafficWeight, utcnow
from shipway import queries
from workflows.diagnostics_types import (
    ERROR_RATES,
    RECENT_DEPLOYMENTS,
    DeploymentInfo,
    DeploymentsCheck,
    DeploymentsReport,
    ErrorRateCheck,
    ErrorRateReport,
    ErrorRateRow,
)
from workflows.statuses import RunStatus

FINISHED = [RunStatus.SUCCEEDED.value, RunStatus.FAILED.value, RunStatus.BUDGET_EXCEEDED.value]
VIOLATIONS = [RunStatus.BLOCKED.value, RunStatus.WITHHELD.value]
TOP_ERRORS = 3
ERROR_CHARS = 200

_WINDOW = ("r.started_at >= now() - make_interval(secs => :window_s)"
           " AND (CAST(:agent AS text) IS NULL OR r.agent_name = CAST(:agent AS text))")
_RATES = text(f"""
SELECT r.agent_name, r.version,
       count(*) FILTER (WHERE r.status = ANY(CAST(:finished AS text[]))) AS runs,
       count(*) FILTER (WHERE r.status = 'failed') AS errors,
       count(*) FILTER (WHERE r.status = ANY(CAST(:violations AS text[]))) AS violations,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.latency_ms)
           FILTER (WHERE r.status = ANY(CAST(:finished AS text[])) AND r.latency_ms IS NOT NULL) AS p95_latency_ms
FROM runs r WHERE {_WINDOW}
GROUP BY r.agent_name, r.version
""")
# a failed run's error, by its first line: tracebacks and long messages group by what they say first
_ERRORS = text(f"""
SELECT r.agent_name, r.version, left(split_part(coalesce(r.error, ''), E'\\n', 1), {ERROR_CHARS}) AS message, count(*) AS n
FROM runs r WHERE r.status = 'failed' AND {_WINDOW}
GROUP BY 1, 2, 3 ORDER BY n DESC, message
""")


def error_rates(s: Session, window_s: float, agent: str | None, min_runs: int) -> list[ErrorRateRow]:
    """Rows of :class:`ErrorRateRow` for the runs started in the last ``window_s`` seconds (of
    ``agent``, or all), versions with at least ``min_runs`` finished runs, highest error rate first
    (then most runs, then name and version)."""
    params = {"window_s": window_s, "agent": agent, "finished": FINISHED, "violations": VIOLATIONS}
    top: dict[tuple[str, int], list[str]] = defaultdict(list)
    for e in s.exec(_ERRORS, params=params):
        if len(top[(e.agent_name, e.version)]) < TOP_ERRORS:
            top[(e.agent_name, e.version)].append(f"{e.n}× {e.message or '(no message)'}")
    rows = [ErrorRateRow(agent_name=r.agent_name, version=r.version, runs=r.runs, errors=r.errors,
                         error_rate=r.errors / r.runs if r.runs else 0.0,
                         p95_latency_ms=float(r.p95_latency_ms) if r.p95_latency_ms is not None else None,
                         top_errors=top[(r.agent_name, r.version)], violations=r.violations)
            for r in s.exec(_RATES, params=params) if r.runs >= min_runs]
    return sorted(rows, key=lambda r: (-r.error_rate, -r.runs, r.agent_name, r.version))


def _analysis(a: DeploymentAnalysis) -> dict:
    """A stored canary analysis as JSON, with the error rates and p99s of both sides on top."""
    baseline = a.baseline or {}
    return {"analysis_index": a.analysis_index, "step": a.step_index, "weight_pct": a.weight_pct, "verdict": a.verdict,
            "reasons": a.reasons, "baseline_version": a.baseline_version,
            "canary_error_rate": a.canary.get("error_rate"), "baseline_error_rate": baseline.get("error_rate"),
            "canary_p99_ms": a.canary.get("p99_ms"), "baseline_p99_ms": baseline.get("p99_ms"),
            "canary": a.canary, "baseline": a.baseline, "metrics": a.metrics,
            "window_start": a.window_start.isoformat(), "analysed_at": a.analysed_at.isoformat()}


def _stable_version(s: Session, d: Deployment, analyses: list[DeploymentAnalysis]) -> int | None:
    """The version serving before ``d``: the baseline of its analyses, else what its
    ``deployment.started`` audit event recorded (rollouts without analyses, such as AllAtOnce)."""
    if any(a.baseline_version is not None for a in analyses):
        return next(a.baseline_version for a in analyses if a.baseline_version is not None)
    started = queries.audit_events(s, f"agent:{d.agent_name}:v{d.version}", "deployment.started")
    return next((e.detail.get("stable") for e in reversed(started) if "stable" in e.detail), None)


def recent_deployments(s: Session, agent: str | None, since: datetime, limit: int) -> list[DeploymentInfo]:
    """Rollouts created since ``since`` (of ``agent``, or all), newest first, at most ``limit``, as
    :class:`DeploymentInfo`."""
    query = select(Deployment).where(Deployment.created_at >= since)
    if agent is not None:
        query = query.where(Deployment.agent_name == agent)
    deployments = list(s.exec(query.order_by(col(Deployment.created_at).desc(), col(Deployment.id).desc()).limit(limit)))
    ids = [d.workflow_id for d in deployments]
    analyses: dict[str, list[DeploymentAnalysis]] = defaultdict(list)
    for a in s.exec(select(DeploymentAnalysis).where(col(DeploymentAnalysis.workflow_id).in_(ids))
                    .order_by(col(DeploymentAnalysis.analysis_index))):
        analyses[a.workflow_id].append(a)
    traffic: dict[str, dict[str, float]] = defaultdict(dict)
    for w in s.exec(select(TrafficWeight).where(col(TrafficWeight.agent_name).in_({d.agent_name for d in deployments}))
                    .order_by(col(TrafficWeight.version))):
        traffic[w.agent_name][str(w.version)] = w.weight_pct
    return [DeploymentInfo(
        deployment_id=d.workflow_id, agent_name=d.agent_name, version=d.version, strategy=d.strategy, state=str(d.status),
        started_at=d.created_at.isoformat(), finished_at=d.finished_at.isoformat() if d.finished_at else None,
        stable_version=_stable_version(s, d, analyses[d.workflow_id]), analyses=[_analysis(a) for a in analyses[d.workflow_id]],
        traffic=traffic[d.agent_name], detail=d.detail, weight_pct=d.weight_pct, target=d.target) for d in deployments]


class RunHealthActivities:
    """Diagnostics of agent runs and rollouts; owns nothing but a reference to the database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=ERROR_RATES)
    async def error_rates(self, inp: ErrorRateCheck) -> ErrorRateReport:
        """Error rate, p95 latency, commonest errors and guard violations per agent version over the
        runs started in the last ``inp.window_s`` seconds (see the module doc for what counts)."""
        rows = await self.db.read(error_rates, inp.window_s, inp.agent_name, inp.min_runs)
        return ErrorRateReport(window_s=inp.window_s, rows=rows)

    @activity.defn(name=RECENT_DEPLOYMENTS)
    async def recent_deployments(self, inp: DeploymentsCheck) -> DeploymentsReport:
        """Rollouts started in the last ``inp.since_s`` seconds, newest first: state, the version they
        replaced, their canary analyses and the agent's traffic weights now."""
        since = utcnow() - timedelta(seconds=inp.since_s)
        return DeploymentsReport(rows=await self.db.read(recent_deployments, inp.agent_name, since, inp.limit))
