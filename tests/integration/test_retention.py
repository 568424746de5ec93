"""Checkpoint retention on the real PostgreSQL and Temporal: real LangGraph graphs write encrypted
checkpoints through Shipway's saver on several threads; real runs rows claim and release the threads
(``activities/runs.py``); a thread's last activity (``threads.updated_at``) is backdated to age it.
``CheckpointRetentionWorkflow`` then runs on the real worker (as ``shipway_platform``), and the dry run
(the same activity code, rolled back) and the CLI run as an operator would run them."""

from __future__ import annotations

import asyncio
import operator
import os
import sys
import uuid
from datetime import timedelta
from typing import Annotated, TypedDict

import psycopg
import pytest
import pytest_asyncio
from langgraph.graph import END, START, StateGraph
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType

from activities.retention import RetentionActivities
from activities.runs import RunActivities
from shipway.checkpoint_crypto import EncryptedAsyncPostgresSaver, encrypted_serde
from shipway.db.engine import Database
from shipway.db.models import Agent, AgentVersion
from shipway.settings import CONTROL_TASK_QUEUE
from workflows.statuses import RunStatus, VersionStatus
from workflows.types import (
    RETENTION_SCHEDULE,
    RETENTION_WORKFLOW,
    PruneBatchInput,
    RetentionInput,
    RetentionReport,
    RunRecord,
    RunStart,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


class State(TypedDict, total=False):
    topic: str
    notes: Annotated[list[str], operator.add]
    summary: str
    steps: Annotated[int, operator.add]


def _nodes(builder: StateGraph) -> StateGraph:
    builder.add_node("gather", lambda s: {"notes": [f"fact about {s['topic']}"], "steps": 1})
    builder.add_node("analyse", lambda s: {"notes": [f"{len(s['notes'])} notes"], "steps": 1})
    builder.add_node("summarise", lambda s: {"summary": " / ".join(s["notes"]), "steps": 1})
    builder.add_edge(START, "gather")
    builder.add_edge("gather", "analyse")
    builder.add_edge("analyse", "summarise")
    builder.add_edge("summarise", END)
    return builder


def _graph(subgraph: bool = False) -> StateGraph:
    """Three nodes writing a list, a str and an int; with ``subgraph``, wrapped as a subgraph node (its
    checkpoints go to a call namespace ``inner:<task id>``)."""
    if not subgraph:
        return _nodes(StateGraph(State))
    outer = StateGraph(State)
    outer.add_node("inner", _nodes(StateGraph(State)).compile())
    outer.add_edge(START, "inner")
    outer.add_edge("inner", END)
    return outer


def _config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


class World:
    """The test database as the workers see it, the graphs' saver, and helpers to build threads."""

    def __init__(self, settings, db: Database, saver: EncryptedAsyncPostgresSaver) -> None:
        self.settings, self.db, self.saver = settings, db, saver
        self.runs = RunActivities(db)

    async def agent(self, prefix: str, specs: list[dict] | None = None, live: int | None = None) -> str:
        """A new agent name; with ``specs``, its catalog rows (version n+1 has ``specs[n]``), ``live`` its live version."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        if specs:
            async with self.db.session() as s:
                s.add(Agent(name=name, owner="olivia.owner@bank.example", template="custom", live_version=live))
                await s.flush()
                for n, spec in enumerate(specs, 1):
                    s.add(AgentVersion(agent_name=name, version=n, spec={"name": name, **spec},
                                       workflow_id=f"agent:{name}:v{n}", status=VersionStatus.LIVE if n == live else VersionStatus.SUPERSEDED))
                await s.commit()
        return name

    async def thread(self, agent: str, runs: int = 2, idle_days: float = 0, active: bool = False,
                     subgraph: bool = False) -> str:
        """A thread of ``agent`` with ``runs`` graph invocations, each a real ``runs`` row that claims and
        releases it; ``active``: one more run holds it. Its last activity is then ``idle_days`` ago."""
        thread_id = f"thread-{uuid.uuid4()}"
        graph = _graph(subgraph).compile(checkpointer=self.saver)
        for i in range(runs):
            run_id = str(uuid.uuid4())
            await self.runs.start_run(RunStart(run_id, agent, 1, thread_id, "default", {"topic": f"t{i}"}, f"run:{run_id}"))
            await graph.ainvoke({"topic": f"topic {i}"}, _config(thread_id))
            await self.runs.record_run(RunRecord(run_id, RunStatus.SUCCEEDED, output={"ok": True}, latency_ms=5.0))
        if active:
            run_id = str(uuid.uuid4())
            await self.runs.start_run(RunStart(run_id, agent, 1, thread_id, "default", {}, f"run:{run_id}"))
        async with self.db.session() as s:
            await s.exec(text("UPDATE threads SET updated_at = now() - make_interval(secs => :secs) WHERE thread_id = :t")
                         .bindparams(secs=idle_days * 86400, t=thread_id))
            await s.commit()
        return thread_id

    async def rows(self, thread_id: str) -> dict:
        """The thread's checkpoint rows by key (namespace, id), write keys and blob keys."""
        async with self.db.session() as s:
            q = lambda sql: s.exec(text(sql).bindparams(t=thread_id))  # noqa: E731
            checkpoints = (await q("SELECT checkpoint_ns, checkpoint_id, checkpoint -> 'channel_versions' AS versions "
                                   "FROM checkpoints WHERE thread_id = :t")).all()
            writes = (await q("SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM checkpoint_writes "
                              "WHERE thread_id = :t")).all()
            blobs = (await q("SELECT checkpoint_ns, channel, version FROM checkpoint_blobs WHERE thread_id = :t")).all()
        return {"checkpoints": {(c.checkpoint_ns, c.checkpoint_id): c.versions for c in checkpoints},
                "writes": {tuple(w) for w in writes}, "blobs": {tuple(b) for b in blobs}}

    async def state(self, thread_id: str, subgraph: bool = False):
        return await _graph(subgraph).compile(checkpointer=self.saver).aget_state(_config(thread_id), subgraphs=subgraph)

    async def run_rows(self, agents: list[str]) -> list[tuple]:
        async with self.db.session() as s:
            return [tuple(r) for r in (await s.exec(text("SELECT * FROM runs WHERE agent_name = ANY(:a) ORDER BY id")
                                                    .bindparams(a=agents))).all()]


def expected_prune(rows: dict) -> dict:
    """What keep-latest leaves and deletes for a thread without subgraphs, from its rows alone: the latest
    root checkpoint, its writes and the blobs its channel_versions name."""
    latest = max(cid for ns, cid in rows["checkpoints"] if ns == "")
    versions = rows["checkpoints"][("", latest)]
    kept_blobs = {b for b in rows["blobs"] if b[0] == "" and versions.get(b[1]) == b[2]}
    kept_writes = {w for w in rows["writes"] if w[:2] == ("", latest)}
    return {"latest": latest, "kept_blobs": kept_blobs, "kept_writes": kept_writes,
            "checkpoints": len(rows["checkpoints"]) - 1, "writes": len(rows["writes"]) - len(kept_writes),
            "blobs": len(rows["blobs"]) - len(kept_blobs)}


def mine(report: RetentionReport, *agents: str) -> dict:
    """The report's lines of ``agents`` (the shared test database holds other tests' threads too)."""
    return {a.agent_name: a for a in report.agents if a.agent_name in agents}


def counts(line) -> tuple[int, int, int, int]:
    return line.threads, line.checkpoints, line.writes, line.blobs


@pytest_asyncio.fixture(loop_scope="session")
async def world(settings_env):
    """Database pool in the workers' role, and the workers' saver and serializer on the test database."""
    async with Database(settings_env.resolved_database_url(), pool_size=2, role=settings_env.worker_db_role) as db, \
            EncryptedAsyncPostgresSaver.from_conn_string(settings_env.resolved_database_url(),
                                                         serde=encrypted_serde(settings_env)) as saver:
        yield World(settings_env, db, saver)


@pytest_asyncio.fixture(loop_scope="session")
async def control(worker, settings_env):
    """The Temporal client with Shipway's workers running, and the retention schedule (which the worker
    created, every ``retention_every_s``) paused so that only the tests' passes prune."""
    handle = worker.get_schedule_handle(RETENTION_SCHEDULE)
    desc = await handle.describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(seconds=settings_env.retention_every_s)
    assert desc.schedule.action.workflow == RETENTION_WORKFLOW
    await handle.pause(note="test_retention: only the tests' own passes prune")
    return worker


async def _pass(client, inp: RetentionInput):
    """Run one retention pass on the worker; returns its report and workflow handle."""
    handle = await client.start_workflow(RETENTION_WORKFLOW, inp, id=f"retention-test-{uuid.uuid4()}",
                                         task_queue=CONTROL_TASK_QUEUE, result_type=RetentionReport)
    return await handle.result(), handle


async def test_finished_old_threads_keep_only_their_latest_checkpoint(world, control):
    default = await world.agent("ret-default")  # no catalog row: the default retention (30 days)
    weekly = await world.agent("ret-weekly", [{"retention_days": 7}, {"retention_days": 365}], live=1)  # live spec wins
    newest = await world.agent("ret-newest", [{"retention_days": 365}, {"retention_days": 5}])  # no live: newest wins
    pruned = {"old-1": await world.thread(default, runs=2, idle_days=40),
              "old-2": await world.thread(default, runs=3, idle_days=31),
              "weekly-old": await world.thread(weekly, idle_days=10), "newest-old": await world.thread(newest, idle_days=6)}
    kept = {"recent": await world.thread(default, idle_days=10),
            "active": await world.thread(default, idle_days=40, active=True),
            "weekly-recent": await world.thread(weekly, idle_days=3), "newest-recent": await world.thread(newest, idle_days=4)}
    before = {k: await world.rows(t) for k, t in {**pruned, **kept}.items()}
    states = {k: await world.state(t) for k, t in pruned.items()}
    runs_before = await world.run_rows([default, weekly, newest])
    assert all(len(before[k]["checkpoints"]) >= 5 for k in before)

    dry = await RetentionActivities.from_settings(world.db, world.settings).dry_run()
    assert {k: await world.rows(t) for k, t in {**pruned, **kept}.items()} == before, "the dry run deleted something"

    report, _ = await _pass(control, RetentionInput())
    assert {a: counts(line) for a, line in mine(report, default, weekly, newest).items()} == \
        {a: counts(line) for a, line in mine(dry, default, weekly, newest).items()}

    expected = {k: expected_prune(before[k]) for k in pruned}
    assert all(expected[k]["checkpoints"] and expected[k]["writes"] and expected[k]["blobs"] for k in pruned), expected
    for agent, keys in ((default, ["old-1", "old-2"]), (weekly, ["weekly-old"]), (newest, ["newest-old"])):
        line = mine(report, agent)[agent]
        assert counts(line) == (len(keys), *(sum(expected[k][f] for k in keys) for f in ("checkpoints", "writes", "blobs")))
    assert [mine(report, a)[a].retention_days for a in (default, weekly, newest)] == [30, 7, 5]
    for k, thread_id in pruned.items():
        after = await world.rows(thread_id)
        assert list(after["checkpoints"]) == [("", expected[k]["latest"])], k
        assert after["writes"] == expected[k]["kept_writes"] and after["blobs"] == expected[k]["kept_blobs"], k
        state = await world.state(thread_id)
        assert state.values == states[k].values and state.values["summary"], k
        assert state.config["configurable"]["checkpoint_id"] == expected[k]["latest"]
        assert state.parent_config is None  # its parent was deleted
    for k, thread_id in kept.items():
        assert await world.rows(thread_id) == before[k], k
    assert await world.run_rows([default, weekly, newest]) == runs_before

    again, _ = await _pass(control, RetentionInput())
    assert mine(again, default, weekly, newest) == {}


async def test_batches_of_one_thread_prune_the_same_and_continue_as_new(world, control):
    agent = await world.agent("ret-batches")
    threads = [await world.thread(agent, runs=2, idle_days=45) for _ in range(3)]
    before = {t: await world.rows(t) for t in threads}

    dry = await RetentionActivities.from_settings(world.db, world.settings).dry_run(agent_name=agent)
    assert dry.batches == 1 and counts(dry.agents[0]) == (
        3, *(sum(expected_prune(r)[f] for r in before.values()) for f in ("checkpoints", "writes", "blobs")))

    report, handle = await _pass(control, RetentionInput(agent_name=agent, batch_size=1, max_batches=2))
    assert report.batches == 3
    assert [counts(a) for a in report.agents] == [counts(dry.agents[0])]
    for t in threads:
        assert list((await world.rows(t))["checkpoints"]) == [("", expected_prune(before[t])["latest"])]
    # two batches per workflow run: the third ran after a continue-as-new that carried the cursor and report
    history = await control.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id).fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    assert sum(e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED for e in history.events) == 2


async def test_a_locked_thread_is_skipped_and_pruned_by_a_later_batch(world, control, settings_env):
    agent = await world.agent("ret-locked")
    busy, free = sorted([await world.thread(agent, idle_days=60), await world.thread(agent, idle_days=60)])
    busy_rows = await world.rows(busy)
    activities = RetentionActivities.from_settings(world.db, world.settings)
    inp = PruneBatchInput(as_of=(await _db_now(world.db)).isoformat(), agent_name=agent)
    with psycopg.connect(settings_env.resolved_database_url()) as holder:
        holder.execute("SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE", (busy,))  # e.g. a run being claimed
        batch = await activities.prune_checkpoints(inp)
        holder.rollback()
    assert batch.last_thread_id == free and counts(batch.agents[0])[0] == 1
    assert await world.rows(busy) == busy_rows
    assert len((await world.rows(free))["checkpoints"]) == 1
    later = await activities.prune_checkpoints(inp)
    assert later.last_thread_id == busy and len((await world.rows(busy))["checkpoints"]) == 1


async def test_a_subgraph_thread_keeps_its_latest_root_checkpoint_and_loses_stale_calls(world, control):
    agent = await world.agent("ret-subgraph")
    thread_id = await world.thread(agent, runs=2, idle_days=40, subgraph=True)
    before = await world.rows(thread_id)
    state = await world.state(thread_id, subgraph=True)
    assert {ns.split(":")[0] for ns, _ in before["checkpoints"]} == {"", "inner"}

    report, _ = await _pass(control, RetentionInput(agent_name=agent))
    after = await world.rows(thread_id)
    latest = max(cid for ns, cid in before["checkpoints"] if ns == "")
    assert list(after["checkpoints"]) == [("", latest)]
    assert counts(report.agents[0]) == (1, len(before["checkpoints"]) - 1, len(before["writes"]) - len(after["writes"]),
                                        len(before["blobs"]) - len(after["blobs"]))
    assert all(b[0] == "" for b in after["blobs"])
    assert (await world.state(thread_id, subgraph=True)).values == state.values


async def _db_now(db: Database):
    async with db.session() as s:
        return (await s.exec(text("SELECT now()"))).one()[0]


def _cli_env(settings) -> dict:
    return {**os.environ, "DATABASE_URL": settings.resolved_database_url(),
            "TEMPORAL_ADDRESS": settings.resolved_temporal_address(),
            "SHIPWAY_STATE_DIR": str(settings.state_dir)}


async def _cli(settings, *args: str) -> tuple[int, str, str]:
    # a subprocess the event loop does not wait on: the workers in this process serve its workflow
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "shipway", "retention", "run", *args,
                                                env=_cli_env(settings), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    return proc.returncode, out.decode(), err.decode()


def _cli_line(out: str, agent: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.split()[:1] == [agent])


async def test_cli_dry_run_reports_per_agent_and_the_cli_run_deletes_it(world, control, settings_env):
    agent = await world.agent("ret-cli", [{"retention_days": 10}], live=1)
    threads = [await world.thread(agent, idle_days=4), await world.thread(agent, idle_days=12)]
    before = {t: await world.rows(t) for t in threads}

    code, out, err = await _cli(settings_env, "--dry-run", "--agent", agent)
    assert code == 0, err
    old = expected_prune(before[threads[1]])
    line = _cli_line(out, agent)
    assert line[1:3] == ["10", "d"]
    assert [int(x.replace(",", "")) for x in line[-4:]] == [1, old["checkpoints"], old["writes"], old["blobs"]]
    assert "nothing deleted" in out

    code, out, err = await _cli(settings_env, "--dry-run", "--agent", agent, "--older-than-days", "2")
    assert code == 0, err
    both = [expected_prune(before[t]) for t in threads]
    assert [int(x.replace(",", "")) for x in _cli_line(out, agent)[-4:]] == [
        2, *(sum(e[f] for e in both) for f in ("checkpoints", "writes", "blobs"))]
    assert {t: await world.rows(t) for t in threads} == before, "the dry run deleted something"

    code, out, err = await _cli(settings_env, "--agent", agent, "--older-than-days", "2")
    assert code == 0, err
    assert "/workflows/checkpoint-retention-cli-" in out and "done: 1 batch(es)" in out
    assert [int(x.replace(",", "")) for x in _cli_line(out, agent)[-4:]] == [
        2, *(sum(e[f] for e in both) for f in ("checkpoints", "writes", "blobs"))]
    for t, e in zip(threads, both):
        assert list((await world.rows(t))["checkpoints"]) == [("", e["latest"])]
