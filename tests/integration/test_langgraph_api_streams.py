"""Streams of the LangGraph Platform API through real gateway processes (uvicorn) and the real
``langgraph-sdk`` client: ``metadata`` first, then the chunks of the modes asked for, an ``error``
event when the graph raises; a stream dropped part-way and joined again on another gateway process
with ``Last-Event-ID`` replays exactly the missed events; a worker killed mid-run and ``runs.join``
still returns the final values."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
import pytest_asyncio
from langgraph_sdk.client import LangGraphClient

from tests.support.gateways import gateway_processes
from tests.support.keys import make_key
from tests.support.lifecycle import shared_counting
from tests.support.workers import agents_worker_process, running_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}


def _sdk(url: str, key: str) -> LangGraphClient:
    return LangGraphClient(httpx.AsyncClient(base_url=url, headers={"x-api-key": key}, timeout=60))


@pytest_asyncio.fixture(loop_scope="session")
async def two_gateways(worker, tmp_path):
    """Two gateway processes on the test database and Temporal server, and an admin key."""
    async with gateway_processes(2, {"SHIPWAY_STREAM_HEARTBEAT_S": "0.5"}, tmp_path) as urls:
        yield urls, await make_key()


async def test_a_resume_streams_metadata_then_updates_and_leaves_the_thread_idle(worker, db, two_gateways, tmp_path):
    (url, _), key = two_gateways
    sdk = _sdk(url, key)
    name = await shared_counting(worker, db)
    thread = await sdk.threads.create()
    first = await sdk.runs.wait(thread["thread_id"], name, input={"log_path": str(tmp_path / "l"), "ask": True})
    assert first["__interrupt__"]
    assert (await sdk.threads.get(thread["thread_id"]))["status"] == "interrupted"

    parts = [p async for p in sdk.runs.stream(thread["thread_id"], name, command={"resume": YES}, stream_mode="updates")]
    assert parts[0].event == "metadata" and parts[0].data["run_id"]
    updates = [p.data for p in parts[1:]]
    assert [p.event for p in parts[1:]] == ["updates"] * len(updates)
    assert [next(iter(u)) for u in updates] == ["b", "c"]
    assert (await sdk.threads.get(thread["thread_id"]))["status"] == "idle"
    values = [p async for p in sdk.runs.stream(None, name, input={"log_path": str(tmp_path / "v")}, stream_mode="values")]
    assert values[-1].event == "values" and values[-1].data["visited"] == ["a", "b", "c"]


async def test_a_graph_that_raises_streams_an_error_event(worker, db, two_gateways, tmp_path):
    (url, _), key = two_gateways
    sdk = _sdk(url, key)
    name = await shared_counting(worker, db)
    parts = [p async for p in sdk.runs.stream(None, name, input={"log_path": str(tmp_path / "l"), "fail": True},
                                               stream_mode=["updates", "values"])]
    assert parts[0].event == "metadata"
    assert parts[-1].event == "error" and "asked to fail in node b" in parts[-1].data["message"]


async def test_a_dropped_stream_is_resumed_on_another_gateway_from_last_event_id(worker, db, two_gateways, tmp_path):
    (url1, url2), key = two_gateways
    name = await shared_counting(worker, db)
    thread = await _sdk(url1, key).threads.create()
    body = {"assistant_id": name, "input": {"log_path": str(tmp_path / "l"), "delay_s": 0.7},
            "stream_mode": ["values", "updates"], "stream_resumable": True}
    seen: list[tuple[str, str]] = []  # (id, event) before the drop
    async with httpx.AsyncClient(base_url=url1, headers={"x-api-key": key}, timeout=60) as http:
        async with http.stream("POST", f"/threads/{thread['thread_id']}/runs/stream", json=body) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            location = r.headers["location"]
            event, event_id = None, None
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line == "" and event is not None:
                    seen.append((event_id, event))
                    event = None
                    if len(seen) == 3:  # metadata, then two chunks: drop the connection
                        break
    assert seen[0][0] is None and seen[0][1] == "metadata"
    sdk2 = _sdk(url2, key)
    run_id = location.split("/")[-2]
    rest = [p async for p in sdk2.runs.join_stream(thread["thread_id"], run_id, last_event_id=seen[-1][0])]
    whole = [p async for p in sdk2.runs.join_stream(thread["thread_id"], run_id)]
    assert [p.event for p in whole][0] == "metadata" and rest[0].event == "metadata"
    assert [p.data for p in whole[1:]] == [p.data for p in whole[1:3]] + [p.data for p in rest[1:]]
    assert whole[-1].event in ("values", "updates") and whole[-2].data  # ended with the run, nothing missing
    final = [p.data for p in whole if p.event == "values"][-1]
    assert final["visited"] == ["a", "b", "c"]


async def test_a_worker_killed_mid_run_and_join_still_returns_the_final_values(settings_env, temporal_env, db, tmp_path,
                                                                              monkeypatch):
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_GRAPH_HEARTBEAT_TIMEOUT_S", "3")
    get_settings.cache_clear()
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        name = await shared_counting(client, db, durability="async")
        first = agents_worker_process(tmp_path / "worker1.log")
        second = None
        try:
            async with gateway_processes(1, {}, tmp_path) as [url]:
                sdk = _sdk(url, await make_key())
                thread = await sdk.threads.create()
                log = tmp_path / "nodes.log"
                run = await sdk.runs.create(thread["thread_id"], name, input={"log_path": str(log), "delay_s": 1.5})
                for _ in range(400):  # until node b started (a is done and checkpointed), then kill the worker inside b
                    if log.exists() and log.read_text().split() == ["a", "b"]:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)
                os.killpg(first.pid, signal.SIGKILL)
                second = agents_worker_process(tmp_path / "worker2.log")
                values = await asyncio.wait_for(sdk.runs.join(thread["thread_id"], run["run_id"]), timeout=120)
        finally:
            for proc in (first, second):
                if proc and proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
    assert values["visited"] == ["a", "b", "c"]
    # a was checkpointed before the kill and did not run again; b, killed part-way, ran again
    assert log.read_text().split() == ["a", "b", "b", "c"]
