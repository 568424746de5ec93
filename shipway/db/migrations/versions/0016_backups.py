"""Base backups (issue 14): ``backups``, one row per base backup taken (full or incremental, its WAL
range, where it lives, whether ``pg_verifybackup`` passed, when it was pruned). Platform data, no
tenant: the workers' role writes it (activities/backups.py only); the gateway's role gets nothing.
The same facts are kept on disk next to each backup (``shipway_backup.json``), since a restore must
find backups when this database is gone.

Revision ID: 0016
Revises: 0015
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: Union[str, Sequence[str], None] = "0015"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PLATFORM = "shipway_platform"


def upgrade() -> None:
    op.create_table(
        "backups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(), nullable=False, server_default=""),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("s3_url", sa.String(), nullable=True),
        sa.Column("start_lsn", sa.String(), nullable=False),
        sa.Column("stop_lsn", sa.String(), nullable=False),
        sa.Column("start_wal", sa.String(), nullable=False),
        sa.Column("timeline", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verify_detail", sa.String(), nullable=False, server_default=""),
        sa.Column("temporal_db_copied", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("started_by", sa.String(), nullable=False, server_default=""),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('full', 'incremental')", name="ck_backups_kind"),
        sa.CheckConstraint("(kind = 'full') = (parent_id IS NULL)", name="ck_backups_parent"),
    )
    op.create_index("ix_backups_started_at", "backups", ["started_at"])
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON backups TO {PLATFORM}")


def downgrade() -> None:
    op.drop_index("ix_backups_started_at", table_name="backups")
    op.drop_table("backups")
