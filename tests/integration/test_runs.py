"""Agent runs through the gateway on a real Temporal server and PostgreSQL: routing, interrupt and
resume (update and signal), threads, bad input of every kind, failures, deadlines, health, and a
worker killed mid-graph."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx
import pytest
import pytest_asyncio
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import WorkflowFailureError

from activities.traffic import TrafficActivities
from shipway import control, queries
from shipway.checkpoint_crypto import encrypted_serde
from shipway.gateway.app import create_app
from shipway.gateway.errors import ErrorResponse
from shipway.settings import get_settings
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy_counting, shared_counting
from tests.support.workers import agents_worker_process, running_workers
from workflows.statuses import RunStatus
from workflows.types import SIGNAL_RESUME_RUN, TrafficUpdate, run_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}



def _error(r: httpx.Response, status: int) -> ErrorResponse:
    """The response's body, checked against the declared error shape."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    return ErrorResponse.model_validate(r.json())


async def _start(gateway, name: str, body: dict, wait: bool = True) -> httpx.Response:
    return await gateway.post(f"/v1/agents/{name}/runs?wait={str(wait).lower()}", json=body)


async def test_run_interrupts_then_resumes_to_completion_and_the_answer_is_audited(worker, db, gateway, tmp_path):
    name = await shared_counting(worker, db)
    log = tmp_path / "nodes.log"
    r = await _start(gateway, name, {"input": {"log_path": str(log), "ask": True}})
    assert r.status_code == 200, r.text
    run = r.json()
    request = run["interrupt"]
    assert run["status"] == "interrupted" and request["decisions"] == ["yes", "no"] and request["kind"] == "counting_continue"
    assert request["answer_schema"]["properties"]["decision"]["enum"] == ["yes", "no"]
    assert run["workflow_url"].endswith(f"run%3A{run['run_id']}")

    bad = await gateway.post(f"/v1/runs/{run['run_id']}/resume", json={"value": {"decision": "maybe", "reviewer": "uma"}})
    assert any(d.loc[:3] == ["body", "value", "decision"] for d in _error(bad, 422).detail)

    r = await gateway.post(f"/v1/runs/{run['run_id']}/resume?wait=true", json={"value": YES, "actor": "uma.underwriter"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "succeeded"
    assert done["output"]["visited"] == ["a", "b", "c"] and done["output"]["answer"] == YES
    assert done["latency_ms"] > 0 and done["cost_usd"] == 0 and done["tokens_in"] == 0
    assert log.read_text().split() == ["a", "b", "c"]
    [event] = await db.read(queries.audit_events, f"run:{run['run_id']}", "run.resumed")
    assert event.actor == "uma.underwriter" and event.detail["value"] == YES

    again = await gateway.post(f"/v1/runs/{run['run_id']}/resume", json={"value": YES})
    assert "not waiting" in _error(again, 409).error
    assert (await gateway.get(f"/v1/runs/{run['run_id']}")).json()["status"] == "succeeded"
    # waiting on a run that already finished answers at once
    r = await gateway.get(f"/v1/runs/{run['run_id']}?wait=true")
    assert r.status_code == 200 and r.json()["status"] == "succeeded"


async def test_resume_by_signal_as_the_temporal_cli_sends_it(worker, db, gateway, tmp_path):
    name = await shared_counting(worker, db)
    run = (await _start(gateway, name, {"input": {"log_path": str(tmp_path / "l"), "ask": True}})).json()
    handle = worker.get_workflow_handle(run_workflow_id(run["run_id"]))
    await handle.signal(SIGNAL_RESUME_RUN, "yes please")  # malformed: refused and audited, the run keeps waiting
    await handle.signal(SIGNAL_RESUME_RUN, {"value": YES, "actor": "uma.underwriter"})
    result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result["status"] == "succeeded" and result["output"]["answer"] == YES
    actions = [(e.action, e.actor) for e in await db.read(queries.audit_events, f"run:{run['run_id']}")]
    assert actions == [("run.resume_refused", "unknown"), ("run.resumed", "uma.underwriter")]


async def test_a_bad_answer_by_signal_is_reasked_by_the_graph(worker, db, gateway, tmp_path):
    """The gateway validates against the schema; a signal bypasses it, and the graph re-asks naming the field."""
    name = await shared_counting(worker, db)
    run = (await _start(gateway, name, {"input": {"log_path": str(tmp_path / "l"), "ask": True}})).json()
    handle = worker.get_workflow_handle(run_workflow_id(run["run_id"]))
    await handle.signal(SIGNAL_RESUME_RUN, {"value": {"decision": "maybe", "reviewer": "uma"}, "actor": "uma"})
    body = (await gateway.get(f"/v1/runs/{run['run_id']}?wait=true")).json()
    for _ in range(100):
        if body["status"] == "interrupted" and body["interrupt"].get("error"):
            break
        await asyncio.sleep(0.1)
        body = (await gateway.get(f"/v1/runs/{run['run_id']}")).json()
    assert body["status"] == "interrupted" and "decision" in body["interrupt"]["error"]
    r = await gateway.post(f"/v1/runs/{run['run_id']}/resume?wait=true", json={"value": YES, "actor": "uma"})
    assert r.json()["status"] == "succeeded"


async def test_async_run_can_be_polled(worker, db, gateway, tmp_path):
    name = await shared_counting(worker, db)
    r = await _start(gateway, name, {"input": {"log_path": str(tmp_path / "l")}}, wait=False)
    assert r.status_code == 202
    run_id = r.json()["run_id"]
    # the row exists as soon as the start is accepted
    assert (await gateway.get(f"/v1/runs/{run_id}")).status_code == 200
    body = (await gateway.get(f"/v1/runs/{run_id}?wait=true")).json()
    assert body["status"] == "succeeded" and body["output"]["visited"] == ["a", "b", "c"]


async def test_a_thread_belongs_to_one_agent_and_one_unfinished_run(worker, db, gateway, tmp_path):
    """Before: another agent's run on an interrupted credit run's thread answered 200 and overwrote it."""
    credit_like, other = await deploy_counting(worker, db), await deploy_counting(worker, db)
    first = (await _start(gateway, credit_like, {"input": {"log_path": str(tmp_path / "a"), "ask": True}})).json()
    thread = first["thread_id"]
    assert thread == first["run_id"]

    foreign = await _start(gateway, other, {"input": {"log_path": str(tmp_path / "b")}, "thread_id": thread})
    assert "another agent" in _error(foreign, 409).detail
    busy = await _start(gateway, credit_like, {"input": {"log_path": str(tmp_path / "c")}, "thread_id": thread}, wait=False)
    assert "busy" in _error(busy, 409).detail
    acme = await gateway.post(f"/v1/agents/{credit_like}/runs?wait=true", json={"input": {"log_path": str(tmp_path / "d")}, "thread_id": thread},
                              headers=bearer(await make_key("acme", "caller")))
    assert "another agent or tenant" in _error(acme, 409).detail
    # a key acts for its own tenant only: naming another one in the body is refused before anything starts
    named = await _start(gateway, credit_like, {"input": {"log_path": str(tmp_path / "d")}, "thread_id": thread, "tenant": "acme"})
    assert "acts for tenant 'default'" in _error(named, 403).error

    # the pending review survived: resuming the first run still works
    r = await gateway.post(f"/v1/runs/{first['run_id']}/resume?wait=true", json={"value": YES})
    assert r.json()["status"] == "succeeded" and r.json()["output"]["visited"] == ["a", "b", "c"]

    # and once it finished, the same agent continues the conversation on its thread
    r = await _start(gateway, credit_like, {"input": {"log_path": str(tmp_path / "e")}, "thread_id": thread})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded" and r.json()["thread_id"] == thread
    assert r.json()["output"]["visited"] == ["a", "b", "c", "a", "b", "c"], "state of the thread was not continued"
    t = await db.read(queries.thread, thread)
    assert (t.agent_name, t.active_run_id, t.last_run_id) == (credit_like, None, r.json()["run_id"])


async def test_a_graph_that_raises_fails_the_run_with_its_error_and_frees_the_thread(worker, db, gateway, tmp_path):
    name = await shared_counting(worker, db)
    r = await _start(gateway, name, {"input": {"log_path": str(tmp_path / "l"), "fail": True}})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["status"] == "failed" and "asked to fail in node b" in run["error"]
    assert (await db.read(queries.thread, run["thread_id"])).active_run_id is None
    with pytest.raises(WorkflowFailureError) as exc:
        await worker.get_workflow_handle(run_workflow_id(run["run_id"])).result()
    assert exc.value.cause.type == "RunFailed"


async def test_an_unanswered_interrupt_fails_at_the_resume_deadline(worker, db, tmp_path, monkeypatch):
    from shipway.settings import get_settings

    name = await shared_counting(worker, db)
    monkeypatch.setenv("SHIPWAY_RESUME_TIMEOUT_S", "1.5")
    get_settings.cache_clear()
    version = await control.pick_version(db, name)
    run_id, _ = await control.start_run(worker, name, version, {"log_path": str(tmp_path / "l"), "ask": True})
    with pytest.raises(WorkflowFailureError) as exc:
        await asyncio.wait_for(worker.get_workflow_handle(run_workflow_id(run_id)).result(), timeout=60)
    assert exc.value.cause.type == "ResumeTimeout"
    run = await db.read(queries.run, run_id)
    assert run.status == RunStatus.FAILED and "no resume within 2 s" in run.error and run.interrupt is not None
    assert (await db.read(queries.thread, run.thread_id)).active_run_id is None


async def test_gateway_errors_are_the_documented_json(worker, db, gateway):
    name = await shared_counting(worker, db)
    assert "no-such-agent" in _error(await gateway.post("/v1/agents/no-such-agent/runs", json={"input": {}}), 404).error
    assert _error(await gateway.post(f"/v1/agents/{name}/runs", json={"inputs": {}}), 422).detail[0].loc == ["body", "input"]
    _error(await gateway.post(f"/v1/agents/{name}/runs", content=b"{not json", headers={"content-type": "application/json"}), 422)
    invalid = _error(await gateway.post(f"/v1/agents/{name}/runs", json={"input": {"delay_s": -1}}), 422)
    assert {tuple(d.loc) for d in invalid.detail} >= {("body", "input", "log_path"), ("body", "input", "delay_s")}
    big = json.dumps({"input": {"log_path": "x" * (1024 * 1024)}}).encode()
    too_big = _error(await gateway.post(f"/v1/agents/{name}/runs", content=big, headers={"content-type": "application/json"}), 413)
    assert too_big.error == "request body too large"

    async def chunks():
        for _ in range(5):
            yield b" " * (300 * 1024)

    _error(await gateway.post(f"/v1/agents/{name}/runs", content=chunks(), headers={"content-type": "application/json"}), 413)
    _error(await gateway.get("/v1/runs/00000000-0000-0000-0000-000000000000"), 404)
    _error(await gateway.post("/v1/runs/00000000-0000-0000-0000-000000000000/resume", json={"value": {"a": 1}}), 404)
    _error(await gateway.get("/v1/no-such-route"), 404)
    _error(await gateway.delete(f"/v1/agents/{name}/runs"), 405)


@pytest.mark.parametrize("body, field", [
    ({"input": {"log_path": "a\u0000b"}}, "input"),
    ({"input": {"log_path": "x"}, "thread_id": "t\u0000"}, "thread_id"),
    ({"input": {"log_path": "x"}, "tenant": "\u0000"}, "tenant"),
    ({"input": {"log_path": "x", "note\u0000": 1}}, "input"),
])
async def test_nul_characters_are_refused_with_422_naming_the_field(worker, db, gateway, body, field):
    """Before: a text/plain 500 (PostgreSQL refuses NUL in text)."""
    name = await shared_counting(worker, db)
    err = _error(await gateway.post(f"/v1/agents/{name}/runs", json=body), 422)
    assert err.detail[0].loc == ["body", field] and "NUL" in err.detail[0].msg


async def test_deeply_nested_json_is_a_422(worker, db, gateway):
    """Before: 400 with FastAPI's own message, where the README promises 422."""
    name = await shared_counting(worker, db)
    deep = ('{"input": ' + '{"a": ' * 10_000 + "1" + "}" * 10_000 + "}").encode()
    err = _error(await gateway.post(f"/v1/agents/{name}/runs", content=deep, headers={"content-type": "application/json"}), 422)
    assert err.detail[0].loc == ["body"] and "deep" in err.detail[0].msg


async def test_a_version_missing_from_the_catalog_is_a_404_not_a_500(worker, db, gateway):
    name = await deploy_counting(worker, db)
    await TrafficActivities(db).set_traffic(TrafficUpdate(name, {"99": 100.0}))
    err = _error(await _start(gateway, name, {"input": {"log_path": "x"}}), 404)
    assert f"{name} v99 is not in the catalog" in err.error


async def test_run_counts_appear_as_samples_in_metrics(worker, db, gateway, tmp_path):
    """A sample value, not just the HELP line Prometheus prints for a counter with no samples."""
    name = await deploy_counting(worker, db)
    for _ in range(2):
        assert (await _start(gateway, name, {"input": {"log_path": str(tmp_path / "l")}})).status_code == 200
    r = await gateway.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(r.text) for s in family.samples}
    assert samples[("shipway_runs_started_total", (("agent", name), ("version", "1")))] == 2
    assert samples[("shipway_runs_settled_total", (("agent", name), ("status", "succeeded")))] == 2


async def test_agents_list_their_traffic_and_input_schema(worker, db, gateway):
    name = await deploy_counting(worker, db)
    listed = {a["name"]: a for a in (await gateway.get("/v1/agents")).json()}
    assert listed[name]["traffic"] == [{"version": 1, "weight_pct": 100.0}]
    one = (await gateway.get(f"/v1/agents/{name}")).json()
    assert one["input_schema"]["required"] == ["log_path"] and "delay_s" in one["input_schema"]["properties"]
    _error(await gateway.get("/v1/agents/no-such-agent"), 404)


async def test_healthz_reports_a_database_that_is_down_and_other_routes_answer_json_500(worker, settings_env, monkeypatch):
    from shipway.settings import get_settings
    from shipway.stack.ports import free_port

    monkeypatch.setenv("DATABASE_URL", f"postgresql://shipway@127.0.0.1:{free_port()}/shipway")
    get_settings.cache_clear()
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://gw") as http:
            r = await http.get("/healthz")
            broken = await http.get("/v1/runs/00000000-0000-0000-0000-000000000000")
    assert _error(broken, 500).error == "internal error"
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "degraded" and body["checks"]["temporal"] == "ok"
    assert body["checks"]["database"].startswith("error:")


async def test_healthz_reports_temporal_that_is_down(settings_env, monkeypatch):
    from temporalio.testing import WorkflowEnvironment

    from shipway.settings import get_settings
    from shipway.stack.ports import free_port
    from tests.conftest import temporal_cli_path

    env = await WorkflowEnvironment.start_local(port=free_port(), dev_server_existing_path=temporal_cli_path())
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    get_settings.cache_clear()
    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
            assert (await http.get("/healthz")).status_code == 200
            await env.shutdown()
            r = await http.get("/healthz")
    assert r.status_code == 503
    assert r.json()["checks"]["database"] == "ok" and r.json()["checks"]["temporal"].startswith("error:")


@pytest_asyncio.fixture(loop_scope="session")
async def control_worker(settings_env, temporal_env, monkeypatch):
    """Only ``shipway-control`` in this process; agent runs go to worker subprocesses."""
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_GRAPH_HEARTBEAT_TIMEOUT_S", "2")
    get_settings.cache_clear()
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        yield client


async def _heartbeat_recorded(handle, timeout_s: float = 30.0) -> bool:
    """Whether the run's pending graph activity has heartbeat details on the server within ``timeout_s``."""
    for _ in range(int(timeout_s / 0.05)):
        pending = (await handle.describe()).raw_description.pending_activities
        if any(a.HasField("heartbeat_details") and a.heartbeat_details.payloads for a in pending):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_worker_killed_mid_graph_resumes_from_checkpoint(control_worker, db, pg_url, tmp_path):
    client = control_worker
    name = await deploy_counting(client, db, durability="async")  # a checkpoint after every node
    nodes_log = tmp_path / "nodes.log"
    first = agents_worker_process(tmp_path / "worker1.log")
    second = None
    try:
        version = await control.pick_version(db, name)
        run_id, _ = await control.start_run(client, name, version, {"log_path": str(nodes_log), "delay_s": 1.5})
        handle = client.get_workflow_handle(run_workflow_id(run_id))
        for _ in range(600):
            if nodes_log.exists() and "b" in nodes_log.read_text().split():
                break
            await asyncio.sleep(0.05)
        assert nodes_log.read_text().split() == ["a", "b"], "worker never reached node b"
        # a retry resumes from the checkpoint once the server holds the heartbeat saying a node ran: kill
        # only then, while b still sleeps (a kill racing the heartbeat's RPC would test starting over)
        assert await _heartbeat_recorded(handle), "the graph activity's heartbeat after node a never reached the server"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        second = agents_worker_process(tmp_path / "worker2.log")
        result = await asyncio.wait_for(handle.result(), timeout=120)
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert result["status"] == "succeeded" and result["output"]["visited"] == ["a", "b", "c"]
    # a ran once (checkpointed before the kill); b was cut off mid-node, so it ran again; c once
    assert nodes_log.read_text().split() == ["a", "b", "b", "c"]
    # the worker's keys (this test's state dir): checkpoints are encrypted at rest
    async with AsyncPostgresSaver.from_conn_string(pg_url, serde=encrypted_serde(get_settings())) as saver:
        history = [c async for c in saver.alist({"configurable": {"thread_id": run_id}})]
    steps = sorted(c.metadata["step"] for c in history)
    assert steps == sorted(set(steps)), "a step was checkpointed twice"
    attempts = [e.activity_task_started_event_attributes.attempt async for e in handle.fetch_history_events()
                if e.HasField("activity_task_started_event_attributes")]
    assert max(attempts) >= 2
