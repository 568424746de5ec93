"""Rate-limit counters shared by every gateway process (one fixed-window counter per key; only
:mod:`shipway.gateway.rate_limit_storage` reads or writes them).

The table is UNLOGGED: counters need no crash safety (after a crash PostgreSQL empties it, which
only forgives the current windows), and skipping the write-ahead log makes the upsert each request
does cheaper. Unlogged tables are not replicated either, so a standby starts with no counters.
``fillfactor = 70`` leaves room on each page so the constant updates stay HOT (no index churn).

Revision ID: 0007
Revises: 0006
"""
from typing import Sequence, Union

from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.execute("""
        CREATE UNLOGGED TABLE rate_limit_counters (
            key text PRIMARY KEY,
            expires_at timestamptz NOT NULL,
            count integer NOT NULL
        ) WITH (fillfactor = 70)
    """)


def downgrade() -> None:
    op.execute("DROP TABLE rate_limit_counters")
