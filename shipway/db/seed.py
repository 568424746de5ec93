"""Reference data ``shipway migrate`` writes: the list prices of LLM models (``model_prices``), from
``shipway/model_prices.yaml`` through :func:`shipway.price_book.seed_prices`.

A price is added only where its model has no price over any of the same days: an admin's prices (or
ones seeded before) are never overwritten.
"""

from __future__ import annotations

from sqlalchemy import create_engine, pool
from sqlmodel import Session

from shipway.db.engine import sqlalchemy_url
from shipway.price_book import seed_prices
from shipway.pricing import FILE_PRICES


def seed_model_prices(database_url: str) -> int:
    """Insert the price file's prices (per million tokens, with dates, currency and source) that the
    table lacks.

    Returns:
        How many rows were added.

    Raises:
        sqlalchemy.exc.OperationalError: the database cannot be reached.
    """
    # a short-lived engine: migrate runs once per process start, a pool would outlive it
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with Session(engine) as s:
            added = seed_prices(s, FILE_PRICES)
            s.commit()
    finally:
        engine.dispose()
    return added
