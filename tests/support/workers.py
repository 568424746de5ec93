"""Shipway's real workers running inside a test process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager


@asynccontextmanager
async def running_workers(client, queues: Sequence[str] | None = None) -> AsyncIterator:
    """Shipway's real workers for ``queues`` (default: both task queues) running in this process,
    with their resources closed afterwards; yields ``client``."""
    from shipway.worker import QUEUES, build_workers

    async with build_workers(client, queues or QUEUES):
        yield client
