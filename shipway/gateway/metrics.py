"""Prometheus metrics of the gateway (exposed on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RUNS_STARTED = Counter("shipway_runs_started_total", "Agent runs started through the gateway", ["agent", "version"])
RUNS_SETTLED = Counter("shipway_runs_settled_total", "Runs the gateway waited on, by outcome", ["agent", "status"])
RUN_WAIT_SECONDS = Histogram("shipway_run_wait_seconds", "Time from request to settled run for ?wait=true calls, seconds",
                             ["agent"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RESUMES = Counter("shipway_run_resumes_total", "Human resume answers accepted", ["agent"])
HTTP_REQUESTS = Counter("shipway_http_requests_total", "Gateway HTTP requests, by route template, method and status code",
                        ["route", "method", "status"])
HTTP_REQUEST_SECONDS = Histogram("shipway_http_request_duration_seconds",
                                 "Gateway HTTP request latency (first byte in to last byte out), by route template and method, seconds",
                                 ["route", "method"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
