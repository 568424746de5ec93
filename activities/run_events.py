"""The chunks a run streams, stored for every gateway process: the only writer of ``run_events``.

A run's graph streams chunks (``graph.astream``); :func:`chunk_events` names each as the LangGraph
Platform names its server-sent events, :func:`to_jsonable` / :func:`dump_json` turn its data into
JSON as the Platform sends it (messages as their ``model_dump()`` dicts), and
:class:`RunEventWriter` appends them to ``run_events`` and sends ``NOTIFY run_events, '<run_id>'``
in the same transaction, so a follower woken by the notification finds the rows
(:mod:`shipway.run_event_stream`).

Appends to one run are serialized by a transaction-scoped advisory lock on the run id: ids of one
run are then assigned in commit order, so a reader that has seen id ``n`` of a run never later
finds a smaller id of that run committed behind it.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from base64 import b64encode
from collections import deque
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import orjson
from langgraph.types import Send
from psycopg_pool import AsyncConnectionPool
from temporalio import activity

from shipway.db.engine import role_options
from workflows.types import END_RUN_STREAM, RunStreamEnd, RunStreamEnded

CHANNEL = "run_events"
END = "end"  # the terminal event a run's stream ends with; followers stop after it

# the Platform's name of LangGraph's "messages" stream mode when chunks go out as (message, metadata)
MESSAGES_TUPLE = "messages-tuple"

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_SURROGATES = re.compile(r"[\ud800-\udfff]")
# a \u0000 escape in JSON text: after an even number of backslashes (an odd one escapes its "\")
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")

_APPEND_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(%(run_id)s, 0))"
_APPEND = """
INSERT INTO run_events (run_id, tenant, event, data)
SELECT %(run_id)s, %(tenant)s, e.event, e.data::jsonb
FROM unnest(%(events)s::text[], %(data)s::text[]) WITH ORDINALITY AS e(event, data, n)
ORDER BY e.n
RETURNING id
"""
_NOTIFY = "SELECT pg_notify('" + CHANNEL + "', %(run_id)s)"


def _default(obj: Any) -> Any:
    # what orjson does not serialize itself (it does dataclasses, datetimes, enums, numpy)
    if isinstance(obj, Send):
        return {"node": obj.node, "args": obj.arg}
    if hasattr(obj, "model_dump") and not isinstance(obj, type):  # pydantic v2, LangChain messages
        return obj.model_dump()
    if hasattr(obj, "dict") and callable(obj.dict) and not isinstance(obj, type):  # pydantic v1
        return obj.dict()
    if hasattr(obj, "_asdict") and not isinstance(obj, type):  # named tuples inside other types
        return obj._asdict()
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, (set, frozenset, deque)):
        return list(obj)
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, Decimal):
        return int(obj) if obj.is_finite() and obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, (uuid.UUID, PurePath)):
        return str(obj)
    if isinstance(obj, (bytes, bytearray)):
        return b64encode(obj).decode()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def _without_surrogates(obj: Any) -> Any:
    # lone surrogates (from a model's broken unicode) cannot be encoded as UTF-8: replace them,
    # converting what holds strings the way _default does
    if isinstance(obj, str):
        return _SURROGATES.sub("?", obj)
    if isinstance(obj, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_asdict"):
        return [_without_surrogates(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _without_surrogates(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (int, float, bool, type(None))):
        return obj
    try:
        converted = _default(obj)
    except TypeError:
        return obj  # a type orjson serializes itself (datetime, enum, numpy), or fails on below
    return _without_surrogates(converted)


def dump_json(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON the way the Platform serializes stream data.

    Pydantic models and LangChain messages become their ``model_dump()`` dicts (``{"type": "ai",
    "content": ..., "id": ..., ...}``, what ``langgraph-sdk`` clients read), dataclasses (such as
    LangGraph's ``Interrupt``) their fields, tuples and sets lists, ``Send`` ``{"node", "args"}``,
    exceptions ``{"error": <type name>, "message": str(exc)}``, ``timedelta`` seconds, UUIDs and
    paths strings, bytes base64. NUL characters become U+FFFD (PostgreSQL's ``jsonb`` rejects
    ``\\u0000``), lone surrogates ``?``, NaN and infinities ``null``.

    Raises:
        TypeError: ``obj`` holds a value of another type.
    """
    try:
        dumped = orjson.dumps(obj, default=_default, option=_OPTIONS)
    except TypeError as exc:
        if "surrogates not allowed" not in str(exc):
            raise
        dumped = orjson.dumps(_without_surrogates(obj), default=_default, option=_OPTIONS)
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", dumped) if rb"\u0000" in dumped else dumped


def to_jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values (dict, list, str, int, float, bool, None), converted as
    :func:`dump_json` does.

    Raises:
        TypeError: ``obj`` holds a value :func:`dump_json` cannot convert.
    """
    return orjson.loads(dump_json(obj))


def graph_stream_modes(platform_modes: Iterable[str]) -> list[str]:
    """The ``stream_mode`` list to give ``graph.astream`` for the Platform's stream modes, in their
    order without repeats: ``messages-tuple`` is LangGraph's ``messages``; ``values``, ``updates``,
    ``custom``, ``debug``, ``checkpoints``, ``tasks`` are LangGraph's own.

    Raises:
        ValueError: a mode the Platform names but this module does not produce (``messages``'
            partial/complete form, ``events``) or one neither knows.
    """
    supported = {"values", "updates", "custom", "debug", "checkpoints", "tasks"}
    modes: list[str] = []
    for mode in platform_modes:
        if mode != MESSAGES_TUPLE and mode not in supported:
            raise ValueError(f"unsupported stream mode: {mode!r}")
        graph_mode = "messages" if mode == MESSAGES_TUPLE else mode
        if graph_mode not in modes:
            modes.append(graph_mode)
    return modes


def chunk_events(item: tuple, subgraphs: bool) -> list[tuple[str, Any]]:
    """The Platform's server-sent events for one item of ``graph.astream(..., stream_mode=[...],
    subgraphs=subgraphs)``.

    ``item`` is ``(mode, chunk)``, or ``(namespace, mode, chunk)`` when ``subgraphs`` (the namespace a
    tuple of ``"node:task_id"`` strings, empty for the root graph). The event is named by the mode,
    with the namespace joined by ``|`` for a subgraph's chunk (``updates|child:1234``), as
    ``langgraph-sdk`` splits it back. LangGraph's ``messages`` chunk ``(message, metadata)`` goes out
    as the 2-list ``[message, metadata]`` under ``messages`` (the Platform's ``messages-tuple``);
    other chunks pass through unchanged (serialize them with :func:`dump_json`).

    Returns:
        ``[(event_name, data)]``: one event per item.

    Raises:
        ValueError: ``item`` does not have the shape ``subgraphs`` says.
    """
    if subgraphs:
        if len(item) != 3:
            raise ValueError(f"expected (namespace, mode, chunk) with subgraphs, got {len(item)} items")
        namespace, mode, chunk = item
    else:
        if len(item) != 2:
            raise ValueError(f"expected (mode, chunk), got {len(item)} items")
        (mode, chunk), namespace = item, ()
    if mode == "messages":
        chunk = list(chunk)
    return [("|".join((mode, *namespace)), chunk)]


class RunEventWriter:
    """Appends a run's events to ``run_events`` and notifies followers; owns its connection pool
    unless given one.

    Args:
        url: ``postgresql://`` URL of the database (migrated to revision 0018); or
        pool: a pool to use instead (its connections must be in autocommit mode; the caller closes it).
        role: the database role to act as (the workers' ``shipway_platform``), with ``url`` only.
        max_size: most connections the owned pool holds.

    Raises:
        ValueError: neither or both of ``url`` and ``pool`` given.
    """

    def __init__(self, url: str | None = None, *, pool: AsyncConnectionPool | None = None, role: str | None = None,
                 max_size: int = 4) -> None:
        if (url is None) == (pool is None):
            raise ValueError("give exactly one of url and pool")
        self._owned = pool is None
        self._pool = pool or AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False,
                                                 kwargs={"autocommit": True, **role_options(role)})
        self._opened = not self._owned

    async def _connection_pool(self) -> AsyncConnectionPool:
        # opened on first use, so the pool lives on the event loop that appends
        if not self._opened:
            await self._pool.open()
            self._opened = True
        return self._pool

    async def append(self, run_id: str, tenant: str, events: list[tuple[str, Any]]) -> list[int]:
        """Store ``events`` (``(event_name, data)``, data serialized by :func:`dump_json`) for
        ``run_id`` in one transaction that also sends ``NOTIFY run_events, '<run_id>'``.

        Returns:
            The ids given to the events, in the order given (ascending).

        Raises:
            TypeError: an event's data cannot be serialized (nothing is stored).
            psycopg.Error: the database failed (nothing is stored).
        """
        if not events:
            return []
        params = {"run_id": run_id, "tenant": tenant, "events": [name for name, _ in events],
                  "data": [dump_json(data).decode() for _, data in events]}
        pool = await self._connection_pool()
        async with pool.connection() as conn, conn.transaction():
            # one round trip: lock, insert, notify are pipelined
            async with conn.pipeline():
                await conn.execute(_APPEND_LOCK, params)
                cur = await conn.execute(_APPEND, params)
                await conn.execute(_NOTIFY, params)
            ids = [row[0] for row in await cur.fetchall()]
        return sorted(ids)

    async def close(self) -> None:
        """Close the owned pool (no-op for a pool given, or one never opened)."""
        if self._owned and self._opened:
            await self._pool.close()
            self._opened = False

    async def __aenter__(self) -> RunEventWriter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class RunEventActivities:
    """The run workflow's local activity that closes a streamed run's events (the graph activity
    appends its chunks through the same :class:`RunEventWriter`)."""

    def __init__(self, writer: RunEventWriter) -> None:
        self.writer = writer

    @activity.defn(name=END_RUN_STREAM)
    async def end_run_stream(self, inp: RunStreamEnd) -> RunStreamEnded:
        """Append ``error`` (when the run ended without its output) and ``end``; returns the id of ``end``."""
        events = ([("error", inp.error)] if inp.error else []) + [(END, None)]
        return RunStreamEnded(end_id=(await self.writer.append(inp.run_id, inp.tenant, events))[-1])
