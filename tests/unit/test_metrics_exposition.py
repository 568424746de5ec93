"""What the gateway's ``/metrics`` and a worker's metrics endpoint expose, parsed with the
Prometheus client's own parser, after real requests and real runs (PostgreSQL, Temporal dev server,
Shipway's workers in this process): request counts and latencies by route template, runs by agent,
version and status, queue wait, LLM tokens and cost, guard blocks, pool gauges, task-queue backlog."""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from activities.graph_runner import STEP_LOCK_POOL_SIZE
from shipway.metrics import poll_task_queue_backlog, serve_metrics
from shipway.stack.ports import PortInUseError, free_port
from shipway.temporal import prometheus_runtime
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy_counting

pytestmark = pytest.mark.asyncio(loop_scope="session")

Samples = dict[tuple[str, frozenset], float]


def samples(text: str) -> Samples:
    """``{(sample name, labels): value}`` of a text exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def value(found: Samples, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent, as Prometheus treats a counter not yet incremented)."""
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest_asyncio.fixture(loop_scope="session")
async def stack(settings_env, temporal_env):
    """Shipway's workers serving ``/metrics`` on a free port, the database, and the gateway over ASGI
    (admin key by default); ``viewer`` is a key that may read metrics and nothing else of note."""
    from shipway.db.engine import Database
    from shipway.gateway.app import create_app
    from shipway.worker import QUEUES, build_workers

    port = free_port()
    async with build_workers(temporal_env.client, QUEUES, settings_env.model_copy(update={"worker_metrics_port": port})):
        async with Database.from_settings(pool_size=2) as db:
            app = create_app()
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                             headers=bearer(await make_key())) as http:
                    yield SimpleNamespace(client=temporal_env.client, db=db, http=http, viewer=await make_key(role="viewer"),
                                          worker_metrics=f"http://127.0.0.1:{port}/metrics")


async def _gateway_metrics(stack) -> Samples:
    r = await stack.http.get("/metrics", headers=bearer(stack.viewer))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text
    return samples(r.text)


async def test_gateway_counts_requests_by_route_template_method_and_status(stack):
    name = await deploy_counting(stack.client, stack.db)
    before = await _gateway_metrics(stack)
    assert (await stack.http.get(f"/v1/agents/{name}")).status_code == 200
    assert (await stack.http.get(f"/v1/agents/{name}")).status_code == 200
    assert (await stack.http.get("/v1/agents/no-such-agent")).status_code == 404
    assert (await stack.http.get(f"/nowhere/{name}")).status_code == 404
    assert (await stack.http.request("BREW", "/v1/agents")).status_code == 405
    after = await _gateway_metrics(stack)

    def delta(metric: str, **labels: str) -> float:
        return value(after, metric, **labels) - value(before, metric, **labels)

    route = "/v1/agents/{name}"
    assert delta("shipway_http_requests_total", route=route, method="GET", status="200") == 2
    assert delta("shipway_http_requests_total", route=route, method="GET", status="404") == 1
    assert delta("shipway_http_request_duration_seconds_count", route=route, method="GET") == 3
    assert delta("shipway_http_request_duration_seconds_bucket", route=route, method="GET", le="+Inf") == 3
    assert delta("shipway_http_request_duration_seconds_sum", route=route, method="GET") > 0
    # no route matched: one label for all such paths; an unknown method: one label for all such methods
    assert delta("shipway_http_requests_total", route="unmatched", method="GET", status="404") == 1
    assert delta("shipway_http_requests_total", route="/v1/agents", method="other", status="405") == 1
    # the scrape before counts as a request to /metrics
    assert delta("shipway_http_requests_total", route="/metrics", method="GET", status="200") >= 1
    routes = {dict(labels)["route"] for (metric, labels) in after if metric.startswith("shipway_http_request")}
    assert not any(name in r or "nowhere" in r for r in routes), f"a raw path became a label: {routes}"
    # the gateway's own pool
    assert value(after, "shipway_db_pool_max_connections", pool="gateway") > 0


async def _worker_metrics(stack, until=lambda found: True, timeout_s: float = 30.0) -> Samples:
    """The worker endpoint's samples, re-scraped until ``until(samples)`` (the backlog poller runs beside the workers)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(timeout=5) as http:
        while True:
            r = await http.get(stack.worker_metrics)
            assert r.status_code == 200, r.text
            found = samples(r.text)
            if until(found) or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.2)


async def test_a_worker_exposes_runs_queue_wait_llm_usage_and_guard_blocks_after_real_runs(stack, tmp_path):
    name = await deploy_counting(stack.client, stack.db, config={"llm_tokens": 7}, guard={"input": {"US_SSN": "block"}})
    ok = await stack.http.post(f"/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(tmp_path / "a")}})
    assert ok.status_code == 200 and ok.json()["status"] == "succeeded", ok.text
    blocked = await stack.http.post(f"/v1/agents/{name}/runs?wait=true",
                                    json={"input": {"log_path": str(tmp_path / "b"), "message": "The SSN is 536-22-8841, check it."}})
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked", blocked.text

    found = await _worker_metrics(stack)
    run = {"agent": name, "version": "1"}
    assert value(found, "shipway_runs_finished_total", **run, status="succeeded") == 1
    assert value(found, "shipway_runs_finished_total", **run, status="blocked") == 1
    assert value(found, "shipway_run_duration_seconds_count", **run, status="succeeded") == 1
    latency_s = value(found, "shipway_run_duration_seconds_sum", **run, status="succeeded")
    assert latency_s == pytest.approx(ok.json()["latency_ms"] / 1000, rel=1e-6) and latency_s > 0
    # the blocked run never reached the graph activity; the other waited in the queue at least once
    assert value(found, "shipway_queue_wait_seconds_count", agent=name) >= 1
    assert value(found, "shipway_guard_blocks_total", agent=name, stage="input", rail="pii") == 1
    llm = {"agent": name, "model": "gpt-4o-mini"}
    assert value(found, "shipway_llm_tokens_total", **llm, direction="input") == 7
    assert value(found, "shipway_llm_tokens_total", **llm, direction="output") == 7
    cost = value(found, "shipway_llm_cost_usd_total", **llm)
    assert cost == pytest.approx(ok.json()["cost_usd"]) and cost > 0


async def test_a_worker_exposes_its_pools_and_the_task_queue_backlog(stack):
    from shipway.worker import QUEUES

    wanted = [("shipway_task_queue_backlog_tasks", q, t) for q in QUEUES for t in ("workflow", "activity")]
    found = await _worker_metrics(stack, until=lambda f: all((n, frozenset({"task_queue": q, "task_type": t}.items())) in f
                                                             for n, q, t in wanted))
    for metric, queue, task_type in wanted:
        assert (metric, frozenset({"task_queue": queue, "task_type": task_type}.items())) in found, (queue, task_type)
        assert value(found, "shipway_task_queue_backlog_age_seconds", task_queue=queue, task_type=task_type) >= 0
    # the worker's catalog pool (10 + 20 overflow), the checkpointer's (30), the step locks' (64)
    for pool, size in (("worker", 30), ("checkpointer", 30), ("step_locks", STEP_LOCK_POOL_SIZE)):
        assert value(found, "shipway_db_pool_max_connections", pool=pool) == size, pool
        assert 0 <= value(found, "shipway_db_pool_in_use_connections", pool=pool) <= value(found, "shipway_db_pool_open_connections", pool=pool)


async def test_the_backlog_poller_outlives_failing_polls(temporal_env, caplog):
    """A task-queue name the server refuses makes every poll fail: the poller logs and keeps polling."""
    poller = asyncio.create_task(poll_task_queue_backlog(temporal_env.client, [""], every_s=0.05))
    try:
        for _ in range(100):
            if sum("backlog poll failed" in r.getMessage() for r in caplog.records) >= 2:
                break
            await asyncio.sleep(0.05)
        assert sum("backlog poll failed" in r.getMessage() for r in caplog.records) >= 2, caplog.text
        assert not poller.done()
    finally:
        poller.cancel()


async def test_a_taken_metrics_port_is_named_by_the_worker_and_the_sdk_runtime():
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"worker metrics: port {port}"):
            serve_metrics(port)
        with pytest.raises(PortInUseError, match=f"Temporal SDK metrics: port {port}"):
            prometheus_runtime(port)
    stop = serve_metrics(port)  # free again: served, then stopped
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
    finally:
        stop()
