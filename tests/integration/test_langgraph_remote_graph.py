"""LangGraph's own ``RemoteGraph`` (``langgraph.pregel.remote``) calling a Shipway agent through a
real gateway process: ``ainvoke`` without a thread and on a thread (made first, or by the run with
``if_not_exists="create"`` as RemoteGraph asks), ``aget_state``, ``aget_state_history``,
``aupdate_state``, and RemoteGraph as a node of a parent graph with its own checkpointer, whose
remote interrupt reaches the parent."""

from __future__ import annotations

import uuid
from typing import TypedDict

import pytest
import pytest_asyncio
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command

from tests.support.gateways import gateway_processes
from tests.support.keys import make_key
from tests.support.lifecycle import deploy_counting

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}


@pytest_asyncio.fixture(loop_scope="session")
async def remote(worker, db, tmp_path):
    """A function making a ``RemoteGraph`` (url + api_key, as a user makes one) of a live counting
    agent on one gateway process; its clients are closed afterwards."""
    name = await deploy_counting(worker, db, durability="sync")  # a checkpoint per step: a history to read
    made: list[RemoteGraph] = []
    async with gateway_processes(1, {}, tmp_path) as [url]:
        key = await make_key(name="remote-graph")

        def graph(**kwargs) -> RemoteGraph:
            made.append(RemoteGraph(name, url=url, api_key=key, **kwargs))
            return made[-1]

        try:
            yield graph
        finally:
            for g in made:
                await g.client.aclose()
                g.sync_client.close()


def _thread(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


async def test_ainvoke_without_a_thread_runs_on_a_thread_of_its_own(remote, tmp_path):
    log = tmp_path / "nodes.log"
    out = await remote().ainvoke({"log_path": str(log), "message": "stateless"})
    assert out["visited"] == ["a", "b", "c"] and out["message"] == "stateless"
    assert log.read_text().split() == ["a", "b", "c"]


async def test_ainvoke_on_a_thread_state_history_and_update(remote, tmp_path):
    graph = remote()
    log = tmp_path / "nodes.log"
    thread_id = (await graph.client.threads.create())["thread_id"]
    config = _thread(thread_id)

    first = await graph.ainvoke({"log_path": str(log), "ask": True}, config)
    print("FIRST", first)
    state = await graph.aget_state(config)
    print("STATE", state)
    assert state.next == ("b",) and state.values["visited"] == ["a"]
    [pending] = state.interrupts
    assert pending.value["kind"] == "counting_continue"

    done = await graph.ainvoke(Command(resume=YES), config)
    assert done["visited"] == ["a", "b", "c"] and done["answer"]["decision"] == "yes"
    assert log.read_text().split() == ["a", "b", "c"]

    history = [s async for s in graph.aget_state_history(config, limit=50)]
    print("HISTORY", [(h.next, h.values.get("visited")) for h in history])
    assert history[0].values == (await graph.aget_state(config)).values
    assert history[0].next == () and history[0].parent_config == history[1].config

    updated = await graph.aupdate_state(config, {"message": "checked by hand"}, as_node="c")
    assert updated["configurable"]["thread_id"] == thread_id
    after = await graph.aget_state(config)
    assert after.config["configurable"]["checkpoint_id"] == updated["configurable"]["checkpoint_id"]
    assert after.values["message"] == "checked by hand" and after.values["visited"] == ["a", "b", "c"]
    assert after.parent_config == history[0].config

    # a thread the caller names but never made: RemoteGraph's run makes it (if_not_exists="create")
    fresh = _thread(str(uuid.uuid4()))
    out = await graph.ainvoke({"log_path": str(tmp_path / "fresh.log")}, fresh)
    assert out["visited"] == ["a", "b", "c"]
    assert (await graph.aget_state(fresh)).values["visited"] == ["a", "b", "c"]


class ParentState(TypedDict, total=False):
    """The keys of the counting agent's state the parent shares with it."""

    log_path: str
    ask: bool
    visited: list[str]
    answer: dict


async def test_remote_graph_as_a_node_of_a_parent_graph(remote, tmp_path):
    parent = StateGraph(ParentState)
    parent.add_node("counting", remote(name="counting"))
    parent.add_edge(START, "counting")
    app = parent.compile(checkpointer=InMemorySaver())
    config = _thread(str(uuid.uuid4()))

    log = tmp_path / "nodes.log"
    out = await app.ainvoke({"log_path": str(log), "ask": True}, config)
    print("PARENT", out)
    print("PSTATE", await app.aget_state(config))
    resumed = await app.ainvoke(Command(resume=YES), config)
    print("RESUMED", resumed)
    print(log.read_text().split())
