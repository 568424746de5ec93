"""Agent runs through the gateway: routing, interrupt/resume, bad input, and a worker killed mid-graph."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from shipway import control
from shipway.db.engine import async_engine
from shipway.gateway.app import create_app
from tests.support.workers import running_workers
from workflows.types import LifecycleStatus

pytestmark = pytest.mark.asyncio(loop_scope="session")

OWNER = "olivia.owner@bank.example"


async def deploy_counting(client) -> str:
    spec = {"name": f"counting-{uuid.uuid4().hex[:8]}", "owner": OWNER, "template": "counting_agent:AGENT",
            "description": "A three-node test agent used by the run integration tests."}
    name, version, wf_id = await control.submit_agent(client, async_engine(), spec, submitted_by=OWNER)
    await control.approve(client, name, version, "carol.approver@bank.example", "test deployment")
    result = await client.get_workflow_handle(wf_id, result_type=LifecycleStatus).result()
    assert result.state == "live"
    return name


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(worker):
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            yield http


async def test_run_interrupts_then_resumes_to_completion(worker, gateway, tmp_path):
    name = await deploy_counting(worker)
    log = tmp_path / "nodes.log"
    r = await gateway.post(f"/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(log), "ask": True}})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "interrupted" and run["interrupt"]["allowed"] == ["yes", "no"]
    assert run["workflow_url"].endswith(f"run%3A{run['run_id']}")

    r = await gateway.post(f"/v1/runs/{run['run_id']}/resume?wait=true", json={"value": {"answer": "yes"}, "actor": "uma.underwriter"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded"
    assert done["output"]["visited"] == ["a", "b", "c"] and done["output"]["answer"] == {"answer": "yes"}
    assert done["latency_ms"] > 0 and done["cost_usd"] == 0 and done["tokens_in"] == 0
    assert log.read_text().split() == ["a", "b", "c"]

    again = await gateway.post(f"/v1/runs/{run['run_id']}/resume", json={"value": {"answer": "no"}})
    assert again.status_code == 409 and "not waiting" in again.json()["error"]
    assert (await gateway.get(f"/v1/runs/{run['run_id']}")).json()["status"] == "succeeded"


async def test_async_run_can_be_polled(worker, gateway, tmp_path):
    name = await deploy_counting(worker)
    r = await gateway.post(f"/v1/agents/{name}/runs", json={"input": {"log_path": str(tmp_path / "l")}})
    assert r.status_code == 202
    run_id = r.json()["run_id"]
    for _ in range(200):
        body = (await gateway.get(f"/v1/runs/{run_id}")).json()
        if body["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert body["status"] == "succeeded" and body["output"]["visited"] == ["a", "b", "c"]


async def test_gateway_errors_are_json(worker, gateway):
    name = await deploy_counting(worker)
    r = await gateway.post("/v1/agents/no-such-agent/runs", json={"input": {}})
    assert r.status_code == 404 and "no-such-agent" in r.json()["error"]
    r = await gateway.post(f"/v1/agents/{name}/runs", json={"inputs": {}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "input"]
    r = await gateway.post(f"/v1/agents/{name}/runs", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = await gateway.post(f"/v1/agents/{name}/runs", json={"input": {"delay_s": -1}})
    assert r.status_code == 422 and {tuple(d["loc"]) for d in r.json()["detail"]} >= {("input", "log_path"), ("input", "delay_s")}
    big = json.dumps({"input": {"log_path": "x" * (1024 * 1024)}}).encode()
    r = await gateway.post(f"/v1/agents/{name}/runs", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "request body too large"

    async def chunks():
        for _ in range(5):
            yield b" " * (300 * 1024)

    r = await gateway.post(f"/v1/agents/{name}/runs", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    r = await gateway.get("/v1/runs/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404
    r = await gateway.post("/v1/runs/00000000-0000-0000-0000-000000000000/resume", json={"value": {"a": 1}})
    assert r.status_code == 404
    assert (await gateway.get("/healthz")).json()["status"] == "ok"
    assert "shipway_runs_started_total" in (await gateway.get("/metrics")).text


def _start_worker(log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "shipway", "worker", "--queue", "shipway-agents"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)


@pytest_asyncio.fixture(loop_scope="session")
async def control_worker(settings_env, temporal_env, monkeypatch):
    """Only ``shipway-control`` in this process; agent runs go to worker subprocesses."""
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_GRAPH_HEARTBEAT_TIMEOUT_S", "2")
    get_settings.cache_clear()
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        yield client


async def test_worker_killed_mid_graph_resumes_from_checkpoint(control_worker, pg_url, tmp_path):
    client = control_worker
    name = await deploy_counting(client)
    nodes_log = tmp_path / "nodes.log"
    first = _start_worker(tmp_path / "worker1.log")
    second = None
    try:
        run_id, handle = await control.start_run(client, async_engine(), name, {"log_path": str(nodes_log), "delay_s": 1.5})
        for _ in range(600):
            if nodes_log.exists() and "b" in nodes_log.read_text().split():
                break
            await asyncio.sleep(0.05)
        assert nodes_log.read_text().split() == ["a", "b"], "worker never reached node b"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        second = _start_worker(tmp_path / "worker2.log")
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert result["status"] == "succeeded" and result["output"]["visited"] == ["a", "b", "c"]
    # a ran once (checkpointed before the kill); b was cut off mid-node, so it ran again; c once
    assert nodes_log.read_text().split() == ["a", "b", "b", "c"]
    async with AsyncPostgresSaver.from_conn_string(pg_url) as saver:
        history = [c async for c in saver.alist({"configurable": {"thread_id": run_id}})]
    steps = sorted(c.metadata["step"] for c in history)
    assert steps == sorted(set(steps)), "a step was checkpointed twice"
    attempts = [e.activity_task_started_event_attributes.attempt async for e in handle.fetch_history_events()
                if e.HasField("activity_task_started_event_attributes")]
    assert max(attempts) >= 2
