"""Integration fixtures: a real Shipway worker (both task queues) on the test Temporal server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_asyncio

AGENTS_DIR = Path(__file__).resolve().parent.parent / "agents"


@pytest.fixture(scope="session", autouse=True)
def _test_agents_importable() -> None:
    """Make the test agents (``counting_agent``) importable here and in subprocesses."""
    sys.path.insert(0, str(AGENTS_DIR))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(AGENTS_DIR), os.environ.get("PYTHONPATH", "")) if p)


@pytest_asyncio.fixture(loop_scope="session")
async def worker(settings_env, temporal_env):
    """Shipway's workers for ``shipway-control`` and ``shipway-agents``, running in this process."""
    from shipway.worker import build_workers

    workers = build_workers(temporal_env.client)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield temporal_env.client
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        for t in tasks:
            t.cancel()
