"""Shipway's real workers running inside a test process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager


@asynccontextmanager
async def running_workers(client, queues: Sequence[str] | None = None) -> AsyncIterator:
    """Shipway's real workers for ``queues`` (default: both task queues) running in this process;
    yields ``client``."""
    from shipway.worker import build_workers

    workers = build_workers(client, queues) if queues else build_workers(client)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield client
    finally:
        await asyncio.gather(*(w.shutdown() for w in workers))
        for t in tasks:
            t.cancel()
