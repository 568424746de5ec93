"""Statuses checked against their enums, failure reasons on versions, approval channels,
deployment weight and detail as columns, and conversation threads.

- agent_versions: ``status_detail`` (why it failed, was rejected or rolled back), ``submitted_by``;
  CHECK on ``status``.
- approvals: ``channel`` (signal | update).
- deployments: ``weight_pct`` and ``detail`` (text) instead of a JSON blob; ``workflow_id`` unique
  (one row per rollout workflow); CHECK on ``status``.
- runs: CHECK on ``status``.
- threads: which agent and tenant a conversation thread belongs to, and which run holds it.

Revision ID: 0002
Revises: 0001
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

VERSION_STATUSES = ("submitted", "validating", "guarding", "scaffolding", "scaffolded", "indexing", "awaiting_approval",
                    "deploying", "live", "superseded", "rejected", "expired", "rolled_back", "failed")
DEPLOYMENT_STATES = ("in_progress", "paused", "succeeded", "rolled_back", "aborted", "failed")
RUN_STATUSES = ("running", "interrupted", "succeeded", "failed")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.add_column("agent_versions", sa.Column("status_detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
    op.add_column("agent_versions", sa.Column("submitted_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))
    op.alter_column("agent_versions", "status_detail", server_default=None)
    op.alter_column("agent_versions", "submitted_by", server_default=None)
    op.create_check_constraint("ck_agent_versions_status", "agent_versions", _in(VERSION_STATUSES))

    op.add_column("approvals", sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="signal"))
    op.alter_column("approvals", "channel", server_default=None)

    op.add_column("deployments", sa.Column("weight_pct", sa.Float(), nullable=False, server_default="0"))
    op.execute("UPDATE deployments SET weight_pct = coalesce((detail->>'weight_pct')::float, 0)")
    op.alter_column("deployments", "weight_pct", server_default=None)
    op.alter_column("deployments", "detail", type_=sqlmodel.sql.sqltypes.AutoString(), existing_nullable=False,
                    postgresql_using="coalesce(detail->>'detail', '')")
    op.create_unique_constraint("deployments_workflow_id_key", "deployments", ["workflow_id"])
    op.create_check_constraint("ck_deployments_status", "deployments", _in(DEPLOYMENT_STATES))

    op.create_check_constraint("ck_runs_status", "runs", _in(RUN_STATUSES))

    op.create_table(
        "threads",
        sa.Column("thread_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("agent_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tenant", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("active_run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("last_run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("thread_id"),
    )
    op.create_index(op.f("ix_threads_agent_name"), "threads", ["agent_name"], unique=False)
    # threads of runs recorded before this revision: the run that used a thread last owns it
    op.execute(
        """
        INSERT INTO threads (thread_id, agent_name, tenant, active_run_id, last_run_id, created_at, updated_at)
        SELECT DISTINCT ON (thread_id) thread_id, agent_name, tenant,
               CASE WHEN status IN ('running', 'interrupted') THEN id END, id, started_at, started_at
        FROM runs ORDER BY thread_id, started_at DESC
        """
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_threads_agent_name"), table_name="threads")
    op.drop_table("threads")
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.drop_constraint("ck_deployments_status", "deployments", type_="check")
    op.drop_constraint("deployments_workflow_id_key", "deployments", type_="unique")
    op.alter_column("deployments", "detail", type_=sa.dialects.postgresql.JSONB(), existing_nullable=False,
                    postgresql_using="jsonb_build_object('detail', detail, 'weight_pct', weight_pct)")
    op.drop_column("deployments", "weight_pct")
    op.drop_column("approvals", "channel")
    op.drop_constraint("ck_agent_versions_status", "agent_versions", type_="check")
    op.drop_column("agent_versions", "submitted_by")
    op.drop_column("agent_versions", "status_detail")
