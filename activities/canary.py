"""Canary analysis: metrics of real runs of the canary against the stable version in a window.

Breach rules (per step): error rate of the canary above ``max_error_rate`` (with at least
``min_runs`` finished canary runs); p99 latency above ``max_p99_latency_ratio`` times the
baseline's. A metric that cannot be measured gives no verdict (the step passes on what it could
measure). Reads only.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from shipway import queries
from shipway.db.engine import Database
from workflows.types import ANALYZE_CANARY, CanaryAnalysis, CanaryAnalysisInput, VersionMetrics


def verdict(inp: CanaryAnalysisInput, canary: VersionMetrics, baseline: VersionMetrics | None) -> CanaryAnalysis:
    """Apply the breach rules of :class:`CanaryAnalysisInput` to measured metrics."""
    reasons = []
    if canary.finished >= inp.min_runs and canary.error_rate is not None and canary.error_rate > inp.max_error_rate:
        reasons.append(f"ERROR_RATE {canary.error_rate:.3f} > {inp.max_error_rate}")
    if baseline and canary.p99_ms and baseline.p99_ms and canary.p99_ms > inp.max_p99_latency_ratio * baseline.p99_ms:
        reasons.append(f"P99_LATENCY {canary.p99_ms:.0f}ms > {inp.max_p99_latency_ratio}x baseline {baseline.p99_ms:.0f}ms")
    return CanaryAnalysis(breach=bool(reasons), reasons=reasons, canary=canary, baseline=baseline)


class CanaryActivities:
    """Reads run metrics for the deployment workflow's analysis steps."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=ANALYZE_CANARY)
    async def analyze_canary(self, inp: CanaryAnalysisInput) -> CanaryAnalysis:
        """Metrics of the canary and the baseline since ``inp.since_iso``, and the verdict."""
        since = datetime.fromisoformat(inp.since_iso)
        canary = await self.db.read(queries.version_metrics, inp.name, inp.version, since)
        baseline = await self.db.read(queries.version_metrics, inp.name, inp.baseline, since) if inp.baseline else None
        return verdict(inp, canary, baseline)
