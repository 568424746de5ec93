"""LangGraph's own ``RemoteGraph`` (``langgraph.pregel.remote``, url + api_key) calling a Shipway
agent through a real gateway process: ``ainvoke`` without a thread and on a thread (made first, or
by the run with ``if_not_exists="create"`` as RemoteGraph asks), a resume with ``Command(resume=...)``
(RemoteGraph sends every ``Command`` field, ``goto=[]`` and ``update=None`` included), ``aget_state``
(latest and at an earlier checkpoint), ``aget_state_history``, ``aupdate_state``; LangGraph-internal
keys of a caller's ``configurable`` (RemoteGraph forwards its caller's ``__pregel_resuming``) do not
steer the run; RemoteGraph as a node of a parent graph with its own checkpointer runs on the
parent's thread id and its interrupt reaches the parent; a parent node answering the remote
interrupt with its own ``interrupt()`` resumes it."""

from __future__ import annotations

import uuid
from typing import TypedDict

import pytest
import pytest_asyncio
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command, interrupt

from tests.support.gateways import gateway_processes
from tests.support.keys import make_key
from tests.support.lifecycle import shared_counting

pytestmark = pytest.mark.asyncio(loop_scope="session")
YES = {"decision": "yes", "reviewer": "uma.underwriter", "note": "checked"}


@pytest_asyncio.fixture(loop_scope="session")
async def remote(worker, db, tmp_path):
    """A function making a ``RemoteGraph`` (url + api_key, as a user makes one) of a live counting
    agent on one gateway process; its clients are closed afterwards."""
    name = await shared_counting(worker, db, durability="sync")  # a checkpoint per step: a history to read
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
    state = await graph.aget_state(config)
    assert state.next == ("b",) and state.values["visited"] == ["a"]
    [pending] = state.interrupts
    assert pending.value["kind"] == "counting_continue" and [i["id"] for i in first["__interrupt__"]] == [pending.id]

    done = await graph.ainvoke(Command(resume=YES), config)
    assert done["visited"] == ["a", "b", "c"] and done["answer"]["decision"] == "yes"
    assert log.read_text().split() == ["a", "b", "c"]

    history = [s async for s in graph.aget_state_history(config, limit=50)]
    # newest first, a checkpoint per step (durability "sync"), each linked to the one before
    assert [(h.next, h.values.get("visited")) for h in history] == [
        ((), ["a", "b", "c"]), (("c",), ["a", "b"]), (("b",), ["a"]), (("a",), None), (("__start__",), None)]
    assert all(h.parent_config == older.config for h, older in zip(history, history[1:]))
    assert history[0].values == (await graph.aget_state(config)).values
    at_b = await graph.aget_state(history[2].config)  # an earlier checkpoint, by its config
    assert at_b.values["visited"] == ["a"] and at_b.next == ("b",)

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


async def test_a_callers_langgraph_internal_configurable_does_not_steer_the_run(remote, tmp_path):
    # RemoteGraph forwards the configurable of the node calling it, with LangGraph's own
    # ``__pregel_resuming: True`` when its parent resumes: Shipway's graph must not treat the new
    # input run as a resume without a value (node b asked again, node a never re-run)
    graph = remote()
    log = tmp_path / "nodes.log"
    config = _thread(str(uuid.uuid4()))
    await graph.ainvoke({"log_path": str(log), "ask": True}, config)
    resuming = {"configurable": {**config["configurable"], "__pregel_resuming": True}}
    again = await graph.ainvoke({"log_path": str(log), "ask": True, "message": "again"}, resuming)
    assert log.read_text().split() == ["a", "a"]  # a new input starts the graph again, as on a fresh call
    assert again["message"] == "again" and again["__interrupt__"]


class ParentState(TypedDict, total=False):
    """The keys of the counting agent's state that the parent shares with it."""

    log_path: str
    ask: bool
    visited: list[str]
    answer: dict


def _parent(node) -> CompiledStateGraph:
    """A parent graph ``START -> counting``, ``node`` being the counting step, with its own checkpointer."""
    parent = StateGraph(ParentState)
    parent.add_node("counting", node)
    parent.add_edge(START, "counting")
    return parent.compile(checkpointer=InMemorySaver())


async def test_remote_graph_as_a_node_runs_on_the_parents_thread_and_its_interrupt_reaches_the_parent(remote, tmp_path):
    graph = remote(name="counting")
    app = _parent(graph)
    log = tmp_path / "nodes.log"
    config = _thread(str(uuid.uuid4()))

    done = await app.ainvoke({"log_path": str(log)}, config)
    assert done["visited"] == ["a", "b", "c"] and log.read_text().split() == ["a", "b", "c"]
    # RemoteGraph passes the parent's thread id on: the remote thread is made by the run and has the same id
    assert (await graph.aget_state(config)).values["visited"] == ["a", "b", "c"]

    config = _thread(str(uuid.uuid4()))
    stopped = await app.ainvoke({"log_path": str(log), "ask": True}, config)
    [asked] = stopped["__interrupt__"]
    assert asked.value["kind"] == "counting_continue" and asked.value["context"] == {"visited": ["a"]}
    parent_state = await app.aget_state(config)
    assert parent_state.next == ("counting",) and [i.id for i in parent_state.interrupts] == [asked.id]
    remote_state = await graph.aget_state(config)
    assert remote_state.next == ("b",) and [i.id for i in remote_state.interrupts] == [asked.id]


async def test_a_parent_node_answers_the_remote_interrupt_with_its_own_and_resumes_it(remote, tmp_path):
    graph = remote()

    async def counting(state: ParentState, config) -> dict:
        # its own thread per parent thread, without the parent's config: RemoteGraph forwards no resume
        # value from a parent's Command(resume=...) (langchain-ai/langgraph#4879), so the node asks the
        # parent's human itself and answers the remote interrupt with a Command(resume=...) run
        remote_config = _thread(str(uuid.uuid5(uuid.NAMESPACE_URL, config["configurable"]["thread_id"])))
        await graph.client.threads.create(thread_id=remote_config["configurable"]["thread_id"], if_exists="do_nothing")
        snapshot = await graph.aget_state(remote_config)
        if not snapshot.interrupts:  # not yet asked: a re-execution after the parent's resume skips this
            await graph.ainvoke({"log_path": state["log_path"], "ask": state.get("ask", False)}, remote_config)
            snapshot = await graph.aget_state(remote_config)
        while snapshot.interrupts:
            await graph.ainvoke(Command(resume=interrupt(snapshot.interrupts[0].value)), remote_config)
            snapshot = await graph.aget_state(remote_config)
        return {"visited": snapshot.values["visited"], "answer": snapshot.values["answer"]}

    app = _parent(counting)
    log = tmp_path / "nodes.log"
    config = _thread(str(uuid.uuid4()))
    stopped = await app.ainvoke({"log_path": str(log), "ask": True}, config)
    [asked] = stopped["__interrupt__"]
    assert asked.value["kind"] == "counting_continue" and (await app.aget_state(config)).next == ("counting",)

    done = await app.ainvoke(Command(resume=YES), config)
    assert done["visited"] == ["a", "b", "c"] and done["answer"]["decision"] == "yes"
    assert "__interrupt__" not in done and (await app.aget_state(config)).next == ()
    assert log.read_text().split() == ["a", "b", "c"]  # the remote graph resumed: nothing ran twice
