"""Integration fixtures: a real Shipway worker (both task queues) on the test Temporal server, and
the database through Shipway's own :class:`~shipway.db.engine.Database`."""

from __future__ import annotations

import pytest
import pytest_asyncio

from tests.support.workers import running_workers


@pytest_asyncio.fixture(loop_scope="session")
async def worker(settings_env, temporal_env):
    """Shipway's workers for ``shipway-control`` and ``shipway-agents``, running in this process."""
    async with running_workers(temporal_env.client) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def db(settings_env):
    """A :class:`Database` on the test database, disposed afterwards."""
    from shipway.db.engine import Database

    async with Database.from_settings(pool_size=2) as database:
        yield database


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(worker):
    """The gateway app (its real lifespan) over ASGI, on the test database and Temporal server, with
    workers running; the client sends an admin key of tenant ``default``."""
    import httpx

    from shipway.gateway.app import create_app
    from tests.support.keys import bearer, make_key

    app = create_app()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway",
                                     headers=bearer(await make_key())) as http:
            yield http


@pytest.fixture
def auto_runbooks(settings_env, monkeypatch):
    """Runbooks start by themselves (``SHIPWAY_RUNBOOK_AUTO_START``) in this test, and the error-rate
    trigger judges from 5 runs; list it before ``worker`` so the workers see it."""
    from shipway.settings import get_settings

    monkeypatch.setenv("SHIPWAY_RUNBOOK_AUTO_START", "true")
    monkeypatch.setenv("SHIPWAY_ERROR_RATE_MIN_RUNS", "5")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def no_local_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep generation deterministic: Hypothesis mixes literals of the local modules imported so far
    (Shipway's, the tests') into what it draws, a set that depends on which tests ran before and on
    what the in-process workers import meanwhile. Its own edge cases (the global constants) stay."""
    from hypothesis.internal.cache import LRUCache
    from hypothesis.internal.conjecture import providers
    from hypothesis.internal.constants_ast import Constants

    monkeypatch.setattr(providers, "_get_local_constants", Constants)
    monkeypatch.setattr(providers, "CONSTANTS_CACHE", LRUCache(1024))
