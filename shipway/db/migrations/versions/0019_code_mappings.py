"""DAG -> code mapping jobs: ``code_mappings``, one row per plan node of a finished job.

A job is a run of a ``dag_mapping`` agent; its rows are keyed by (``run_id``, ``node_id``) so a
retried write replaces rather than repeats them. Tenant-scoped like ``runs``: the gateway role reads
its tenant's rows, the workers' role writes.

Revision ID: 0019
Revises: 0018
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0019"
down_revision: Union[str, Sequence[str], None] = "0018"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APP, PLATFORM = "shipway_app", "shipway_platform"


def upgrade() -> None:
    op.create_table(
        "code_mappings",
        sa.Column("run_id", sa.String, primary_key=True),
        sa.Column("node_id", sa.String, primary_key=True),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("analysis_id", sa.String, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("operator", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("path", sa.String, nullable=True),
        sa.Column("symbol", sa.String, nullable=True),
        sa.Column("start_line", sa.Integer, nullable=True),
        sa.Column("end_line", sa.Integer, nullable=True),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("band", sa.String, nullable=False),
        sa.Column("explanation", sa.String, nullable=False),
        sa.Column("alternatives", JSONB, nullable=False),
        sa.Column("children", JSONB, nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("reviewed_by", sa.String, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_code_mappings_tenant", "code_mappings", ["tenant"])
    op.create_index("ix_code_mappings_analysis_id", "code_mappings", ["analysis_id"])
    op.execute(f"""
        GRANT SELECT ON code_mappings TO {APP};
        GRANT SELECT, INSERT, UPDATE, DELETE ON code_mappings TO {PLATFORM};
        ALTER TABLE code_mappings ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant_rows ON code_mappings TO {APP} USING (tenant = current_setting('shipway.tenant', true));
        CREATE POLICY platform_rows ON code_mappings TO {PLATFORM} USING (true) WITH CHECK (true);
    """)


def downgrade() -> None:
    op.drop_table("code_mappings")
