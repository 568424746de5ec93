"""Reference data ``shipway migrate`` writes: the list prices of LLM models (``model_prices``).

It is the only writer of that table besides an operator's own SQL: missing models are added,
existing rows (an operator's negotiated prices) are never overwritten.
"""

from __future__ import annotations

import psycopg

from shipway.pricing import DEFAULT_PRICES


def seed_model_prices(database_url: str) -> int:
    """Insert the list prices (US dollars per million tokens) for models the table lacks.

    Returns:
        How many rows were added.

    Raises:
        psycopg.OperationalError: the database cannot be reached.
    """
    with psycopg.connect(database_url, autocommit=True) as conn:
        added = 0
        for model, (inp, out) in DEFAULT_PRICES.items():
            cur = conn.execute(
                "INSERT INTO model_prices (model, input_usd_per_mtok, output_usd_per_mtok) VALUES (%s, %s, %s) "
                "ON CONFLICT (model) DO NOTHING", (model, inp, out))
            added += cur.rowcount
    return added
