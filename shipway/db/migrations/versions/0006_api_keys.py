"""API keys (bound to a tenant and a role; only a salted hash of the secret is stored) and the key
that started each run (``runs.started_by``: a ``caller`` key may read and resume only its own).

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ROLES = ("admin", "operator", "approver", "viewer", "caller")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("prefix", sa.String(length=12), nullable=False, unique=True),
        sa.Column("salt", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="ck_api_keys_role"),
    )
    op.add_column("runs", sa.Column("started_by", sa.String(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("runs", "started_by")
    op.drop_table("api_keys")
