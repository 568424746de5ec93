"""Canary analysis: metrics of real runs of the canary against the stable version in a window,
judged by :mod:`activities.canary_verdict`, and stored (the only writer of ``deployment_analyses``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.canary_verdict import judge
from shipway import queries
from shipway.db.engine import Database
from shipway.db.models import DeploymentAnalysis, utcnow
from workflows.types import ANALYZE_CANARY, CanaryAnalysis, CanaryAnalysisInput, CanaryThresholds

# Rollouts started before the canary-evidence patch send no thresholds: their own error-rate and
# latency-ratio fields, no latency ceiling, and their minimum of finished runs.
_NO_CEILING_MS = 1e12


def thresholds_of(inp: CanaryAnalysisInput) -> CanaryThresholds:
    """The thresholds an analysis is held to: ``inp.thresholds``, or those of an older rollout's fields."""
    if inp.thresholds is not None:
        return inp.thresholds
    return CanaryThresholds(max_error_rate=inp.max_error_rate, max_p99_ratio=inp.max_p99_latency_ratio,
                            max_p99_ms=_NO_CEILING_MS, min_runs=inp.min_runs)


class CanaryActivities:
    """Reads run metrics for the deployment workflow's analysis steps and records each analysis."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=ANALYZE_CANARY)
    async def analyze_canary(self, inp: CanaryAnalysisInput) -> CanaryAnalysis:
        """Metrics of the canary and the baseline since ``inp.since_iso`` and the verdict; stored as
        one ``deployment_analyses`` row per (``workflow_id``, ``analysis_index``) when the workflow
        id is given (a retried attempt replaces its row)."""
        since = datetime.fromisoformat(inp.since_iso)
        canary = await self.db.read(queries.version_metrics, inp.name, inp.version, since)
        baseline = await self.db.read(queries.version_metrics, inp.name, inp.baseline, since) if inp.baseline else None
        analysis = judge(canary, baseline, thresholds_of(inp))
        if inp.workflow_id:
            await self._store(inp, since, analysis)
        return analysis

    async def _store(self, inp: CanaryAnalysisInput, since: datetime, a: CanaryAnalysis) -> None:
        row = dict(workflow_id=inp.workflow_id, analysis_index=inp.analysis_index, agent_name=inp.name, version=inp.version,
                   baseline_version=inp.baseline, step_index=inp.step_index, weight_pct=inp.weight_pct, window_start=since,
                   analysed_at=utcnow(), verdict=str(a.verdict), reasons=a.reasons,
                   metrics=[{**asdict(m), "verdict": str(m.verdict)} for m in a.metrics], canary=asdict(a.canary),
                   baseline=asdict(a.baseline) if a.baseline else None)
        async with self.db.session() as s:
            stmt = insert(DeploymentAnalysis).values(**row)
            await s.execute(stmt.on_conflict_do_update(constraint="uq_deployment_analyses_workflow_index",
                                                       set_={k: stmt.excluded[k] for k in row if k not in ("workflow_id", "analysis_index")}))
            await s.commit()
