"""Canary analysis: metrics of real runs of the canary against the stable version in a window.

Breach rules (per step): error rate of the canary above ``max_error_rate``; p99 latency
above ``max_p99_latency_ratio`` times the baseline's. Too few canary runs means no
verdict on that metric (the step passes on what it could measure).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from shipway.db.engine import async_engine
from workflows.types import CanaryAnalysisInput

_METRICS_SQL = text(
    """
    SELECT count(*) FILTER (WHERE status IN ('succeeded','failed')) AS finished,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) FILTER (WHERE latency_ms IS NOT NULL) AS p99_ms,
           avg(cost_usd) AS cost_per_run_usd
    FROM runs WHERE agent_name = :name AND version = :version AND started_at >= :since
    """
)


async def version_metrics(session: AsyncSession, name: str, version: int, since: datetime) -> dict:
    """``{finished, failed, error_rate, p99_ms, cost_per_run_usd}`` of runs of one version since ``since``."""
    row = (await session.execute(_METRICS_SQL, {"name": name, "version": version, "since": since})).mappings().one()
    finished = int(row["finished"] or 0)
    return {"finished": finished, "failed": int(row["failed"] or 0),
            "error_rate": (row["failed"] or 0) / finished if finished else None,
            "p99_ms": float(row["p99_ms"]) if row["p99_ms"] is not None else None,
            "cost_per_run_usd": float(row["cost_per_run_usd"]) if row["cost_per_run_usd"] is not None else None}


@activity.defn(name="analyze_canary")
async def analyze_canary(inp: CanaryAnalysisInput) -> dict:
    """Returns ``{"breach": bool, "reasons": [...], "canary": metrics, "baseline": metrics}``."""
    since = datetime.fromisoformat(inp.since_iso)
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        canary = await version_metrics(session, inp.name, inp.version, since)
        baseline = await version_metrics(session, inp.name, inp.baseline, since) if inp.baseline else None
    reasons = []
    if canary["finished"] >= inp.min_runs and canary["error_rate"] is not None and canary["error_rate"] > inp.max_error_rate:
        reasons.append(f"ERROR_RATE {canary['error_rate']:.3f} > {inp.max_error_rate}")
    if baseline and canary["p99_ms"] and baseline["p99_ms"] and canary["p99_ms"] > inp.max_p99_latency_ratio * baseline["p99_ms"]:
        reasons.append(f"P99_LATENCY {canary['p99_ms']:.0f}ms > {inp.max_p99_latency_ratio}x baseline {baseline['p99_ms']:.0f}ms")
    return {"breach": bool(reasons), "reasons": reasons, "canary": canary, "baseline": baseline}
