"""A thread's checkpoint history from LangGraph's Postgres checkpoint tables.

Read with ``langgraph.checkpoint.postgres.PostgresSaver`` (the same tables the
worker's ``AsyncPostgresSaver`` writes) and the worker's checkpoint keys
(:mod:`shipway.checkpoint_crypto`), newest checkpoint first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg.rows import dict_row

from shipway.checkpoint_crypto import encrypted_serde
from shipway.settings import get_settings

# LangGraph triggers a node by writing its "branch:to:<node>" channel; START is its own channel.
_TRIGGER_PREFIX = "branch:to:"
_START = "__start__"


@dataclass(frozen=True)
class CheckpointRow:
    """One checkpoint of a thread.

    Attributes:
        step: LangGraph's step counter (-1 for the input checkpoint).
        source: ``input`` | ``loop`` | ``update`` | ``fork``.
        next: nodes this checkpoint triggers (what runs next from here).
        writes: channels written by the tasks that ran from this checkpoint
            (``__interrupt__`` when a node interrupted).
        checkpoint_id: LangGraph's checkpoint id (time-ordered UUID6).
        ts: ISO-8601 UTC time the checkpoint was saved.
        values: the state's channel values at this checkpoint, made JSON-safe.
    """

    step: int
    source: str
    next: tuple[str, ...]
    writes: tuple[str, ...]
    checkpoint_id: str
    ts: str
    values: dict[str, Any]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types; objects JSON cannot encode become their ``str``."""
    return json.loads(json.dumps(value, default=str))


def _next_nodes(updated_channels: list[str] | None) -> tuple[str, ...]:
    nodes = []
    for channel in updated_channels or ():
        if channel.startswith(_TRIGGER_PREFIX):
            nodes.append(channel[len(_TRIGGER_PREFIX):])
        elif channel == _START:
            nodes.append(_START)
    return tuple(nodes)


def _written_channels(pending_writes: list[tuple[str, str, Any]] | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for _task_id, channel, _value in pending_writes or ():
        if not channel.startswith(_TRIGGER_PREFIX):
            seen[channel] = None
    return tuple(seen)


def checkpoint_history(database_url: str, thread_id: str, limit: int = 200,
                       serde: SerializerProtocol | None = None) -> list[CheckpointRow]:
    """The newest ``limit`` checkpoints of ``thread_id`` (root namespace), newest first.

    ``serde`` decrypts them; default :func:`shipway.checkpoint_crypto.encrypted_serde` of the
    current settings (the worker's keys). Returns ``[]`` when the thread has none or LangGraph's
    tables do not exist yet (no graph has run against this database).

    Raises:
        psycopg.OperationalError: the database cannot be reached.
        shipway.checkpoint_crypto.CheckpointDecryptionError: a checkpoint was written under a key
            that is not configured here, or does not verify.
    """
    rows = []
    try:
        # the connection PostgresSaver.from_conn_string opens, which takes no serde
        with psycopg.connect(database_url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
            saver = PostgresSaver(conn, serde=serde or encrypted_serde(get_settings()))
            for t in saver.list({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}, limit=limit):
                cp, meta = t.checkpoint, t.metadata or {}
                rows.append(
                    CheckpointRow(
                        step=int(meta.get("step", -1)),
                        source=str(meta.get("source", "")),
                        next=_next_nodes(cp.get("updated_channels")),
                        writes=_written_channels(t.pending_writes),
                        checkpoint_id=t.config["configurable"]["checkpoint_id"],
                        ts=cp["ts"],
                        values=jsonable({k: v for k, v in cp.get("channel_values", {}).items() if not k.startswith(_TRIGGER_PREFIX)}),
                    )
                )
    except psycopg.errors.UndefinedTable:
        return []
    return rows
