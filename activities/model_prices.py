"""The model price table in PostgreSQL (``model_prices``, USD per million tokens).

``shipway migrate`` seeds it with the list prices in ``activities/model_prices.yaml`` for models
not priced yet (an operator's own rows are never overwritten); runs are priced from the table.
"""

from __future__ import annotations

import time

import psycopg
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.llm_usage import DEFAULT_PRICES
from shipway.db.engine import async_engine
from shipway.db.models import ModelPrice

_CACHE_TTL_S = 60.0
_cache: dict[str, tuple[float, dict[str, tuple[float, float]]]] = {}


def seed_model_prices(database_url: str) -> int:
    """Insert the default list prices for models the table lacks; returns how many were added."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        added = 0
        for model, (inp, out) in DEFAULT_PRICES.items():
            cur = conn.execute(
                "INSERT INTO model_prices (model, input_usd_per_mtok, output_usd_per_mtok) VALUES (%s, %s, %s) "
                "ON CONFLICT (model) DO NOTHING", (model, inp, out))
            added += cur.rowcount
    return added


async def current_prices() -> dict[str, tuple[float, float]]:
    """``{model: (input, output USD per million tokens)}`` from the table, cached for a minute;
    the packaged defaults when the table is empty."""
    from shipway.settings import get_settings

    url = get_settings().resolved_database_url()
    hit = _cache.get(url)
    if hit and time.monotonic() - hit[0] < _CACHE_TTL_S:
        return hit[1]
    async with AsyncSession(async_engine(), expire_on_commit=False) as session:
        rows = (await session.exec(select(ModelPrice))).all()
    prices = {r.model: (r.input_usd_per_mtok, r.output_usd_per_mtok) for r in rows} or dict(DEFAULT_PRICES)
    _cache[url] = (time.monotonic(), prices)
    return prices
