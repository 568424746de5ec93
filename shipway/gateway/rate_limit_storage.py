"""A PostgreSQL storage for the `limits` library: rate-limit counters every gateway process shares.

`limits` ships storages for memory, Redis, Memcached and MongoDB, not PostgreSQL. The catalog
database is already there for every gateway, so its counters live in one table (migration 0007)::

    rate_limit_counters (key text PRIMARY KEY, expires_at timestamptz, count int)   -- UNLOGGED

This storage implements the fixed-window part of :class:`limits.aio.storage.Storage` (``incr``,
``get``, ``get_expiry``, ``check``, ``reset``, ``clear``), which is all
:class:`limits.aio.strategies.FixedWindowRateLimiter` needs. One counter row per key: ``incr`` is
a single ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` statement, so PostgreSQL's row lock
serialises concurrent increments from any number of processes and each caller sees the count its
own increment produced. Times come from the database clock (``now()``), the one clock every
gateway shares.

This module is the only place that touches ``rate_limit_counters`` (raw SQL; no model maps it).
"""

from __future__ import annotations

import asyncio
import time

import psycopg
from limits.aio.storage import Storage
from psycopg_pool import AsyncConnectionPool

from shipway.db.engine import role_options

# One statement, one row lock: a live row counts on; an expired row (or none) starts a new window
# of `expiry` seconds at `amount`. In SET, `rate_limit_counters.*` is the row before the update,
# so both CASEs test the same old expiry.
_INCR = """
    INSERT INTO rate_limit_counters AS c (key, expires_at, count)
    VALUES (%(key)s, now() + make_interval(secs => %(expiry)s), %(amount)s)
    ON CONFLICT (key) DO UPDATE SET
        count = CASE WHEN c.expires_at <= now() THEN EXCLUDED.count ELSE c.count + EXCLUDED.count END,
        expires_at = CASE WHEN c.expires_at <= now() THEN EXCLUDED.expires_at ELSE c.expires_at END
    RETURNING count
"""
_GET = "SELECT count FROM rate_limit_counters WHERE key = %(key)s AND expires_at > now()"
_GET_EXPIRY = """
    SELECT extract(epoch FROM coalesce(
        (SELECT expires_at FROM rate_limit_counters WHERE key = %(key)s AND expires_at > now()), now()))::float8
"""
_SWEEP = "DELETE FROM rate_limit_counters WHERE expires_at <= now()"

SWEEP_INTERVAL_S = 60.0
"""Least time between two deletions of expired rows by one storage instance, seconds."""


class PostgresStorage(Storage):
    """Fixed-window counters in the ``rate_limit_counters`` table of a PostgreSQL database.

    Build it with the database URL (``postgresql://user:pass@host:port/db``; the ``async+``
    prefix `limits` uses for async storages is accepted too, so
    ``limits.storage.storage_from_string("async+postgresql://...")`` works once this module is
    imported). It opens a small pool of autocommit connections on first use; call :meth:`close`
    when done.

    Keys whose window has passed are reset by their next ``incr``; keys never hit again (e.g. a
    client address seen once) are deleted by a sweep that ``incr`` runs at most every
    :data:`SWEEP_INTERVAL_S` seconds per instance.

    Errors: every method raises :class:`psycopg.Error` (pool timeouts included) when the database
    fails, or :class:`limits.errors.StorageError` wrapping it with ``wrap_exceptions=True``;
    :meth:`check` answers False instead.

    Args:
        uri: URL of the database holding ``rate_limit_counters`` (migrated to revision 0007).
        wrap_exceptions: wrap database errors in :class:`limits.errors.StorageError`.
        max_connections: most connections the pool holds (each statement is short).
        role: the database role to act as (the gateway's ``shipway_app``), or None for the login role.
    """

    STORAGE_SCHEME = ["async+postgresql", "async+postgres"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, max_connections: int = 4, role: str | None = None,
                 **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        # prepare_threshold=0: the upsert runs twice per request, so prepare it on first use
        self._pool = AsyncConnectionPool(uri.removeprefix("async+"), min_size=1, max_size=max_connections, open=False,
                                         kwargs={"autocommit": True, "prepare_threshold": 0, **role_options(role)})
        self._opened = False
        self._open_lock = asyncio.Lock()
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """What the database driver raises (:class:`psycopg.Error`; the pool's errors derive from it)."""
        return psycopg.Error

    async def _connection_pool(self) -> AsyncConnectionPool:
        # opened on first use, so the pool lives on the event loop that serves the requests
        if not self._opened:
            async with self._open_lock:
                if not self._opened:
                    await self._pool.open()
                    self._opened = True
        return self._pool

    async def _one(self, sql: str, **params: object) -> tuple | None:
        pool = await self._connection_pool()
        async with pool.connection() as conn:
            return await (await conn.execute(sql, params)).fetchone()

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s counter and return the new count; a missing or expired
        counter starts a new window ending ``expiry`` seconds from now."""
        pool = await self._connection_pool()
        async with pool.connection() as conn:
            row = await (await conn.execute(_INCR, {"key": key, "expiry": expiry, "amount": amount})).fetchone()
            if time.monotonic() >= self._next_sweep:
                self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S
                await conn.execute(_SWEEP)
        return row[0]

    async def get(self, key: str) -> int:
        """The count of ``key`` in its current window (0 when it has none)."""
        row = await self._one(_GET, key=key)
        return row[0] if row else 0

    async def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends, in seconds since the epoch (now when it has none)."""
        row = await self._one(_GET_EXPIRY, key=key)
        return row[0]

    async def check(self) -> bool:
        """Whether the database answers."""
        try:
            await self._one("SELECT 1")
        except psycopg.Error:
            return False
        return True

    async def reset(self) -> int | None:
        """Delete every counter (of every process sharing the table); returns how many rows went."""
        pool = await self._connection_pool()
        async with pool.connection() as conn:
            return (await conn.execute("DELETE FROM rate_limit_counters")).rowcount

    async def clear(self, key: str) -> None:
        """Forget ``key``'s counter (its next hit starts a new window)."""
        pool = await self._connection_pool()
        async with pool.connection() as conn:
            await conn.execute("DELETE FROM rate_limit_counters WHERE key = %(key)s", {"key": key})

    async def close(self) -> None:
        """Close the connection pool (no-op when it was never opened); later calls raise
        :class:`psycopg_pool.PoolClosed`."""
        if self._opened:
            await self._pool.close()
