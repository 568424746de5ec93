"""Deployment analyses: every canary analysis of a rollout, its verdict and each metric against its
threshold, queryable by the console and the ``progress`` query's readers.

Revision ID: 0010
Revises: 0009
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: Union[str, Sequence[str], None] = "0009"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "deployment_analyses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workflow_id", sa.String(), nullable=False),
        sa.Column("analysis_index", sa.Integer(), nullable=False),
        sa.Column("agent_name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("baseline_version", sa.Integer(), nullable=True),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("weight_pct", sa.Float(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(), nullable=False),
        sa.Column("canary", postgresql.JSONB(), nullable=False),
        sa.Column("baseline", postgresql.JSONB(), nullable=True),
        sa.UniqueConstraint("workflow_id", "analysis_index", name="uq_deployment_analyses_workflow_index"),
    )
    op.create_index("ix_deployment_analyses_agent_name", "deployment_analyses", ["agent_name"])


def downgrade() -> None:
    op.drop_table("deployment_analyses")
