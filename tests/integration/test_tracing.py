"""LangSmith tracing of agent runs: the real worker runs the counting agent (with an LLM call in node
``b``) on the real Temporal server and PostgreSQL, and the real ``langsmith`` client sends its spans to
a loopback server speaking LangSmith's ingestion API (:mod:`tests.support.langsmith_loopback`)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from temporalio.api.enums.v1 import EventType

from activities.tracing import trace_url
from shipway import control, queries
from shipway.settings import get_settings
from shipway.stack.ports import free_port
from tests.support.langsmith_loopback import LangSmithLoopback, TracedRun
from tests.support.lifecycle import counting_spec, deploy
from tests.support.workers import running_workers
from workflows.statuses import RunStatus
from workflows.types import RUN_GRAPH, run_workflow_id

pytestmark = pytest.mark.asyncio(loop_scope="session")
PROJECT = "shipway-tracing-tests"
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}
LLM = {"llm_tokens": 5}  # node b calls a chat model: an LLM span under b


@asynccontextmanager
async def _workers(temporal_env, monkeypatch, *, endpoint: str | None, api_key: str | None) -> AsyncIterator:
    """Shipway's real workers, started after pointing the settings at ``endpoint`` with ``api_key``
    (None: the variable is unset); yields the Temporal client."""
    for var, value in (("LANGSMITH_ENDPOINT", endpoint), ("LANGSMITH_API_KEY", api_key)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    monkeypatch.setenv("LANGSMITH_PROJECT", PROJECT)
    get_settings.cache_clear()
    async with running_workers(temporal_env.client) as client:
        yield client


async def _graph_activity_ids(client, run_id: str) -> list[str]:
    """Activity ids of the run's graph steps, in order, from its workflow history."""
    history = await client.get_workflow_handle(run_workflow_id(run_id)).fetch_history()
    return [e.activity_task_scheduled_event_attributes.activity_id for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == RUN_GRAPH]


def _nodes(root: TracedRun) -> list[str]:
    return [c.name for c in root.children]


def _check_root(root: TracedRun, *, run_id: str, name: str, version: int, tenant: str, sha: str, attempt: int = 1) -> None:
    """The root of a graph step's trace carries the run's identity, and every span in it the run and tenant."""
    assert root.data["session_name"] == PROJECT
    md = root.metadata
    assert (md["agent"], md["version"], md["tenant"], md["run_id"], md["artifact_sha256"], md["workflow_id"], md["attempt"]) == (
        name, version, tenant, run_id, sha, run_workflow_id(run_id), attempt)
    assert {"shipway", f"agent:{name}", f"tenant:{tenant}"} <= set(root.tags)
    for span in root.walk():
        assert (span.metadata["run_id"], span.metadata["tenant"]) == (run_id, tenant), span.name
        assert span.data["end_time"], f"span {span.name} never ended"


async def test_each_graph_step_is_one_trace_rooted_at_the_run_with_node_and_llm_spans(temporal_env, settings_env, db,
                                                                                       monkeypatch, tmp_path):
    with LangSmithLoopback(mode="multipart") as ls:
        async with _workers(temporal_env, monkeypatch, endpoint=ls.url, api_key=ls.api_key) as client:
            name, version = await deploy(client, db, counting_spec(config=LLM))
            run_id, res = await control.start_run(client, name, version, {"log_path": str(tmp_path / "nodes.log"), "ask": True},
                                                  tenant="acme", wait=True)
            assert res.status == RunStatus.INTERRUPTED, res
            await control.resume_run(client, run_id, YES, "uma.underwriter")
            done = await control.wait_run(client, run_id)
            assert done.status == RunStatus.SUCCEEDED, done
            first, second = await _graph_activity_ids(client, run_id)
            sha = (await db.read(queries.agent_version, name, version)).artifact_sha256

            roots = {r.id: r for r in ls.trees()}
            # the input step is traced under the run id itself; the resume step under uuid5(run id, "<activity id>:<attempt>")
            resumed_id = str(uuid.uuid5(uuid.UUID(run_id), f"{second}:1"))
            assert set(roots) == {run_id, resumed_id}
            step1, step2 = roots[run_id], roots[resumed_id]
            assert _nodes(step1) == ["a", "b"] and _nodes(step2) == ["b", "c"]
            for step in (step1, step2):
                _check_root(step, run_id=run_id, name=name, version=version, tenant="acme", sha=sha)
                [llm] = step.child("b").children
                assert llm.data["run_type"] == "llm" and llm.name == "GenericFakeChatModel"
            assert step1.metadata["activity_id"] == first and step2.metadata["activity_id"] == second
            assert ls.endpoints["multipart"] > 0 and set(ls.endpoints) == {"multipart"}

            # the console's link: the web URL of the run's trace, None for a run LangSmith never saw
            url = trace_url(run_id)
            assert url is not None and url.startswith(f"{ls.url}/o/{ls.tenant_id}/projects/p/{ls.projects[PROJECT]}/r/{run_id}")
            assert trace_url(str(uuid.uuid4())) is None


@pytest.mark.parametrize("mode, endpoint", [("batch", "batch"), ("zstd", "multipart+zstd")])
async def test_batch_and_compressed_ingestion_carry_the_same_tree(temporal_env, settings_env, db, monkeypatch, tmp_path,
                                                                  mode, endpoint):
    with LangSmithLoopback(mode=mode) as ls:
        async with _workers(temporal_env, monkeypatch, endpoint=ls.url, api_key=ls.api_key) as client:
            name, version = await deploy(client, db, counting_spec(config=LLM))
            run_id, res = await control.start_run(client, name, version, {"log_path": str(tmp_path / "nodes.log")}, wait=True)
            assert res.status == RunStatus.SUCCEEDED, res
            sha = (await db.read(queries.agent_version, name, version)).artifact_sha256
    [root] = ls.trees()
    assert root.id == run_id and _nodes(root) == ["a", "b", "c"]
    _check_root(root, run_id=run_id, name=name, version=version, tenant="default", sha=sha)
    assert root.child("b").child("GenericFakeChatModel").data["run_type"] == "llm"
    assert set(ls.endpoints) == {endpoint}, ls.endpoints


async def test_without_a_key_nothing_is_sent_and_the_run_succeeds(temporal_env, settings_env, db, monkeypatch, tmp_path):
    with LangSmithLoopback() as ls:
        async with _workers(temporal_env, monkeypatch, endpoint=ls.url, api_key=None) as client:
            name, version = await deploy(client, db, counting_spec(config=LLM))
            run_id, res = await control.start_run(client, name, version, {"log_path": str(tmp_path / "nodes.log")}, wait=True)
            assert res.status == RunStatus.SUCCEEDED and res.output["visited"] == ["a", "b", "c"], res
            assert trace_url(run_id) is None
    assert ls.requests == []


async def test_an_unreachable_langsmith_does_not_fail_the_run(temporal_env, settings_env, db, monkeypatch, tmp_path, caplog):
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    caplog.set_level(logging.WARNING, logger="langsmith")
    async with _workers(temporal_env, monkeypatch, endpoint=nowhere, api_key="lsv2-unused-key") as client:
        name, version = await deploy(client, db, counting_spec(config=LLM))
        run_id, res = await control.start_run(client, name, version, {"log_path": str(tmp_path / "nodes.log"), "ask": True},
                                              wait=True)
        assert res.status == RunStatus.INTERRUPTED, res
        await control.resume_run(client, run_id, YES, "uma.underwriter")
        done = await control.wait_run(client, run_id)
        assert done.status == RunStatus.SUCCEEDED and done.output["visited"] == ["a", "b", "c"], done
        assert trace_url(run_id) is None
    # tracing was on: the client tried LangSmith, failed, and said so
    assert any(nowhere in r.getMessage() for r in caplog.records if r.name.startswith("langsmith")), caplog.text
