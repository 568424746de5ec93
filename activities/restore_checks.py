"""What a restored database must pass before anyone relies on it (the drill's and the Restore runbook's
checks): row counts against the source at the recovery point, the audit chain, a LangGraph
checkpoint read back, and one real graph execution.

Row counts compare the append-style tables by their own timestamps (``count(*) WHERE ts <=
recovery_point`` on both sides). A transaction that was in flight at the recovery point can hold a
row stamped before it but committed after it: the source counts that row, the restore (which
stopped before the commit) does not. With commit timestamps on (``track_commit_timestamp``), the
rows of the source whose current version committed after the point are counted as well, and the
restore passes when it holds between ``source - those`` and ``source`` rows; anything else is a
problem.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime

import psycopg
from sqlalchemy import create_engine, pool
from sqlmodel import Session

from activities.artifact_loader import ArtifactCache
from activities.artifact_store import PostgresArtifactStore, store_from_settings
from activities.audit_log import chain_pages, verify_chain
from activities.graph_runner import GraphActivities
from shipway import queries
from shipway.checkpoint_crypto import EncryptedAsyncPostgresSaver, encrypted_serde
from shipway.db.engine import Database, sqlalchemy_url
from shipway.settings import Settings
from workflows.statuses import RunStatus

# table -> the column that says when a row was written (rows are only appended, or updated in place)
APPEND_TABLES = {"runs": "started_at", "audit_events": "ts", "agent_versions": "created_at", "llm_usage": "created_at"}
AGENT_RUN_TIMEOUT_S = 300.0
NO_SOURCE = -1


async def row_counts(url: str, point: datetime | None) -> dict[str, int]:
    """Rows of each :data:`APPEND_TABLES` table stamped at or before ``point`` (all rows when None)."""
    out = {}
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
        for table, column in APPEND_TABLES.items():
            where = f"WHERE {column} <= %(point)s" if point else ""
            out[table] = (await (await conn.execute(f"SELECT count(*) FROM {table} {where}", {"point": point})).fetchone())[0]
    return out


async def committed_after(url: str, point: datetime) -> dict[str, int]:
    """Rows of each table stamped at or before ``point`` whose current version committed after it
    (``{}`` when the server keeps no commit timestamps)."""
    out = {}
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10, autocommit=True) as conn:
        if (await (await conn.execute("SHOW track_commit_timestamp")).fetchone())[0] != "on":
            return {}
        for table, column in APPEND_TABLES.items():
            sql = (f"SELECT count(*) FROM {table} WHERE {column} <= %(point)s "
                   "AND pg_xact_commit_timestamp(xmin) > %(point)s")
            out[table] = (await (await conn.execute(sql, {"point": point})).fetchone())[0]
    return out


def audit_chain(url: str) -> tuple[bool, int, int | None]:
    """Walk the restored audit chain as ``shipway audit verify`` does (blocking).

    Returns:
        ``(intact, events walked, id of the first broken event or None)``.
    """
    engine = create_engine(sqlalchemy_url(url), poolclass=pool.NullPool)
    walked = 0
    try:
        with Session(engine) as s:
            def counted():
                nonlocal walked
                for ev in chain_pages(lambda after, limit: queries.audit_events_after(s, after, limit)):
                    walked += 1
                    yield ev

            intact, broken = verify_chain(counted())
    finally:
        engine.dispose()
    return intact, walked, broken


async def read_checkpoint(url: str, settings: Settings) -> tuple[bool, str | None]:
    """Load the newest LangGraph checkpoint (decrypting its channel values with the configured keys).

    Returns:
        ``(read, problem)``: ``(False, None)`` when the database holds no checkpoint.
    """
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
        row = await (await conn.execute(
            "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints ORDER BY checkpoint_id DESC LIMIT 1")).fetchone()
    if row is None:
        return False, None
    thread_id, ns, checkpoint_id = row
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}
    try:
        async with EncryptedAsyncPostgresSaver.from_conn_string(url, serde=encrypted_serde(settings)) as saver:
            loaded = await saver.aget_tuple(config)
    except Exception as exc:  # a key or serialization failure: report it, do not crash the verification
        return False, f"checkpoint {checkpoint_id} of thread {thread_id} could not be read: {type(exc).__name__}: {exc}"
    if loaded is None or loaded.checkpoint["id"] != checkpoint_id:
        return False, f"checkpoint {checkpoint_id} of thread {thread_id} is listed but does not load"
    return True, None


async def _live_agent(url: str) -> tuple[str, int, dict | None, str | None] | None:
    """``(agent, live version, its spec, input of its newest succeeded run or None)`` of the first live agent."""
    async with await psycopg.AsyncConnection.connect(url, connect_timeout=10) as conn:
        row = await (await conn.execute(
            "SELECT a.name, a.live_version, v.spec FROM agents a JOIN agent_versions v "
            "ON v.agent_name = a.name AND v.version = a.live_version AND v.artifact_sha256 IS NOT NULL "
            "ORDER BY a.name LIMIT 1")).fetchone()
        if row is None:
            return None
        name, version, spec = row
        last = await (await conn.execute(
            "SELECT input FROM runs WHERE agent_name = %s AND version = %s AND status = %s ORDER BY started_at DESC LIMIT 1",
            (name, version, RunStatus.SUCCEEDED.value))).fetchone()
    return name, version, spec, last[0] if last else None


def _sample_input(spec: dict) -> dict | None:
    """A run input from the agent template's own data, when its template is known here."""
    from reference_agents.registry import UnknownTemplateError, get_agent

    try:
        samples = get_agent(spec.get("template") or "").sample_inputs(1)
    except UnknownTemplateError:
        return None
    return samples[0] if samples else None


async def agent_run(url: str, settings: Settings) -> tuple[str, str | None]:
    """Execute one live agent's graph once against the restored database: its artifact from the
    restored artifact store (or S3 when that is the store), checkpoints on the restored database, the
    input of its newest succeeded run (else a sample of its template). The thread it used is deleted
    afterwards, so a restore that becomes production keeps nothing of the check.

    Returns:
        ``(what happened, problem or None)``; no live agent, or no known input, is not a problem.
    """
    found = await _live_agent(url)
    if found is None:
        return "not run: no live agent in the restored database", None
    name, version, spec, inp = found
    inp = inp or _sample_input(spec)
    if inp is None:
        return f"not run: no succeeded run of {name} v{version} and no sample input for its template", None
    store = PostgresArtifactStore(url) if settings.artifact_store.strip() in ("", "postgres", "postgresql") else store_from_settings(settings)
    db = Database(url, pool_size=2, max_overflow=0)
    graphs = GraphActivities(db, ArtifactCache(settings.resolved_artifact_cache_dir, store.get), settings.llm, pool_size=2,
                             serde=encrypted_serde(settings))
    thread_id = f"restore-check-{uuid.uuid4()}"
    try:
        c = await graphs.compiled(name, version)
        config = {"configurable": {"thread_id": thread_id, "model": c.model, "run_id": thread_id}}
        await asyncio.wait_for(c.graph.ainvoke(c.validated_input(inp), config), AGENT_RUN_TIMEOUT_S)
        state = await c.graph.aget_state(config)
        await c.graph.checkpointer.adelete_thread(thread_id)
        if state.interrupts:
            return f"ok: {name} v{version} -> interrupted for a human (as its graph asks)", None
        output = json.dumps(c.output(state.values), default=str, sort_keys=True)
        return f"ok: {name} v{version} -> {output[:300]}", None
    except Exception as exc:  # any failure of the agent's code or its artifact is the finding
        what = f"failed: {name} v{version}: {type(exc).__name__}: {exc}"
        return what, f"agent run {what}"
    finally:
        await graphs.close()
        await db.dispose()
