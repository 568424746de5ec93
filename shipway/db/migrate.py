"""Bring a database to the current schema: LangGraph's checkpoint tables, Alembic revisions, then
LangGraph's store tables."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from langgraph.checkpoint.postgres import PostgresSaver
from sqlalchemy import create_engine, pool

from shipway.db.engine import sqlalchemy_url
from shipway.db.seed import seed_model_prices
from shipway.graph_store import setup_graph_store

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Serialises concurrent upgrades (several workers or gateways starting at once); any fixed bigint.
_ADVISORY_LOCK_KEY = 0x5348_4950_5741_59  # "SHIPWAY"


def alembic_config(database_url: str) -> Config:
    """An Alembic :class:`Config` for Shipway's migrations against ``database_url`` (``postgresql://``)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates '%', which URL-encoded passwords contain.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest Alembic revision id shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("postgresql://unused/unused")).get_current_head()


def current_revision(database_url: str) -> str | None:
    """The Alembic revision the database is at, or None when it was never migrated."""
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def upgrade(database_url: str) -> str:
    """Create/upgrade LangGraph's checkpoint tables (``PostgresSaver.setup()``), apply all Alembic
    revisions up to head, create/upgrade the graphs' store tables (:func:`shipway.graph_store.setup_graph_store`)
    and seed missing model prices. Idempotent; concurrent callers wait on an advisory lock.

    Args:
        database_url: ``postgresql://`` URL of the catalog database.

    Returns:
        The Alembic revision the database is at afterwards (head).

    Raises:
        psycopg.OperationalError: the database cannot be reached.
        alembic.util.CommandError: the database is at a revision this code does not know.
    """
    with psycopg.connect(database_url, autocommit=True) as lock_conn:
        lock_conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK_KEY,))
        try:
            # checkpoint tables first: the row-level security revision (0008) puts policies on them
            with PostgresSaver.from_conn_string(database_url) as saver:
                saver.setup()
            command.upgrade(alembic_config(database_url), "head")
            # store tables after Alembic: revision 0001 creates the vector extension they need, and
            # 0008's default privileges give the workers' role (shipway_platform) access to them
            setup_graph_store(database_url)
            seed_model_prices(database_url)
        finally:
            lock_conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK_KEY,))
    return current_revision(database_url)
