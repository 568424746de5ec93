"""SQLAlchemy engines for the catalog database (psycopg 3 driver).

The console and CLI share one cached synchronous engine per URL. Async engines are resources with
a lifetime: the worker, the gateway and the demo each open a :class:`Database` and dispose of it on
shutdown (an asyncio engine is bound to the event loop that first uses it).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from shipway.settings import get_settings

T = TypeVar("T")


def sqlalchemy_url(url: str) -> str:
    """Turn a ``postgresql://`` URL into SQLAlchemy's ``postgresql+psycopg://`` form.

    Raises:
        ValueError: not a PostgreSQL URL.
    """
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


@lru_cache
def sync_engine(url: str | None = None) -> Engine:
    """A pooled synchronous engine (console, CLI, migrations), one per URL."""
    return create_engine(sqlalchemy_url(url or get_settings().resolved_database_url()), pool_pre_ping=True)


def role_options(role: str | None) -> dict[str, str]:
    """libpq connection parameters that make ``role`` the session's role from the first statement
    (``options=-c role=...``); ``{}`` for None. Unlike a ``SET ROLE`` after connecting, the role is the
    session default, so even a ``RESET ROLE`` stays in it."""
    return {"options": f"-c role={role}"} if role else {}


def create_async_db_engine(url: str, pool_size: int = 10, max_overflow: int = 20, role: str | None = None) -> AsyncEngine:
    """A new pooled asyncio engine on ``url`` (``postgresql://``); the caller disposes of it.

    Pool sizes are connections: ``pool_size`` kept open, up to ``max_overflow`` more under load.
    ``role``: a database role every connection acts as (:func:`role_options`).
    """
    return create_async_engine(sqlalchemy_url(url), pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True,
                               connect_args=role_options(role))


class Database:
    """An asyncio engine with its lifetime, and the way async code reads through :mod:`shipway.queries`.

    ``await db.read(queries.run, run_id)`` runs a query function on a short session. Activities
    write through :meth:`session`. Call :meth:`dispose` (or use ``async with``) when done.
    """

    def __init__(self, url: str, pool_size: int = 10, max_overflow: int = 20, role: str | None = None) -> None:
        self.url, self.role = url, role
        self.engine = create_async_db_engine(url, pool_size, max_overflow, role)

    @classmethod
    def from_settings(cls, **pool: int) -> Database:
        """A database on the configured URL (``DATABASE_URL`` or the local stack's).

        Raises:
            RuntimeError: no database is configured or recorded by ``shipway up``.
        """
        return cls(get_settings().resolved_database_url(), **pool)

    def session(self) -> AsyncSession:
        """A new session (use as ``async with db.session() as s``); objects stay usable after commit."""
        return AsyncSession(self.engine, expire_on_commit=False)

    async def read(self, query: Callable[..., T], *args: Any, as_tenant: str | None = None, **kwargs: Any) -> T:
        """Run ``query(session, *args, **kwargs)`` (a function of :mod:`shipway.queries`) and return its result.

        ``as_tenant``: the transaction's ``shipway.tenant`` (``SET LOCAL``), which the row-level
        security policies of a tenant-scoped role (``shipway_app``) filter by.
        """
        async with self.session() as s:
            if as_tenant is not None:
                await s.exec(text("SELECT set_config('shipway.tenant', :tenant, true)").bindparams(tenant=as_tenant))
            return await s.run_sync(query, *args, **kwargs)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.dispose()
