"""Prometheus metrics of the gateway (exposed on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS_STARTED = Counter("shipway_runs_started_total", "Agent runs started through the gateway", ["agent", "version"])
RUNS_SETTLED = Counter("shipway_runs_settled_total", "Runs the gateway waited on, by outcome", ["agent", "status"])
RUN_WAIT_SECONDS = Histogram("shipway_run_wait_seconds", "Time from request to settled run for ?wait=true calls, seconds",
                             ["agent"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RESUMES = Counter("shipway_run_resumes_total", "Human resume answers accepted", ["agent"])
