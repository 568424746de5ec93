"""Durability modes under a killed worker (shipway.durability): 50 runs in flight, half checkpointed at
exit and run as local activities, half checkpointed after every node as regular activities; the
worker is killed mid-graph and every accepted run completes once. Also: a step re-executed after
its graph already ended answers from the checkpoint without running a node again; two attempts of
one step at once (Temporal retried an attempt it had given up on while that still ran) checkpoint
each step once; and a step waits for a thread's step lock only as long as its holder's session lives."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import uuid
from pathlib import Path

import psycopg
import pytest_asyncio
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from temporalio.testing import ActivityEnvironment

from activities.artifact_loader import ArtifactCache
from activities.artifact_store import store_from_settings
from activities import graph_runner
from activities.graph_runner import GraphActivities
from shipway import control, queries
from shipway.checkpoint_crypto import encrypted_serde
from shipway.settings import get_settings
from tests.support.lifecycle import deploy_counting, shared_counting
from tests.support.workers import agents_worker_process, running_workers
from workflows.statuses import GraphStepStatus, RunStatus
from workflows.types import RUN_WORKFLOW, GraphStepInput

RUNS_PER_MODE = 25


@pytest_asyncio.fixture(loop_scope="session")
async def control_worker(settings_env, temporal_env, monkeypatch):
    """Only ``shipway-control`` in this process; agent runs go to worker subprocesses. A dead worker's
    regular graph activity is noticed after 5 s of missing heartbeats (shorter, and a live worker
    that 50 runs keep busy can miss one: a retry then runs beside the first attempt); local graph
    steps may take a minute here (50 of them share the worker's threads), so none falls back for
    being slow."""
    monkeypatch.setenv("SHIPWAY_GRAPH_HEARTBEAT_TIMEOUT_S", "5")
    monkeypatch.setenv("SHIPWAY_LOCAL_GRAPH_TIMEOUT_S", "60")
    get_settings.cache_clear()
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        yield client


async def _checkpoints(pg_url: str, thread_id: str) -> list:
    async with AsyncPostgresSaver.from_conn_string(pg_url, serde=encrypted_serde(get_settings())) as saver:
        return [c async for c in saver.alist({"configurable": {"thread_id": thread_id}})]


async def test_fifty_runs_in_flight_all_complete_once_after_the_worker_is_killed(control_worker, db, pg_url, tmp_path):
    client = control_worker
    modes = {"exit": await deploy_counting(client, db), "async": await deploy_counting(client, db, durability="async")}
    first = agents_worker_process(tmp_path / "worker1.log")
    second = None
    runs: list[tuple[str, str, Path]] = []  # (mode, run id, node log)
    try:
        for mode, name in modes.items():
            version = await control.pick_version(db, name)
            for i in range(RUNS_PER_MODE):
                log = tmp_path / f"{mode}-{i}.log"
                run_id, inp, options = control.run_start(name, version, {"log_path": str(log), "delay_s": 0.3},
                                                         local_graph=mode == "exit")
                assert (inp.local_graph_timeout_s is not None) == (mode == "exit")
                await client.start_workflow(RUN_WORKFLOW, inp, **options)  # accepted: Temporal holds it
                runs.append((mode, run_id, log))
        logs = [log for _, _, log in runs]
        for _ in range(1200):
            if sum(log.exists() for log in logs) >= 20:
                break
            await asyncio.sleep(0.05)
        finished = sum(log.exists() and "c" in log.read_text().split() for log in logs)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert finished < len(runs), "every run ended before the kill: nothing was in flight"
        second = agents_worker_process(tmp_path / "worker2.log")
        results = await asyncio.wait_for(asyncio.gather(*(
            client.get_workflow_handle(f"run:{run_id}").result() for _, run_id, _ in runs)), timeout=240)
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    assert [r["status"] for r in results] == [RunStatus.SUCCEEDED] * len(runs)
    assert all(r["output"]["visited"] == ["a", "b", "c"] for r in results)
    rerun_whole = 0
    for mode, run_id, log in runs:
        row = await db.read(queries.run, run_id)
        assert row.status == RunStatus.SUCCEEDED and row.output["visited"] == ["a", "b", "c"], run_id
        history = await _checkpoints(pg_url, run_id)
        if mode == "exit":
            assert len(history) == 1, f"{run_id}: exit durability writes one checkpoint, found {len(history)}"
            rerun_whole += log.read_text().split().count("a") > 1
        else:
            steps = [c.metadata["step"] for c in history]
            assert len(steps) == len(set(steps)), f"{run_id}: a step was checkpointed twice"
    # the kill cut exit runs off mid-graph: they ran again from their input, and completed once
    assert rerun_whole >= 1


async def test_a_step_run_again_after_its_graph_ended_answers_from_the_checkpoint(settings_env, temporal_env, db, tmp_path):
    settings = get_settings()
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        name = await deploy_counting(client, db)
    version = await control.pick_version(db, name)
    log = tmp_path / "nodes.log"
    graphs = GraphActivities(db, ArtifactCache(settings.resolved_artifact_cache_dir, store_from_settings(settings).get))
    try:
        step = GraphStepInput(run_id="run-once", agent_name=name, version=version, thread_id="thread-once",
                              input={"log_path": str(log)})
        env = ActivityEnvironment()
        first = await env.run(graphs.run_graph, step)
        again = await env.run(graphs.run_graph, step)  # e.g. the worker died before the workflow heard of the first
    finally:
        await graphs.close()
    assert first.status == again.status == GraphStepStatus.COMPLETED
    assert first.nodes == ["a", "b", "c"] and again.nodes == []
    assert again.output == first.output
    assert log.read_text().split() == ["a", "b", "c"]  # no node ran a second time


async def test_the_gateway_runs_an_exit_graph_as_a_local_activity_and_a_per_node_graph_as_a_regular_one(worker, db, gateway,
                                                                                                         tmp_path):
    kinds = {}
    for durability in ("auto", "async"):
        name = await deploy_counting(worker, db, durability=durability)
        r = await gateway.post(f"/v1/agents/{name}/runs?wait=true", json={"input": {"log_path": str(tmp_path / durability)}})
        assert r.status_code == 200 and r.json()["status"] == RunStatus.SUCCEEDED, r.text
        events = [e async for e in worker.get_workflow_handle(f"run:{r.json()['run_id']}").fetch_history_events()]
        kinds[durability] = (sum(e.HasField("activity_task_scheduled_event_attributes") for e in events),
                             sum(e.HasField("workflow_task_completed_event_attributes") for e in events))
    # auto without a model: checkpointed at exit, the step a local activity in the run's only workflow task
    assert kinds["auto"] == (0, 1)
    assert kinds["async"][0] == 1 and kinds["async"][1] > 1


async def _per_node_step(temporal_env, db, log: Path, delay_s: float) -> tuple[GraphActivities, GraphStepInput]:
    """The worker's graph activities and a first step of a fresh run of a per-node (``async``) counting agent."""
    settings = get_settings()
    async with running_workers(temporal_env.client, ["shipway-control"]) as client:
        name = await shared_counting(client, db, durability="async")
    version = await control.pick_version(db, name)
    graphs = GraphActivities(db, ArtifactCache(settings.resolved_artifact_cache_dir, store_from_settings(settings).get))
    run = uuid.uuid4().hex
    return graphs, GraphStepInput(run_id=f"run-{run}", agent_name=name, version=version, thread_id=f"thread-{run}",
                                  input={"log_path": str(log), "delay_s": delay_s})


def _attempt(n: int) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=n)
    return env


async def _wait_for(path: Path, timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.01)):
        if path.exists() and path.read_text():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} stayed empty")


async def test_two_attempts_of_a_step_at_once_checkpoint_each_step_once(settings_env, temporal_env, db, pg_url, tmp_path):
    log = tmp_path / "nodes.log"
    graphs, step = await _per_node_step(temporal_env, db, log, delay_s=0.3)
    try:
        first = asyncio.create_task(_attempt(1).run(graphs.run_graph, step))
        await _wait_for(log)  # the first attempt runs node a
        # Temporal gave up on it (a heartbeat missed on a busy worker) and started the next attempt beside it
        again = await asyncio.wait_for(_attempt(2).run(graphs.run_graph, step), timeout=60)
        first = await first
    finally:
        await graphs.close()
    # the second attempt waited for the first and answered from its checkpoints
    assert first.status == again.status == GraphStepStatus.COMPLETED
    assert first.nodes == ["a", "b", "c"] and again.nodes == []
    assert again.output == first.output
    assert log.read_text().split() == ["a", "b", "c"]
    steps = [c.metadata["step"] for c in await _checkpoints(pg_url, step.thread_id)]
    assert sorted(steps) == [-1, 0, 1, 2, 3], steps


async def test_a_step_waits_for_the_thread_lock_until_its_holder_s_session_ends(settings_env, temporal_env, db, tmp_path):
    log = tmp_path / "nodes.log"
    graphs, step = await _per_node_step(temporal_env, db, log, delay_s=0.0)
    # the step lock of an attempt whose worker is about to die
    holder = await psycopg.AsyncConnection.connect(db.url, autocommit=True)
    try:
        await holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, %s))", (step.thread_id, graph_runner._STEP_LOCK_SEED))
        attempt = asyncio.create_task(_attempt(2).run(graphs.run_graph, step))
        await asyncio.sleep(1.5)
        assert not attempt.done() and not log.exists(), "the step ran while another session held its thread"
        await holder.close()  # the worker died: its session ends, and the lock with it
        result = await asyncio.wait_for(attempt, timeout=60)
    finally:
        await holder.close()
        await graphs.close()
    assert result.status == GraphStepStatus.COMPLETED and result.nodes == ["a", "b", "c"]
    assert log.read_text().split() == ["a", "b", "c"]
