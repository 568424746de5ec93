"""The read side of the LangGraph Platform API, through the real ``langgraph-sdk`` client against
the gateway (its real lifespan, over ASGI) on a real Temporal server and PostgreSQL: assistants
(search, get by name and UUID, graph, schemas), threads (get, search, state, state at a
checkpoint, history) of a run that stopped at an interrupt, ``x-api-key`` authentication, and
tenant isolation."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager

import httpx
import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import AuthenticationError, ConflictError, NotFoundError

from shipway import queries
from shipway.db.engine import Database
from shipway.gateway.app import create_app
from shipway.langgraph_api.assistants import assistant_id
from shipway.langgraph_api.graphs import GraphStates
from shipway.settings import get_settings
from tests.support.checkpoints import retire_checkpoint_key
from tests.support.keys import bearer, make_key
from tests.support.lifecycle import deploy_counting

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}


@asynccontextmanager
async def platform_api():
    """The gateway app with its lifespan, and a function making SDK clients (and raw httpx clients)
    that send a given ``x-api-key``."""
    app = create_app()
    opened: list[httpx.AsyncClient] = []

    def http(headers: dict[str, str]) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=headers)
        opened.append(client)
        return client

    def sdk(key: str) -> LangGraphClient:
        # exactly what get_client(url=..., api_key=key) builds, on the in-process transport
        return LangGraphClient(http({"x-api-key": key}))

    async with app.router.lifespan_context(app):
        try:
            yield sdk, http
        finally:
            for client in opened:
                await client.aclose()


async def _interrupted_thread(http: httpx.AsyncClient, name: str, log_path: str) -> str:
    """A thread whose run stopped at node b's interrupt, started through Shipway's own API."""
    thread_id = str(uuid.uuid4())
    r = await http.post(f"/v1/agents/{name}/runs?wait=true",
                        json={"input": {"log_path": log_path, "ask": True, "message": "hello"}, "thread_id": thread_id})
    assert r.status_code == 200 and r.json()["status"] == "interrupted", r.text
    return thread_id


async def test_the_sdk_reads_assistants_and_an_interrupted_threads_state_and_history(worker, db, tmp_path):
    name = await deploy_counting(worker, db, durability="sync")  # a checkpoint per step: a history to read
    async with platform_api() as (sdk, http):
        admin = await make_key()
        client = sdk(admin)
        assert (await http({}).get("/ok")).json() == {"ok": True}
        info = await client.http.get("/info")
        assert info["flags"]["assistants"] is True and info["flags"]["crons"] is False

        # -- assistants: a live agent, by graph id, by name and by its UUID ---------------------------------
        [found] = await client.assistants.search(graph_id=name)
        assert found["assistant_id"] == assistant_id(name) and found["name"] == name
        assert found["version"] == 1 and isinstance(found["metadata"], dict)
        assert (await client.assistants.get(name)) == found
        assert (await client.assistants.get(found["assistant_id"])) == found
        assert [a["graph_id"] for a in await client.assistants.search(metadata={"template": "counting_agent:AGENT"},
                                                                     limit=1000)].count(name) == 1
        assert await client.assistants.search(graph_id=f"{name}-nope") == []
        with pytest.raises(NotFoundError):
            await client.assistants.get(str(uuid.uuid4()))
        drawn = await client.assistants.get_graph(name)
        assert {"a", "b", "c"} <= {n["id"] for n in drawn["nodes"]}
        assert {"source": "__start__", "target": "a"}.items() <= next(e for e in drawn["edges"]
                                                                      if e["target"] == "a").items()
        schemas = await client.assistants.get_schemas(found["assistant_id"])
        assert schemas["graph_id"] == name
        assert "log_path" in schemas["input_schema"]["properties"] and "log_path" in schemas["input_schema"]["required"]
        assert "visited" in schemas["state_schema"]["properties"]

        # -- a thread whose run waits at an interrupt ---------------------------------------------------------
        thread_id = await _interrupted_thread(http(bearer(admin)), name, str(tmp_path / "nodes.log"))
        thread = await client.threads.get(thread_id)
        assert thread["status"] == "interrupted"
        assert thread["metadata"]["graph_id"] == name and thread["metadata"]["assistant_id"] == assistant_id(name)
        assert thread["values"]["visited"] == ["a"] and thread["values"]["message"] == "hello"
        [(task_id, [pending])] = thread["interrupts"].items()
        assert pending["value"]["kind"] == "counting_continue" and pending["id"]

        state = await client.threads.get_state(thread_id)
        assert state["next"] == ["b"] and state["values"] == thread["values"]
        assert [i["value"]["kind"] for i in state["interrupts"]] == ["counting_continue"]
        [task] = state["tasks"]
        assert task["id"] == task_id and task["name"] == "b" and task["interrupts"] == [pending]
        assert state["checkpoint"]["thread_id"] == thread_id and state["checkpoint"]["checkpoint_ns"] == ""
        assert state["checkpoint"]["checkpoint_id"] and isinstance(state["metadata"], dict)

        history = await client.threads.get_history(thread_id, limit=50)
        assert history[0]["checkpoint"] == state["checkpoint"] and len(history) >= 3
        times = [h["created_at"] for h in history]
        assert times == sorted(times, reverse=True)  # newest first
        for newer, older in zip(history, history[1:]):
            assert newer["parent_checkpoint"]["checkpoint_id"] == older["checkpoint"]["checkpoint_id"]
            assert isinstance(newer["metadata"], dict) and "step" in newer["metadata"]
        assert history[-1]["parent_checkpoint"] is None and history[-1]["metadata"]["source"] == "input"
        assert len(await client.threads.get_history(thread_id, limit=2)) == 2
        before = await client.threads.get_history(thread_id, before=history[0]["checkpoint"], limit=50)
        assert [h["checkpoint"] for h in before] == [h["checkpoint"] for h in history[1:]]
        inputs = await client.threads.get_history(thread_id, metadata={"source": "input"}, limit=50)
        assert [h["checkpoint"] for h in inputs] == [history[-1]["checkpoint"]]

        # an earlier checkpoint, by id and by the Checkpoint the history gave
        first = history[-2]
        at = await client.threads.get_state(thread_id, checkpoint_id=first["checkpoint"]["checkpoint_id"])
        assert at["checkpoint"] == first["checkpoint"] and at["values"] == first["values"] and at["next"] == first["next"]
        assert (await client.threads.get_state(thread_id, checkpoint=first["checkpoint"]))["checkpoint"] == first["checkpoint"]
        with pytest.raises(NotFoundError):
            await client.threads.get_state(thread_id, checkpoint_id=str(uuid.uuid4()))

        # search by metadata (the agent it was bound to) and by status
        assert [t["thread_id"] for t in await client.threads.search(metadata={"graph_id": name})] == [thread_id]
        assert [t["thread_id"] for t in await client.threads.search(metadata={"assistant_id": assistant_id(name)})] == [thread_id]
        assert await client.threads.search(metadata={"graph_id": name, "topic": "loans"}) == []
        assert thread_id in [t["thread_id"] for t in await client.threads.search(status="interrupted", limit=1000)]
        assert thread_id not in [t["thread_id"] for t in await client.threads.search(status="idle", limit=1000)]
        assert [t["thread_id"] for t in await client.threads.search(values={"visited": ["a"]}, ids=[thread_id])] == [thread_id]
        assert await client.threads.search(values={"visited": ["c"]}, ids=[thread_id]) == []

        # -- the answered interrupt: the thread is idle with the final values --------------------------------
        run_id = (await http(bearer(admin)).get(f"/v1/runs?agent={name}")).json()[0]["run_id"]
        r = await http(bearer(admin)).post(f"/v1/runs/{run_id}/resume?wait=true", json={"value": YES})
        assert r.json()["status"] == "succeeded", r.text
        done = await client.threads.get(thread_id)
        assert done["status"] == "idle" and done["interrupts"] == {} and done["values"]["visited"] == ["a", "b", "c"]
        assert (await client.threads.get_state(thread_id))["next"] == []


async def test_keys_roles_and_tenants_on_the_platform_routes(worker, db, tmp_path):
    name = await deploy_counting(worker, db)
    async with platform_api() as (sdk, http):
        admin = await make_key()
        thread_id = await _interrupted_thread(http(bearer(admin)), name, str(tmp_path / "nodes.log"))

        # x-api-key and Authorization: Bearer are the same keys; a bad or missing key is a 401 in the Platform's shape
        assert (await http(bearer(admin)).get(f"/threads/{thread_id}")).json()["thread_id"] == thread_id
        with pytest.raises(AuthenticationError):
            await sdk("sw_notakey_0000").threads.get(thread_id)
        missing = await http({}).get(f"/threads/{thread_id}")
        assert missing.status_code == 401 and set(missing.json()) == {"detail"} and "x-api-key" in missing.json()["detail"]

        # another tenant: the thread is unknown to it (404, same body as a thread that never existed)
        other = sdk(await make_key("acme", "admin"))
        with pytest.raises(NotFoundError) as foreign:
            await other.threads.get(thread_id)
        missing_id = str(uuid.uuid4())
        with pytest.raises(NotFoundError) as unknown:
            await other.threads.get(missing_id)
        assert foreign.value.body == {"detail": f"thread {thread_id!r} not found"}
        assert unknown.value.body == {"detail": f"thread {missing_id!r} not found"}
        for read in (other.threads.get_state(thread_id), other.threads.get_history(thread_id)):
            with pytest.raises(NotFoundError):
                await read
        assert thread_id not in [t["thread_id"] for t in await other.threads.search(limit=1000)]
        # the counting agent is shared (no tenant): every tenant sees the assistant
        assert (await other.assistants.get(name))["graph_id"] == name

        # a caller key sees only threads its own key ran; a viewer reads every thread of its tenant
        caller = sdk(await make_key("default", "caller"))
        with pytest.raises(NotFoundError):
            await caller.threads.get(thread_id)
        assert (await sdk(await make_key("default", "viewer")).threads.get(thread_id))["status"] == "interrupted"
        caller_key = await make_key("default", "caller")
        own = await _interrupted_thread(http(bearer(caller_key)), name, str(tmp_path / "own.log"))
        assert (await sdk(caller_key).threads.get(own))["status"] == "interrupted"
        # a thread another caller made (no run yet) stays that caller's
        theirs = (await sdk(await make_key("default", "caller")).threads.create())["thread_id"]
        with pytest.raises(NotFoundError):
            await sdk(caller_key).threads.get(theirs)
        assert [t["thread_id"] for t in await sdk(caller_key).threads.search(limit=1000)] == [own]

        # a request the Platform's schema refuses: 422 naming the field, in the Platform's shape
        bad = await http(bearer(admin)).post("/threads/search", json={"limit": 0})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "limit"]


async def test_checkpoint_reads_share_pooled_connections_across_tenants_without_leaking(worker, db, tmp_path):
    """One pooled connection serves tenant after tenant: each read sees only its own tenant's checkpoints."""
    name = await deploy_counting(worker, db, durability="sync")
    async with platform_api() as (_, http):
        thread_id = await _interrupted_thread(http(bearer(await make_key())), name, str(tmp_path / "nodes.log"))
    settings = get_settings()
    run = (await db.read(queries.lg_thread, thread_id)).run
    async with Database(settings.resolved_database_url(), role=settings.gateway_db_role) as gateway_db, \
            GraphStates(gateway_db, settings, pool_size=1) as states:
        vg = await states.graph(name, run.version, "default")
        seen = [(await states.state(vg, thread_id, tenant)).values for tenant in ("default", "acme", "default")]
        assert seen[0]["visited"] == ["a"] and seen[1] == {} and seen[2] == seen[0]
        assert len(await states.history(vg, thread_id, "acme")) == 0
        assert len(await states.history(vg, thread_id, "default")) >= 3


async def test_a_listed_thread_whose_version_has_no_graph_here_does_not_fail_the_search(worker, db):
    # a thread whose last run's version has no artifact (seen with a version the runbook tests recorded
    # directly): searching the tenant's threads lists it without values; reading it alone is a 404
    from shipway.db.models import Agent, AgentVersion, Run, Thread

    tenant, ghosts = f"t-{uuid.uuid4().hex[:6]}", []
    async with db.session() as s:
        # one version not in the catalog, one whose artifact is missing from the store (seen from the fuzzer)
        for agent, artifact in ((f"ghost-{uuid.uuid4().hex[:6]}", None), (f"lost-{uuid.uuid4().hex[:6]}", "ab" * 32)):
            thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
            if artifact:
                s.add(Agent(name=agent, owner="t@bank.example", template="counting_agent:AGENT", description="lost"))
                await s.flush()
                s.add(AgentVersion(agent_name=agent, version=2, spec={"name": agent}, status="live", submitted_by="t",
                                   workflow_id=f"agent:{agent}:v2", artifact_sha256=artifact))
            s.add(Run(id=run_id, agent_name=agent, version=2, thread_id=thread_id, tenant=tenant, status="succeeded",
                      workflow_id=f"run:{run_id}"))
            s.add(Thread(thread_id=thread_id, agent_name=None, tenant=tenant, last_run_id=run_id))
            ghosts.append(thread_id)
        await s.commit()
    async with platform_api() as (sdk, _):
        client = sdk(await make_key(tenant))
        listed = {t["thread_id"]: t for t in await client.threads.search(limit=1000)}
        for ghost in ghosts:
            assert ghost in listed and listed[ghost]["values"] is None
            with pytest.raises(NotFoundError, match="has no graph here"):
                await client.threads.get(ghost)


async def test_a_thread_whose_checkpoints_no_configured_key_decrypts_is_listed_and_read_as_409(worker, db, tmp_path):
    # its checkpoints name a key this deployment does not have (retired from SHIPWAY_CHECKPOINT_KEYS,
    # or another deployment's key file): the search lists it without values; reading its state is a
    # 409 naming the key, not a 500 (the fuzzer met one left by another test's deployment)
    name = await deploy_counting(worker, db, durability="sync")
    async with platform_api() as (sdk, http):
        key = await make_key()
        thread_id = await _interrupted_thread(http(bearer(key)), name, str(tmp_path / "nodes.log"))
        client = sdk(key)
        assert (await client.threads.get_state(thread_id))["values"]["visited"] == ["a"]
        await retire_checkpoint_key(db, thread_id)
        for read in (client.threads.get(thread_id), client.threads.get_state(thread_id),
                     client.threads.get_history(thread_id)):
            with pytest.raises(ConflictError, match=r"cannot be decrypted.*'retired\.\S+', which is not configured"):
                await read
        listed = {t["thread_id"]: t for t in await client.threads.search(limit=1000)}
        assert listed[thread_id]["values"] is None and listed[thread_id]["status"] == "interrupted"

        # an update of such a thread (no run holds it) is refused the same way by the worker
        done = str(uuid.uuid4())
        r = await http(bearer(key)).post(f"/v1/agents/{name}/runs?wait=true", json={
            "input": {"log_path": str(tmp_path / "done.log"), "message": "hi"}, "thread_id": done})
        assert r.json()["status"] == "succeeded", r.text
        await retire_checkpoint_key(db, done)
        with pytest.raises(ConflictError, match=r"cannot be decrypted.*'retired\.\S+', which is not configured"):
            await client.threads.update_state(done, {"message": "changed"})
