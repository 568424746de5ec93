"""Alembic migrations of the catalog schema (env.py, versions/)."""
