"""Runbook runs and their steps (issue 14): ``runbook_runs`` (one row per runbook workflow run,
with its final report) and ``runbook_steps`` (one row per step: findings, the proposed change, who
confirmed or skipped it, what it changed). Platform data, no tenant: the workers' role writes them;
the gateway's tenant-scoped role gets nothing.

Revision ID: 0015
Revises: 0014
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0015"
down_revision: Union[str, Sequence[str], None] = "0014"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

PLATFORM = "shipway_platform"
RUN_STATUSES = ("running", "waiting", "completed", "failed")
STEP_STATUSES = ("running", "done", "failed", "awaiting_confirmation", "escalated", "confirmed", "skipped",
                 "timed_out", "not_needed")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "runbook_runs",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("runbook", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("started_by", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False, server_default=""),
        sa.Column("subject", sa.String(), nullable=True),
        sa.Column("params", JSONB(), nullable=False, server_default="{}"),
        sa.Column("summary", sa.String(), nullable=False, server_default=""),
        sa.Column("report", JSONB(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in(RUN_STATUSES), name="ck_runbook_runs_status"),
    )
    op.create_index("ix_runbook_runs_started_at", "runbook_runs", ["started_at"])
    op.create_table(
        "runbook_steps",
        sa.Column("run_id", sa.String(), sa.ForeignKey("runbook_runs.id"), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("findings", JSONB(), nullable=False, server_default="{}"),
        sa.Column("proposal", sa.String(), nullable=False, server_default=""),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("result", JSONB(), nullable=True),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in(STEP_STATUSES), name="ck_runbook_steps_status"),
    )
    for table in ("runbook_runs", "runbook_steps"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO {PLATFORM}")


def downgrade() -> None:
    op.drop_table("runbook_steps")
    op.drop_index("ix_runbook_runs_started_at", table_name="runbook_runs")
    op.drop_table("runbook_runs")
