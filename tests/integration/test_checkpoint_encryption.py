"""Checkpoints encrypted at rest in the real PostgreSQL, with the worker's saver and serializer: a real
LangGraph graph interrupts (as a run awaiting approval does), its checkpoint rows hold none of the
state in plaintext, the wrong key cannot read them, and after a key rotation the thread resumes
with old and new checkpoints readable."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from shipway.checkpoint_crypto import (
    CheckpointDecryptionError,
    EncryptedAsyncPostgresSaver,
    RotatingAesCipher,
)
from shipway.checkpoint_keys import new_checkpoint_key

pytestmark = pytest.mark.asyncio(loop_scope="session")

MARKER = "confidential-7f3a"  # in a str channel (stored inline by the stock saver), a list, an interrupt
KEY_A, KEY_B = new_checkpoint_key("a"), new_checkpoint_key("b")


class State(TypedDict, total=False):
    note: str
    items: Annotated[list[str], operator.add]
    decision: str


def _graph():
    def draft(state: State) -> dict:
        return {"note": f"{MARKER} note", "items": [f"{MARKER} item"]}

    def review(state: State) -> dict:
        return {"decision": interrupt({"question": f"approve {MARKER}?"})}

    def finish(state: State) -> dict:  # leaves `note` unchanged: it must still read from older checkpoints
        return {"items": ["done"]}

    builder = StateGraph(State)
    for name, fn in (("draft", draft), ("review", review), ("finish", finish)):
        builder.add_node(name, fn)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "finish")
    builder.add_edge("finish", END)
    return builder


def _serde(*keys: tuple[str, bytes]) -> EncryptedSerializer:
    return EncryptedSerializer(RotatingAesCipher(list(keys)))


def _config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


async def _run(pg_url: str, thread_id: str, payload, saver_cls=EncryptedAsyncPostgresSaver, **kwargs) -> dict:
    async with saver_cls.from_conn_string(pg_url, **kwargs) as saver:
        return await _graph().compile(checkpointer=saver).ainvoke(payload, _config(thread_id))


async def _rows(pg_url: str, thread_id: str) -> dict[str, list[tuple[str, bytes]]]:
    """The thread's raw rows: checkpoint and metadata JSON text, blob and write types and bytes."""
    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        checkpoints = await (await conn.execute(
            "SELECT checkpoint::text || metadata::text FROM checkpoints WHERE thread_id = %s", (thread_id,))).fetchall()
        blobs = await (await conn.execute(
            "SELECT type, coalesce(blob, ''::bytea) FROM checkpoint_blobs WHERE thread_id = %s", (thread_id,))).fetchall()
        writes = await (await conn.execute(
            "SELECT type, blob FROM checkpoint_writes WHERE thread_id = %s", (thread_id,))).fetchall()
    return {"checkpoints": [("json", text.encode()) for (text,) in checkpoints], "blobs": blobs, "writes": writes}


def _ciphers(rows: dict[str, list[tuple[str, bytes]]]) -> set[str]:
    return {typ.split("+", 1)[1] for table in ("blobs", "writes") for typ, _ in rows[table] if "+" in typ}


async def test_encrypted_checkpoints_need_their_key_and_survive_a_key_rotation(pg_url: str):
    thread = f"enc-{uuid.uuid4()}"
    first = await _run(pg_url, thread, {"items": []}, serde=_serde(KEY_A))
    assert "__interrupt__" in first

    rows = await _rows(pg_url, thread)
    assert rows["blobs"] and rows["writes"]
    for table, entries in rows.items():
        for typ, data in entries:
            assert MARKER.encode() not in data, f"plaintext state in {table} ({typ})"
    assert _ciphers(rows) == {"aesgcmsiv-a"}
    assert {typ for typ, _ in rows["blobs"] + rows["writes"] if "+" not in typ} <= {"empty"}

    # the wrong key: no key with this id, or other key material under the same id
    for wrong in (_serde(KEY_B), _serde(("a", KEY_B[1]))):
        async with EncryptedAsyncPostgresSaver.from_conn_string(pg_url, serde=wrong) as saver:
            with pytest.raises(CheckpointDecryptionError):
                await saver.aget_tuple(_config(thread))

    # rotate: b encrypts, a still decrypts; the thread resumes and finishes
    rotated = _serde(KEY_B, KEY_A)
    done = await _run(pg_url, thread, Command(resume="approved"), serde=rotated)
    assert done == {"note": f"{MARKER} note", "items": [f"{MARKER} item", "done"], "decision": "approved"}
    rows = await _rows(pg_url, thread)
    assert _ciphers(rows) == {"aesgcmsiv-a", "aesgcmsiv-b"}
    assert all(MARKER.encode() not in data for entries in rows.values() for _, data in entries)

    async with EncryptedAsyncPostgresSaver.from_conn_string(pg_url, serde=rotated) as saver:
        history = [t async for t in saver.alist(_config(thread))]
    assert len(history) >= 4
    assert history[-1].metadata["source"] == "input"  # oldest, written under a
    assert history[0].checkpoint["channel_values"]["note"] == f"{MARKER} note"
    assert all(t.checkpoint["channel_values"].get("note", f"{MARKER} note") == f"{MARKER} note" for t in history)

    # a process still on the old key list cannot read what was written after the rotation
    async with EncryptedAsyncPostgresSaver.from_conn_string(pg_url, serde=_serde(KEY_A)) as saver:
        with pytest.raises(CheckpointDecryptionError, match="'b', which is not configured"):
            await saver.aget_tuple(_config(thread))


async def test_a_thread_checkpointed_before_encryption_resumes_encrypted(pg_url: str):
    thread = f"plain-{uuid.uuid4()}"
    await _run(pg_url, thread, {"items": []}, saver_cls=AsyncPostgresSaver)  # the stock saver, no encryption
    before = await _rows(pg_url, thread)
    assert any(MARKER.encode() in data for _, data in before["checkpoints"])  # `note` inline, in plaintext

    done = await _run(pg_url, thread, Command(resume="approved"), serde=_serde(KEY_A))
    assert done == {"note": f"{MARKER} note", "items": [f"{MARKER} item", "done"], "decision": "approved"}

    async with EncryptedAsyncPostgresSaver.from_conn_string(pg_url, serde=_serde(KEY_A)) as saver:
        latest = await saver.aget_tuple(_config(thread))
        history = [t async for t in saver.alist(_config(thread))]
    # `note` was last written before encryption, only inline in the old checkpoints; the newest
    # checkpoint must still hold it, or a later resume would lose it
    assert latest.checkpoint["channel_values"]["note"] == f"{MARKER} note"
    assert len(history) >= 4 and history[-1].metadata["source"] == "input"

    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        (latest_json,) = await (await conn.execute(
            "SELECT checkpoint::text FROM checkpoints WHERE thread_id = %s AND checkpoint_id = %s",
            (thread, latest.config["configurable"]["checkpoint_id"]))).fetchone()
    assert MARKER not in latest_json  # what is written from now on is encrypted
    assert "aesgcmsiv-a" in _ciphers(await _rows(pg_url, thread))
