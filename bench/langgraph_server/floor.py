"""The floor: the credit graph run in-process with ``AsyncPostgresSaver`` alone (no Temporal, no gateway).

What durable runs cost at the least on this machine: the same graph Shipway and the LangGraph dev
server run, checkpointed to the stack's PostgreSQL with LangGraph's own saver, unencrypted. Each run
gets a new ``thread_id`` (``bench-floor-<uuid>``) in the checkpoint tables our migrations created;
nothing else is written, and those threads are deleted again when the block ends.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Literal

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from reference_agents.credit_underwriting.graph import build_graph

# the worker's checkpointer pool size (activities.graph_runner.GraphActivities)
POOL_SIZE = 30
THREAD_PREFIX = "bench-floor-"


class Floor:
    """The credit graph compiled with ``saver``; hands out run callables and remembers their threads."""

    def __init__(self, saver: AsyncPostgresSaver) -> None:
        self._saver = saver
        self._graph = build_graph({}).compile(checkpointer=saver)
        self._threads: list[str] = []

    def runner(self, durability: Literal["async", "exit"]) -> Callable[[dict], Awaitable[str]]:
        """``run(input) -> "succeeded" | "interrupted"``: one first pass of the graph on a new thread.

        Args:
            durability: ``"async"`` (LangGraph's default: a checkpoint per step, written while the
                next step runs) or ``"exit"`` (one checkpoint when the run ends or interrupts).
        """
        async def run(inp: dict) -> str:
            thread_id = f"{THREAD_PREFIX}{uuid.uuid4()}"
            self._threads.append(thread_id)
            out = await self._graph.ainvoke(inp, {"configurable": {"thread_id": thread_id}}, durability=durability)
            return "interrupted" if "__interrupt__" in out else "succeeded"

        return run

    async def delete_threads(self) -> None:
        """Delete every thread this floor created (checkpoints, blobs, writes), ``POOL_SIZE`` at a time."""
        sem = asyncio.Semaphore(POOL_SIZE)

        async def delete(thread_id: str) -> None:
            async with sem:
                await self._saver.adelete_thread(thread_id)

        await asyncio.gather(*(delete(t) for t in self._threads))
        self._threads.clear()


@asynccontextmanager
async def open_floor(database_url: str) -> AsyncIterator[Floor]:
    """A :class:`Floor` on a connection pool to ``database_url`` set up as the worker's checkpointer
    pool (autocommit, no prepared statements, dict rows, at most ``POOL_SIZE`` connections); its
    threads are deleted and the pool closed when the block ends.

    Raises:
        psycopg.OperationalError, psycopg_pool.PoolTimeout: the database cannot be reached.
    """
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    async with AsyncConnectionPool(database_url, min_size=2, max_size=POOL_SIZE, kwargs=kwargs, open=False) as pool:
        await pool.wait()
        floor = Floor(AsyncPostgresSaver(pool))
        try:
            yield floor
        finally:
            await floor.delete_threads()
