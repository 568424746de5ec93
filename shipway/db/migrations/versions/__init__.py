"""Alembic revisions; a package so the files ship in the wheel."""
