"""Follow a run's stored events from any gateway process: replay from an id, then wait for more.

The worker appends a run's chunks to ``run_events`` and sends ``NOTIFY run_events, '<run_id>'`` in
the same transaction (:mod:`activities.run_events`). A follower LISTENs on its own connection
*before* its first query, so an event committed between that query and the wait still wakes it;
every wake-up re-reads by id, so notifications only say "look again" and none carries data.
Ids of one run become visible in ascending order (the writer serializes a run's appends), so
"id greater than the last one seen" misses nothing and repeats nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import psycopg

from activities.run_events import CHANNEL, END
from shipway.db.engine import role_options

BATCH = 500  # rows per catch-up query, so a long replay never sits in memory at once

_AFTER = "SELECT id, event, data FROM run_events WHERE run_id = %s AND id > %s ORDER BY id LIMIT %s"


@dataclass(frozen=True)
class Event:
    """One stored event of a run: ``id`` (ascending within the run; the SSE ``id`` a client resumes
    from), ``event`` (``metadata``, ``values``, ``updates|<namespace>``, ``messages``, ``error``,
    ``end``, ...) and ``data`` (its JSON value, decoded)."""

    id: int
    event: str
    data: Any


async def _woken(conn: psycopg.AsyncConnection, run_id: str, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for a notification about ``run_id``; whether one came."""
    # aclosing: leaving the generator early must release the connection's lock at once
    async with aclosing(conn.notifies(timeout=timeout)) as notifies:
        async for notify in notifies:
            if notify.payload == run_id:
                return True
    return False


async def follow(url: str, role: str | None, run_id: str, tenant: str, after_id: int | None, heartbeat_s: float,
                 until_end: bool = True) -> AsyncIterator[Event | None]:
    """The events of ``run_id`` with ids above ``after_id`` (all when None), in id order: first those
    stored, then each new one as the writer's notification arrives. Yields ``None`` whenever
    ``heartbeat_s`` seconds pass without an event (the caller sends a heartbeat), and stops after
    the ``end`` event when ``until_end`` (otherwise it follows until the caller stops iterating).

    Opens one connection of its own on ``url`` as ``role`` (the gateway's ``shipway_app``, whose
    row-level security shows only ``tenant``'s rows: another tenant's run looks empty), closed
    when the iteration ends or is abandoned (``aclose``).

    Raises:
        psycopg.Error: the database failed or is unreachable.
        ValueError: ``heartbeat_s`` is not positive.
    """
    if heartbeat_s <= 0:
        raise ValueError("heartbeat_s must be positive")
    last = after_id if after_id is not None else 0  # identity ids start at 1
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, **role_options(role)) as conn:
        await conn.execute("SELECT set_config('shipway.tenant', %s, false)", (tenant,))
        await conn.execute(f"LISTEN {CHANNEL}")
        while True:
            rows = await (await conn.execute(_AFTER, (run_id, last, BATCH))).fetchall()
            for id_, event, data in rows:
                last = id_
                yield Event(id_, event, data)
                if until_end and event == END:
                    return
            if len(rows) == BATCH:
                continue
            # the wait starts after the last yield, so a slow consumer does not earn extra heartbeats;
            # a heartbeat's wake-up reads again too, a cheap guard against a lost notification
            if not await _woken(conn, run_id, heartbeat_s):
                yield None
