"""Slow semantic search: how the vector leg of :mod:`shipway.search` runs (``EXPLAIN (ANALYZE,
BUFFERS)``), whether the search indexes on ``agents`` exist, are valid and are used, and rebuilding
them without blocking writes. Writes no table.

The explained statement is :func:`shipway.search.search_statement`'s own vector leg with its HNSW
settings, so the diagnosis follows the search as it changes. The query text is embedded by the same
local model the search uses (the worker holds it for the index step): how much of the HNSW graph a
search visits depends on where its vector lands, so an agent's own embedding would understate it.

Rebuilds run as the login role (:func:`activities.db_health.login_connection`), which owns the
tables it migrated: ``CREATE INDEX`` needs the owner, and neither ``CREATE`` nor ``REINDEX INDEX
CONCURRENTLY`` may run inside a function or a transaction (migration 0017 says why nothing is granted).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from sqlalchemy import bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.db_health import login_connection
from pgvector.sqlalchemy import Vector
from shipway.db.engine import Database
from shipway.db.models import EMBEDDING_DIM, Agent
from shipway.search import CANDIDATES, EF_SEARCH, SETTINGS_SQL, embed_query, search_statement
from workflows.diagnostics_types import (
    INSPECT_SEARCH_INDEX,
    REBUILD_SEARCH_INDEX,
    RebuildSearchIndex,
    RebuiltSearchIndex,
    SearchIndexCheck,
    SearchIndexReport,
)

T = TypeVar("T")

HNSW_INDEX = "ix_agents_embedding_hnsw"
# The indexes the search reads, as the models (and migration 0013) define them: the only ones rebuilt.
SEARCH_INDEXES = {ix.name: ix for ix in Agent.__table__.indexes if ix.name in (HNSW_INDEX, "ix_agents_search_tsv")}
HEARTBEAT_EVERY_S = 10.0

_INDEX_STATE = text("""
SELECT i.indisvalid AS valid, pg_relation_size(i.indexrelid) AS bytes
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'agents'::regclass AND c.relname = :name
""")
_AGENTS = text("SELECT count(*) FROM agents WHERE embedding IS NOT NULL")
# whether the index is valid, on the login role's connection (no row: missing)
_VALID = """
SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'agents'::regclass AND c.relname = %(name)s
"""
# Invalid indexes to drop before a rebuild: the index itself (a failed CREATE INDEX CONCURRENTLY) and
# what an interrupted REINDEX CONCURRENTLY leaves (PostgreSQL names them <index>_ccnew[N] / _ccold[N]).
_LEFTOVERS = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = 'agents'::regclass AND NOT i.indisvalid
  AND (c.relname = %(name)s OR c.relname ~ ('^' || %(name)s || '_cc(new|old)[0-9]*$'))
"""


def create_statement(index_name: str) -> str:
    """``CREATE INDEX CONCURRENTLY`` of one of :data:`SEARCH_INDEXES`, exactly as the models define it.

    Raises:
        KeyError: not a search index.
    """
    ddl = str(CreateIndex(SEARCH_INDEXES[index_name]).compile(dialect=postgresql.dialect()))
    return "CREATE INDEX CONCURRENTLY " + ddl.removeprefix("CREATE INDEX ")


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``node`` of an ``EXPLAIN (FORMAT JSON)`` plan and every node under it, depth first."""
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def plan_text(node: dict[str, Any], depth: int = 0) -> str:
    """An ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` plan node and its children laid out as
    PostgreSQL's text format: node, index, relation, estimated cost and rows, actual times (ms), rows
    and loops, then its buffers (8 kB pages)."""
    label = node["Node Type"] + (f" using {node['Index Name']}" if "Index Name" in node else "")
    if "Relation Name" in node:
        alias = node.get("Alias")
        label += f" on {node['Relation Name']}" + (f" {alias}" if alias not in (None, node["Relation Name"]) else "")
    line = f"{label}  (cost={node['Startup Cost']:.2f}..{node['Total Cost']:.2f} rows={node['Plan Rows']})"
    if "Actual Total Time" in node:
        line += (f" (actual time={node['Actual Startup Time']:.3f}..{node['Actual Total Time']:.3f} "
                 f"rows={node['Actual Rows']:g} loops={node['Actual Loops']})")
    lines = [(" " * (6 * depth - 4) + "->  " if depth else "") + line]
    if "Shared Hit Blocks" in node:
        lines.append(" " * (6 * depth + 2) + f"Buffers: shared hit={node['Shared Hit Blocks']} read={node['Shared Read Blocks']}")
    return "\n".join(lines + [plan_text(child, depth + 1) for child in node.get("Plans", ())])


async def _beating(work: Awaitable[T], what: str) -> T:
    """Await ``work``, heartbeating ``what`` and the seconds so far every :data:`HEARTBEAT_EVERY_S`
    inside an activity; a cancelled activity cancels ``work`` (psycopg then cancels its query)."""
    task, started = asyncio.ensure_future(work), time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            if activity.in_activity():
                activity.heartbeat(f"{what}: {time.monotonic() - started:.0f} s")
    except asyncio.CancelledError:
        task.cancel()
        raise


class SearchHealthActivities:
    """Diagnosis and rebuild of the search indexes on ``agents``.

    Args:
        db: the catalog database (reads as its role; rebuilds as its login role).
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @activity.defn(name=INSPECT_SEARCH_INDEX)
    async def inspect_search_index(self, inp: SearchIndexCheck) -> SearchIndexReport:
        """Explain the search's vector leg for ``inp.query`` under ``EXPLAIN (ANALYZE, BUFFERS,
        FORMAT JSON)`` with the search's own HNSW settings, and say whether :data:`HNSW_INDEX` exists,
        is valid, is used, and would be usable were sequential scans off (a plain ``EXPLAIN``).

        Raises:
            FileNotFoundError: no embedding model is installed or configured.
        """
        embedding = await asyncio.to_thread(embed_query, inp.query)
        async with self.db.session() as s:
            index = (await s.exec(_INDEX_STATE.bindparams(name=HNSW_INDEX))).first()
            agents = (await s.exec(_AGENTS)).one()[0]
            [explained] = await self._explain(s, embedding, analyze=True)
        root = explained["Plan"]
        used = any(n.get("Index Name") == HNSW_INDEX for n in plan_nodes(root))
        usable = used or (index is not None and index.valid and await self._usable(embedding))
        return SearchIndexReport(
            index_name=HNSW_INDEX, exists=index is not None, valid=bool(index and index.valid), used_by_plan=used,
            plan=plan_text(root), execution_ms=float(explained["Execution Time"]),
            shared_hit=int(root.get("Shared Hit Blocks", 0)), shared_read=int(root.get("Shared Read Blocks", 0)), agents=int(agents), index_bytes=index.bytes if index else None,
            usable=usable)

    async def _usable(self, embedding: list[float]) -> bool:
        """Whether the planner picks :data:`HNSW_INDEX` once sequential scans are off (not executed)."""
        async with self.db.session() as s:
            await s.exec(text("SET LOCAL enable_seqscan = off"))
            [explained] = await self._explain(s, embedding, analyze=False)
        return any(n.get("Index Name") == HNSW_INDEX for n in plan_nodes(explained["Plan"]))

    @staticmethod
    async def _explain(s: AsyncSession, embedding: list[float], analyze: bool) -> list[dict[str, Any]]:
        """The JSON plan of the search's vector leg in the session's transaction, run when ``analyze``."""
        statement, params = search_statement("", embedding, {}, CANDIDATES)
        options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
        explain = text(f"EXPLAIN ({options}) {statement.text}").bindparams(bindparam("embedding", type_=Vector(EMBEDDING_DIM)))
        await s.exec(text(SETTINGS_SQL), params={"ef_search": str(max(EF_SEARCH, CANDIDATES))})
        return (await s.exec(explain, params=params)).one()[0]

    @activity.defn(name=REBUILD_SEARCH_INDEX)
    async def rebuild_search_index(self, inp: RebuildSearchIndex) -> RebuiltSearchIndex:
        """Rebuild ``inp.index_name`` while searches and writes go on: ``REINDEX INDEX CONCURRENTLY``
        when it exists and is valid, else (missing, or an invalid leftover of a failed build, which
        is dropped first) ``CREATE INDEX CONCURRENTLY`` with the models' definition. Leftovers of an
        interrupted ``REINDEX CONCURRENTLY`` are dropped too. Heartbeats while it builds.

        A concurrent build waits for every transaction open when it starts: a backend idle in a
        transaction holds it up (Connection-pool exhaustion terminates those).

        Raises:
            ApplicationError (non-retryable): ``UnknownIndex``, not one of :data:`SEARCH_INDEXES`;
                ``InsufficientPrivilege``, the login role does not own ``agents``.
        """
        if inp.index_name not in SEARCH_INDEXES:
            raise ApplicationError(f"{inp.index_name!r} is not a search index; one of {', '.join(SEARCH_INDEXES)}",
                                   type="UnknownIndex", non_retryable=True)
        async with login_connection(self.db) as conn:
            try:
                action, duration = await _rebuild(conn, inp.index_name)
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ApplicationError(f"the login role may not rebuild {inp.index_name}: {exc}", type="InsufficientPrivilege",
                                       non_retryable=True) from exc
            valid = await (await conn.execute(_VALID, {"name": inp.index_name})).fetchone()
        return RebuiltSearchIndex(action=action, duration_s=duration, valid=bool(valid and valid["indisvalid"]))


async def _rebuild(conn: psycopg.AsyncConnection, name: str) -> tuple[str, float]:
    """Drop ``name``'s invalid leftovers, then reindex or create it; returns the action and how long
    the build took (seconds)."""
    for row in await (await conn.execute(_LEFTOVERS, {"name": name})).fetchall():
        drop = sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(row["relname"]))
        await _beating(conn.execute(drop), f"dropping invalid {row['relname']}")
    found = await (await conn.execute(_VALID, {"name": name})).fetchone()
    started = time.monotonic()
    if found is not None:
        await _beating(conn.execute(sql.SQL("REINDEX INDEX CONCURRENTLY {}").format(sql.Identifier(name))), f"reindexing {name}")
        return "reindexed", time.monotonic() - started
    await _beating(conn.execute(create_statement(name)), f"creating {name}")
    return "created", time.monotonic() - started
