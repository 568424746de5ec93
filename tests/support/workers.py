"""Shipway's real workers, inside a test process or as a subprocess a test can kill."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path


@asynccontextmanager
async def running_workers(client, queues: Sequence[str] | None = None) -> AsyncIterator:
    """Shipway's real workers for ``queues`` (default: both task queues) running in this process,
    with their resources closed afterwards; yields ``client``."""
    from shipway.worker import QUEUES, build_workers

    async with build_workers(client, queues or QUEUES):
        yield client


def agents_worker_process(log: Path) -> subprocess.Popen:
    """``shipway worker --queue shipway-agents`` as a subprocess in its own session (kill it with
    ``os.killpg``), output appended to ``log``; it inherits the test's settings environment."""
    return subprocess.Popen([sys.executable, "-m", "shipway", "worker", "--queue", "shipway-agents"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
