"""Prometheus metrics shared by the gateway and the workers (``prometheus-client``, default registry).

Names follow Prometheus conventions: base units (``_seconds``, ``_usd``), ``_total`` for counters,
bounded label sets (agent names and versions come from the catalog, models from specs and settings,
statuses and rails from fixed enums; never from request data). The gateway's HTTP metrics live in
:mod:`shipway.gateway.metrics`; the Temporal SDK's own metrics come from its runtime
(:func:`shipway.temporal.prometheus_runtime`). ``docs/operations.md`` lists every metric.

Also here: the database pools' gauges (:data:`POOLS`), the workers' ``/metrics`` server
(:func:`serve_metrics`) and the task-queue backlog poller (:func:`poll_task_queue_backlog`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from shipway.stack.ports import PortInUseError

log = logging.getLogger(__name__)

AGENT_DAILY_BUDGET_USED_RATIO = Gauge(
    "shipway_agent_daily_budget_used_ratio",
    "Share of an agent's daily budget (spec daily_budget_usd) spent today (UTC), 0..1+; set by the cost rollup",
    ["agent"])


def set_budget_used(agent: str, ratio: float) -> None:
    """Publish ``agent``'s spend today as a share of its daily budget (1.0 = budget reached)."""
    AGENT_DAILY_BUDGET_USED_RATIO.labels(agent=agent).set(ratio)


# -- runs (workers) -------------------------------------------------------------------------------
RUNS_FINISHED = Counter(
    "shipway_runs_finished_total", "Agent runs that reached a terminal status (succeeded, failed, blocked, withheld)",
    ["agent", "version", "status"])
RUN_DURATION_SECONDS = Histogram(
    "shipway_run_duration_seconds", "Run latency to its terminal status, human waits excluded, seconds",
    ["agent", "version", "status"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800))
QUEUE_WAIT_SECONDS = Histogram(
    "shipway_queue_wait_seconds", "Graph activity attempt scheduled -> started on a worker (task-queue wait), seconds",
    ["agent"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
LLM_TOKENS = Counter("shipway_llm_tokens_total", "LLM tokens of agent runs, by direction (input | output)",
                     ["agent", "model", "direction"])
LLM_COST_USD = Counter("shipway_llm_cost_usd_total", "Priced cost of agent runs' LLM calls, US dollars", ["agent", "model"])
GUARD_BLOCKS = Counter(
    "shipway_guard_blocks_total", "Values the run guards stopped: stage input | resume | output; rail (pii, jailbreak, "
    "prompt_injection, system_prompt, off_topic, self_check, rail_error) or, for an output, its lowercased reason code",
    ["agent", "stage", "rail"])
TASK_QUEUE_BACKLOG = Gauge("shipway_task_queue_backlog_tasks", "Approximate backlog of a Temporal task queue (DescribeTaskQueue)",
                           ["task_queue", "task_type"])
TASK_QUEUE_BACKLOG_AGE = Gauge("shipway_task_queue_backlog_age_seconds", "Age of the oldest task in a task queue's backlog, seconds",
                               ["task_queue", "task_type"])


def observe_run(agent: str, version: int, status: str, latency_ms: float | None) -> None:
    """Count one run that reached terminal ``status``; ``latency_ms`` (milliseconds) goes to the
    duration histogram when known."""
    labels = {"agent": agent, "version": str(version), "status": status}
    RUNS_FINISHED.labels(**labels).inc()
    if latency_ms is not None:
        RUN_DURATION_SECONDS.labels(**labels).observe(latency_ms / 1000.0)


def observe_queue_wait(agent: str, info: activity.Info) -> None:
    """Observe how long an activity attempt (``info``: :func:`temporalio.activity.info`) waited in its
    task queue, from being scheduled to starting on this worker."""
    QUEUE_WAIT_SECONDS.labels(agent).observe(max((info.started_time - info.current_attempt_scheduled_time).total_seconds(), 0.0))


def observe_llm_call(agent: str, model: str, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
    """Count one LLM call's tokens and cost (US dollars) for ``agent`` and ``model``."""
    LLM_TOKENS.labels(agent, model, "input").inc(tokens_in)
    LLM_TOKENS.labels(agent, model, "output").inc(tokens_out)
    LLM_COST_USD.labels(agent, model).inc(cost_usd)


def observe_guard_block(agent: str, stage: str, rail: str) -> None:
    """Count one blocked input or withheld output. ``stage`` ``resume:<n>`` counts as ``resume``
    (the answer's number would make the label unbounded)."""
    GUARD_BLOCKS.labels(agent, stage.split(":", 1)[0], rail).inc()


# -- database pools -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PoolStats:
    """One pool's connections: ``in_use`` (checked out), ``open`` (in use + idle), ``max`` (most it may open)."""

    in_use: int
    open: int
    max: int


def sqlalchemy_pool_stats(engine) -> Callable[[], PoolStats]:
    """Stats of a SQLAlchemy (async) engine's ``QueuePool``."""
    pool = engine.pool
    # the pool keeps its overflow limit privately; size() + that is what it may open
    return lambda: PoolStats(pool.checkedout(), pool.checkedin() + pool.checkedout(), pool.size() + max(pool._max_overflow, 0))


def psycopg_pool_stats(pool) -> Callable[[], PoolStats]:
    """Stats of a ``psycopg_pool`` pool (``get_stats()``)."""
    def stats() -> PoolStats:
        s = pool.get_stats()
        return PoolStats(s["pool_size"] - s["pool_available"], s["pool_size"], s["pool_max"])
    return stats


class PoolCollector(Collector):
    """Gauges of the database pools this process owns, read at scrape time, by pool name
    (``gateway``, ``worker``, ``checkpointer``); pools sharing a name are added up.
    ``track(name, stats)`` returns a function that stops tracking."""

    def __init__(self) -> None:
        self._pools: dict[int, tuple[str, Callable[[], PoolStats]]] = {}
        self._lock = threading.Lock()
        self._next = 0

    def track(self, name: str, stats: Callable[[], PoolStats]) -> Callable[[], None]:
        """Report ``stats()`` under ``pool=name`` until the returned function is called."""
        with self._lock:
            key, self._next = self._next, self._next + 1
            self._pools[key] = (name, stats)
        return lambda: self._pools.pop(key, None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per pool name of in-use, open and maximum connections."""
        totals: dict[str, list[int]] = {}
        with self._lock:
            pools = list(self._pools.values())
        for name, stats in pools:
            try:
                s = stats()
            except Exception:  # a pool being closed reports nothing rather than failing the scrape
                continue
            t = totals.setdefault(name, [0, 0, 0])
            t[0], t[1], t[2] = t[0] + s.in_use, t[1] + s.open, t[2] + s.max
        families = [GaugeMetricFamily("shipway_db_pool_in_use_connections", "Database pool connections checked out", labels=["pool"]),
                    GaugeMetricFamily("shipway_db_pool_open_connections", "Database pool connections open (in use + idle)", labels=["pool"]),
                    GaugeMetricFamily("shipway_db_pool_max_connections", "Most connections the database pool may open", labels=["pool"])]
        for name, values in sorted(totals.items()):
            for family, value in zip(families, values):
                family.add_metric([name], value)
        yield from families


POOLS = PoolCollector()
REGISTRY.register(POOLS)


# -- the workers' endpoint and task-queue backlog -------------------------------------------------
def serve_metrics(port: int, addr: str = "127.0.0.1") -> Callable[[], None]:
    """Serve the default registry on ``http://addr:port/metrics`` (a daemon thread); returns the
    function that stops the server.

    Raises:
        PortInUseError: the port is taken.
    """
    try:
        server, thread = start_http_server(port, addr)
    except OSError as exc:
        raise PortInUseError("worker metrics", port, addr) from exc

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    return stop


_TASK_TYPES = {"workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY}


async def publish_task_queue_backlog(client: Client, queues: Sequence[str]) -> None:
    """Set the backlog gauges of each of ``queues`` (workflow and activity tasks) from Temporal's
    ``DescribeTaskQueue`` with ``report_stats``.

    Raises:
        temporalio.service.RPCError: the server refused or could not be reached.
    """
    for queue in queues:
        for task_type, enum in _TASK_TYPES.items():
            resp = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
                namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=enum, report_stats=True))
            TASK_QUEUE_BACKLOG.labels(queue, task_type).set(resp.stats.approximate_backlog_count)
            TASK_QUEUE_BACKLOG_AGE.labels(queue, task_type).set(resp.stats.approximate_backlog_age.ToTimedelta().total_seconds())


async def poll_task_queue_backlog(client: Client, queues: Sequence[str], every_s: float = 15.0) -> None:
    """Publish the backlog of ``queues`` now and every ``every_s`` seconds until cancelled; a failed
    poll is logged and retried at the next tick (it never ends the worker)."""
    while True:
        try:
            await publish_task_queue_backlog(client, queues)
        except Exception as exc:  # metrics must never take the worker down
            log.warning("task-queue backlog poll failed: %s", exc)
        await asyncio.sleep(every_s)
