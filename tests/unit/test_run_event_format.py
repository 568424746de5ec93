"""Run events in the LangGraph Platform's shape: event names from real ``graph.astream`` output, JSON
of LangChain messages and models, and SSE bytes read back by ``langgraph-sdk``'s own decoder."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, TypedDict

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, convert_to_messages
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Interrupt, Send
from langgraph_sdk._shared.utilities import _sse_to_v2_dict
from langgraph_sdk.schema import StreamPart
from langgraph_sdk.sse import BytesLineDecoder, SSEDecoder
from pydantic import BaseModel

from activities.run_events import chunk_events, dump_json, graph_stream_modes, to_jsonable
from shipway.gateway.sse import HEARTBEAT, parse_last_event_id, sse


class State(TypedDict):
    messages: Annotated[list, add_messages]
    steps: int


def _parent_with_child():
    """A parent graph whose node ``child`` is a compiled subgraph that calls a chat model."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello there", id="ai-1")]))

    async def think(state: State) -> dict:
        return {"messages": [await model.ainvoke(state["messages"])], "steps": state.get("steps", 0) + 1}

    child = StateGraph(State).add_node("think", think).add_edge(START, "think").add_edge("think", END).compile()
    return (StateGraph(State).add_node("child", child).add_node("after", lambda s: {"steps": s["steps"] + 1})
            .add_edge(START, "child").add_edge("child", "after").add_edge("after", END).compile())


async def _platform_events(modes: list[str], subgraphs: bool) -> list[tuple[str, object]]:
    graph = _parent_with_child()
    events = []
    async for item in graph.astream({"messages": [HumanMessage("hi")], "steps": 0},
                                    stream_mode=graph_stream_modes(modes), subgraphs=subgraphs):
        events += chunk_events(item, subgraphs)
    return events


async def test_a_subgraphs_chunks_are_named_mode_pipe_namespace_as_the_sdk_splits_them():
    events = await _platform_events(["updates", "values"], subgraphs=True)
    parts = [_sse_to_v2_dict(name, to_jsonable(data)) for name, data in events]
    root_updates = [p for p in parts if p["type"] == "updates" and not p["ns"]]
    child_updates = [p for p in parts if p["type"] == "updates" and p["ns"]]
    assert [list(p["data"]) for p in root_updates] == [["child"], ["after"]]
    assert [list(p["data"]) for p in child_updates] == [["think"]]
    assert child_updates[0]["ns"][0].startswith("child:")  # "node:task_id", one level deep
    assert {name.split("|")[0] for name, _ in events} == {"updates", "values"}
    assert [p["data"]["steps"] for p in parts if p["type"] == "values" and not p["ns"]] == [0, 1, 2]


async def test_without_subgraphs_events_are_named_by_the_mode_alone():
    events = await _platform_events(["updates"], subgraphs=False)
    assert [name for name, _ in events] == ["updates", "updates"]


async def test_messages_tuple_sends_each_message_chunk_with_its_metadata_as_a_two_list():
    events = await _platform_events(["messages-tuple"], subgraphs=True)
    assert events and {name.split("|")[0] for name, _ in events} == {"messages"}
    assert all(name.startswith("messages|child:") for name, _ in events)
    decoded = [to_jsonable(data) for _, data in events]
    assert all(isinstance(d, list) and len(d) == 2 for d in decoded)
    assert "".join(message["content"] for message, _ in decoded) == "hello there"
    assert {message["type"] for message, _ in decoded} == {"AIMessageChunk"}
    assert {meta["langgraph_node"] for _, meta in decoded} == {"think"}


def test_platform_modes_map_to_langgraph_modes_once_each():
    assert graph_stream_modes(["values", "messages-tuple", "updates", "values"]) == ["values", "messages", "updates"]
    for unsupported in ("messages", "events", "nonsense"):
        with pytest.raises(ValueError, match="unsupported stream mode"):
            graph_stream_modes([unsupported])


def test_an_item_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError):
        chunk_events(("values", {}), subgraphs=True)
    with pytest.raises(ValueError):
        chunk_events(((), "values", {}), subgraphs=False)


def test_an_ai_message_becomes_the_dict_langchain_reads_back():
    message = AIMessage(content="rate: 4.1%", id="m1", tool_calls=[{"name": "rate", "args": {"term": 12}, "id": "c1"}],
                        usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7})
    data = to_jsonable({"messages": [message]})
    assert data["messages"][0]["type"] == "ai"
    assert data["messages"][0]["tool_calls"][0]["args"] == {"term": 12}
    assert AIMessage.model_validate(data["messages"][0]) == message
    assert convert_to_messages(data["messages"])[0].content == message.content
    chunk = to_jsonable(AIMessageChunk(content="par", id="m2"))
    assert (chunk["type"], chunk["content"]) == ("AIMessageChunk", "par")


def test_models_dataclasses_and_langgraph_types_become_plain_json():
    class Decision(BaseModel):
        outcome: str
        score: float

    @dataclass
    class Point:
        x: int

    data = to_jsonable({"decision": Decision(outcome="approve", score=0.9), "point": Point(3), "tags": {"a"},
                        "interrupt": Interrupt(value={"question": "ok?"}, id="i1"), "send": Send("node", {"k": 1}),
                        "error": ValueError("bad input"), 7: (1, 2)})
    assert data == {"decision": {"outcome": "approve", "score": 0.9}, "point": {"x": 3}, "tags": ["a"],
                    "interrupt": {"value": {"question": "ok?"}, "id": "i1", "response_schema": None},
                    "send": {"node": "node", "args": {"k": 1}},
                    "error": {"error": "ValueError", "message": "bad input"}, "7": [1, 2]}


def test_text_postgres_jsonb_would_refuse_is_replaced_and_escaped_text_kept():
    assert to_jsonable({"s": "a\x00b", "lone": "x\ud800y"}) == {"s": "a\ufffdb", "lone": "x?y"}
    assert to_jsonable(["\\u0000", "\\\x00"]) == ["\\u0000", "\\\ufffd"]  # the six characters stay
    assert b"\\u0000" not in dump_json({"k": "\x00" * 3})


def test_a_value_json_cannot_hold_is_refused():
    with pytest.raises(TypeError):
        to_jsonable({"f": object()})


def _decode_with_the_sdk(payload: bytes, rng: random.Random) -> list[StreamPart]:
    """Feed ``payload`` in random pieces through langgraph-sdk's line and SSE decoders, as its
    client does (``aiter_lines_raw`` then ``SSEDecoder.decode(line.rstrip(b"\\n"))``)."""
    lines, decoder, parts = BytesLineDecoder(), SSEDecoder(), []
    cut = sorted(rng.sample(range(1, len(payload)), 40))
    for piece in (payload[a:b] for a, b in zip([0, *cut], [*cut, len(payload)])):
        for line in lines.decode(piece):
            if (part := decoder.decode(bytes(line).rstrip(b"\n"))) is not None:
                parts.append(part)
    for line in lines.flush():
        if (part := decoder.decode(bytes(line).rstrip(b"\n"))) is not None:
            parts.append(part)
    if (part := decoder.decode(b"")) is not None:
        parts.append(part)
    return [p for p in parts if p.event or p.data is not None]


def test_sse_bytes_decode_with_the_sdk_to_the_same_events():
    events = [("metadata", {"run_id": "r1", "attempt": 1}, 1),
              ("values", {"messages": [AIMessage(content="line one\nline two\r\n", id="a")]}, 2),
              ("updates|child:4f1e|grand:77", {"think": {"note": "ünïcødé ✓ \u2028"}}, 3),
              ("messages", [AIMessageChunk(content="tok", id="c"), {"langgraph_node": "think"}], 4),
              ("custom", None, 5),
              ("error", {"error": "ValueError", "message": "boom"}, None),
              ("end", None, 6)]
    payload = b"".join(sse(name, data, id_) + (HEARTBEAT if i % 2 else b"") for i, (name, data, id_) in enumerate(events))
    parts = _decode_with_the_sdk(payload, random.Random(16))
    # an event without an id keeps the last one (the SSE cursor does not reset)
    expected_ids = ["1", "2", "3", "4", "5", "5", "6"]
    assert parts == [StreamPart(name, to_jsonable(data), id_) for (name, data, _), id_ in zip(events, expected_ids)]


def test_sse_frames_as_the_platform_does_and_newlines_cannot_inject_fields():
    assert sse("values", {"a": 1}, 3) == b'event: values\r\ndata: {"a":1}\r\nid: 3\r\n\r\n'
    assert sse("values\nid: 99", {"a": 1}, None) == b'event: valuesid: 99\r\ndata: {"a":1}\r\n\r\n'
    assert HEARTBEAT == b": heartbeat\r\n\r\n"


@pytest.mark.parametrize(("header", "after"), [(None, None), ("", None), ("  ", None), ("0", 0), (" 42 ", 42)])
def test_last_event_id_parses_to_the_id_to_resume_after(header, after):
    assert parse_last_event_id(header) == after


@pytest.mark.parametrize("header", ["-1", "abc", "1234567890123-0", "4.5", "١٢"])
def test_a_last_event_id_this_gateway_never_sent_is_refused(header):
    with pytest.raises(ValueError, match="Last-Event-ID"):
        parse_last_event_id(header)
