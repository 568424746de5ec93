"""Run guards: the verdict of every guard stage of a run, and the run statuses ``blocked`` (the input
guard stopped it) and ``withheld`` (its output failed verification).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_RUN_STATUSES = ("running", "interrupted", "succeeded", "failed")
RUN_STATUSES = (*OLD_RUN_STATUSES, "blocked", "withheld")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "guard_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("agent_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("verdict", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rail", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("reason_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "stage"),
    )
    op.create_index(op.f("ix_guard_results_run_id"), "guard_results", ["run_id"], unique=False)
    op.create_index(op.f("ix_guard_results_agent_name"), "guard_results", ["agent_name"], unique=False)
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.create_check_constraint("ck_runs_status", "runs", _in(RUN_STATUSES))


def downgrade() -> None:
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.create_check_constraint("ck_runs_status", "runs", _in(OLD_RUN_STATUSES))
    op.drop_index(op.f("ix_guard_results_agent_name"), table_name="guard_results")
    op.drop_index(op.f("ix_guard_results_run_id"), table_name="guard_results")
    op.drop_table("guard_results")
