"""SQLAlchemy engines for the catalog database (psycopg 3 driver)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shipway.settings import get_settings


def sqlalchemy_url(url: str) -> str:
    """Turn a ``postgresql://`` URL into SQLAlchemy's ``postgresql+psycopg://`` form."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


@lru_cache
def sync_engine(url: str | None = None) -> Engine:
    """A pooled synchronous engine (console, CLI, migrations)."""
    return create_engine(sqlalchemy_url(url or get_settings().resolved_database_url()), pool_pre_ping=True)


_async_engines: dict[tuple[str, int], AsyncEngine] = {}


def async_engine(url: str | None = None) -> AsyncEngine:
    """A pooled asyncio engine (worker activities, gateway), one per URL and event loop."""
    import asyncio

    key = (url or get_settings().resolved_database_url(), id(asyncio.get_running_loop()))
    if key not in _async_engines:
        _async_engines[key] = create_async_engine(sqlalchemy_url(key[0]), pool_size=10, max_overflow=20, pool_pre_ping=True)
    return _async_engines[key]
