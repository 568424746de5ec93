"""Alembic environment: Shipway's catalog tables (``SQLModel.metadata`` of :mod:`shipway.db.models`).

The URL comes from the Alembic config (``sqlalchemy.url``, set by :func:`shipway.db.migrate.upgrade`)
or else from the settings. LangGraph's checkpoint tables live in the same database but are
owned by ``PostgresSaver.setup()``, so autogenerate ignores tables absent from the models.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import shipway.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from shipway.db.engine import sqlalchemy_url

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from shipway.settings import get_settings

        url = get_settings().resolved_database_url()
    return sqlalchemy_url(url)


def include_object(obj, name, type_, reflected, compare_to):
    """Skip database tables that no model declares (LangGraph's checkpoint tables)."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations on a live connection, in one transaction."""
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
