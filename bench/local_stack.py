"""A self-contained Shipway stack for the benchmarks, in this process (no ``shipway up``, offline).

:func:`local_stack` stands up, in a temp dir: an embedded PostgreSQL (migrated), a Temporal dev
server, Shipway's real workers (both task queues, in this process) and the real gateway (uvicorn on
a free port of 127.0.0.1, in this process, once ``/healthz`` answers), and makes an ``admin`` API
key of tenant ``default`` (through Shipway's key store, ``tests/support/keys.py``), since every
gateway route but ``/healthz`` and the signed webhooks takes ``Authorization: Bearer <key>``.

It yields a :class:`LocalStack`: the Temporal client, a :class:`~shipway.db.engine.Database`, the
gateway's base URL, an ``httpx.AsyncClient`` on it sending the key, and the settings environment it
set (``DATABASE_URL``, ``TEMPORAL_ADDRESS``, ``SHIPWAY_STATE_DIR`` and the caller's ``env``). The
test agents of ``tests/agents`` are importable (``sys.path`` and ``PYTHONPATH``), so a spec may name
``counting_agent:AGENT``.

Client, gateway and workers share one event loop and the machine's cores with PostgreSQL and
Temporal. End the process with ``os._exit`` after ``asyncio.run``: the Temporal runtime may abort at
interpreter exit (temporalio/sdk-python#300).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class LocalStack:
    """What a bench needs of the stack. ``up_s``: seconds from the start of :func:`local_stack` until
    PostgreSQL, Temporal and the settings environment were ready (before workers and gateway);
    ``ready_s``: until everything was, gateway and key included."""

    client: object  # temporalio.client.Client, with Shipway's workers polling its task queues
    db: object  # shipway.db.engine.Database (the login role)
    base_url: str
    http: httpx.AsyncClient
    api_key: str
    env: dict[str, str] = field(default_factory=dict)
    tmp: Path = Path()
    up_s: float = 0.0
    ready_s: float = 0.0


async def until(check: Callable, timeout_s: float, every_s: float = 0.05) -> float | None:
    """Seconds until ``await check()`` is true, or None after ``timeout_s``."""
    t0 = time.perf_counter()
    while not await check():
        if time.perf_counter() - t0 > timeout_s:
            return None
        await asyncio.sleep(every_s)
    return time.perf_counter() - t0


@asynccontextmanager
async def local_stack(env: dict[str, str] | None = None, *, prefix: str = "shipway-bench-", max_connections: int = 25,
                      timeout_s: float = 60, pool_size: int = 2) -> AsyncIterator[LocalStack]:
    """The whole stack, torn down on exit (see the module docstring).

    Args:
        env: extra settings environment (e.g. Jira's), set before anything reads the settings.
        prefix: of the temp dir.
        max_connections: of the httpx client (keep-alive connections alike).
        timeout_s: of the httpx client.
        pool_size: of the yielded Database.

    Raises:
        SystemExit: the gateway did not answer ``/healthz`` within 60 s.
    """
    started = time.perf_counter()
    agents = str(ROOT / "tests" / "agents")
    if agents not in sys.path:
        sys.path.insert(0, agents)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (agents, os.environ.get("PYTHONPATH", "")) if p)
    import uvicorn
    from temporalio.testing import WorkflowEnvironment

    from shipway.db.engine import Database
    from shipway.db.migrate import upgrade
    from shipway.gateway.app import create_app
    from shipway.settings import get_settings
    from shipway.stack.ports import free_port
    from shipway.stack.postgres import EmbeddedPostgres
    from shipway.temporal import SEARCH_ATTRIBUTES
    from tests.conftest import temporal_cli_path
    from tests.support.keys import bearer, make_key
    from tests.support.workers import running_workers

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pg")
        info = server.start(free_port(), pick_free_port=True)
        temporal = await WorkflowEnvironment.start_local(
            port=free_port(), dev_server_existing_path=temporal_cli_path(), search_attributes=SEARCH_ATTRIBUTES,
            dev_server_extra_args=["--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000"])
        try:
            upgrade(info.url)
            settings_env = dict(DATABASE_URL=info.url, TEMPORAL_ADDRESS=temporal.client.service_client.config.target_host,
                                SHIPWAY_STATE_DIR=str(Path(tmp) / "state"), **(env or {}))
            os.environ.update(settings_env)
            get_settings.cache_clear()
            up_s = time.perf_counter() - started
            async with running_workers(temporal.client) as client, Database.from_settings(pool_size=pool_size) as db:
                token = await make_key("default", "admin", "bench")
                port = free_port()
                gateway = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
                serving = asyncio.create_task(gateway.serve())
                try:
                    base_url = f"http://127.0.0.1:{port}"
                    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s, headers=bearer(token),
                                                 limits=httpx.Limits(max_connections=max_connections,
                                                                     max_keepalive_connections=max_connections)) as http:
                        async def healthy() -> bool:
                            try:
                                return (await http.get("/healthz")).status_code == 200
                            except httpx.HTTPError:
                                return False

                        if await until(healthy, 60) is None:
                            raise SystemExit("the gateway did not answer /healthz within 60 s")
                        yield LocalStack(client=client, db=db, base_url=base_url, http=http, api_key=token, env=settings_env,
                                         tmp=Path(tmp), up_s=up_s, ready_s=time.perf_counter() - started)
                finally:
                    gateway.should_exit = True
                    await serving
        finally:
            await temporal.shutdown()
            server.stop()
