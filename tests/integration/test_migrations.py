"""Migrations on a real PostgreSQL 18 + pgvector: a fresh database reaches the full schema, a
second upgrade changes nothing, and the revisions match the SQLModel tables."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic import command
from sqlmodel import SQLModel

import shipway.db.models  # noqa: F401  (registers the tables)
from shipway.db.migrate import alembic_config, current_revision, head_revision, upgrade

pytestmark = pytest.mark.integration

LANGGRAPH_TABLES = {"checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations"}


@pytest.fixture
def fresh_db(pg_url: str):
    """URL of a new, empty database on the session's embedded server; dropped afterwards."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _schema_snapshot(url: str) -> dict:
    """Relations, columns, indexes, extensions and migration bookkeeping of ``public``."""
    with psycopg.connect(url) as conn:
        return {
            "relations": conn.execute(
                "SELECT c.relname, c.relkind, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' ORDER BY 1"
            ).fetchall(),
            "columns": conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY 1, 2"
            ).fetchall(),
            "indexes": conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1").fetchall(),
            "extensions": conn.execute("SELECT extname, extversion FROM pg_extension ORDER BY 1").fetchall(),
            "alembic": conn.execute("SELECT version_num FROM alembic_version").fetchall(),
            "langgraph": conn.execute("SELECT v FROM checkpoint_migrations ORDER BY v").fetchall(),
        }


def test_fresh_database_gets_every_table_extension_and_index(fresh_db: str) -> None:
    assert current_revision(fresh_db) is None

    assert upgrade(fresh_db) == head_revision()

    with psycopg.connect(fresh_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        vector = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        hnsw = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_agent_versions_embedding_hnsw'"
        ).fetchone()
        embedding_type = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'agent_versions'::regclass AND attname = 'embedding'"
        ).fetchone()
    assert set(SQLModel.metadata.tables) <= tables
    assert LANGGRAPH_TABLES <= tables
    assert "alembic_version" in tables
    assert vector is not None
    assert "USING hnsw (embedding vector_cosine_ops)" in hnsw[0]
    assert "m='16'" in hnsw[0] and "ef_construction='64'" in hnsw[0]
    assert embedding_type == (f"vector({shipway.db.models.EMBEDDING_DIM})",)


def test_second_upgrade_is_a_no_op(fresh_db: str) -> None:
    upgrade(fresh_db)
    before = _schema_snapshot(fresh_db)
    upgrade(fresh_db)
    assert _schema_snapshot(fresh_db) == before


def test_revisions_match_the_models(pg_url: str) -> None:
    """Autogenerate against the migrated database finds nothing to add (raises otherwise)."""
    command.check(alembic_config(pg_url))


def test_hnsw_index_serves_cosine_nearest_neighbour_queries(pg_url: str) -> None:
    """The index is usable by the planner for ``<=>`` ordering, i.e. the opclass is right."""
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET enable_seqscan = off")
        vec = "[" + ",".join(["0.1"] * shipway.db.models.EMBEDDING_DIM) + "]"
        plan = "\n".join(
            r[0] for r in conn.execute(f"EXPLAIN SELECT id FROM agent_versions ORDER BY embedding <=> '{vec}' LIMIT 5")
        )
    assert "ix_agent_versions_embedding_hnsw" in plan


def test_0002_keeps_rows_written_under_0001(fresh_db: str) -> None:
    """Deployments keep their weight and detail, runs get their threads; downgrading restores 0001's shape."""
    command.upgrade(alembic_config(fresh_db), "0001")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO deployments (agent_name, version, strategy, target, status, workflow_id, detail, created_at) "
                     "VALUES ('a', 1, 'AllAtOnce', 'local', 'rolled_back', 'deploy:a:v1', "
                     "'{\"weight_pct\": 10.0, \"detail\": \"ERROR_RATE 0.5 > 0.05\"}', now())")
        for run_id, status, started in (("r1", "succeeded", "2026-01-01"), ("r2", "interrupted", "2026-01-02")):
            conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, status, input, workflow_id, started_at, "
                         "wait_ms, tokens_in, tokens_out, cost_usd) VALUES (%s, 'a', 1, 't1', 'default', %s, '{}', %s, %s, 0, 0, 0, 0)",
                         (run_id, status, f"run:{run_id}", started))
    upgrade(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT weight_pct, detail FROM deployments").fetchone() == (10.0, "ERROR_RATE 0.5 > 0.05")
        assert conn.execute("SELECT agent_name, active_run_id, last_run_id FROM threads WHERE thread_id = 't1'").fetchone() == ("a", "r2", "r2")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE runs SET status = 'bogus' WHERE id = 'r1'")
    command.downgrade(alembic_config(fresh_db), "0001")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT detail FROM deployments").fetchone() == ({"detail": "ERROR_RATE 0.5 > 0.05", "weight_pct": 10.0},)


def test_0004_adds_guard_results_and_the_blocked_and_withheld_run_statuses(fresh_db: str) -> None:
    """Runs written under 0003 survive; 0004 accepts ``blocked`` / ``withheld`` and one verdict per
    run stage; downgrading drops the table and refuses the new statuses again."""
    command.upgrade(alembic_config(fresh_db), "0003")
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("INSERT INTO runs (id, agent_name, version, thread_id, tenant, status, input, workflow_id, started_at, "
                     "wait_ms, tokens_in, tokens_out, cost_usd) VALUES ('r1', 'a', 1, 't1', 'default', 'succeeded', '{}', "
                     "'run:r1', now(), 0, 0, 0, 0)")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE runs SET status = 'blocked' WHERE id = 'r1'")
    upgrade(fresh_db)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("UPDATE runs SET status = 'withheld' WHERE id = 'r1'")
        insert = ("INSERT INTO guard_results (run_id, agent_name, version, stage, verdict, detail, findings, latency_ms, created_at) "
                  "VALUES ('r1', 'a', 1, 'input', 'pass', '', '{}', 1.5, now())")
        conn.execute(insert)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(insert)
        conn.execute("UPDATE runs SET status = 'succeeded' WHERE id = 'r1'")
    command.downgrade(alembic_config(fresh_db), "0003")
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT to_regclass('guard_results')").fetchone() == (None,)
        assert conn.execute("SELECT status FROM runs").fetchone() == ("succeeded",)
