"""Run budgets: the budget_exceeded run status and the graph node of each LLM call.

Revision ID: 0012
Revises: 0011
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0012"
down_revision: Union[str, Sequence[str], None] = "0011"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_RUN_STATUSES = ("running", "interrupted", "succeeded", "failed", "blocked", "withheld")
RUN_STATUSES = (*OLD_RUN_STATUSES, "budget_exceeded")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.create_check_constraint("ck_runs_status", "runs", _in(RUN_STATUSES))
    # the LangGraph node that made the call; null for calls recorded before 0012
    op.add_column("llm_usage", sa.Column("node", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    op.drop_column("llm_usage", "node")
    # budget-stopped runs did end without finishing their graph: closest older status is failed
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'budget_exceeded'")
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.create_check_constraint("ck_runs_status", "runs", _in(OLD_RUN_STATUSES))
