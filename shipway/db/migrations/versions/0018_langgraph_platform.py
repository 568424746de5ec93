"""The LangGraph Platform API: threads made before their first run, cancelled runs, run events.

- ``threads``: a thread made with ``POST /threads`` has no agent and no run until its first run
  binds it (``agent_name``, ``last_run_id`` nullable), and carries the caller's ``metadata`` and the
  id of the key that made it (``created_by``).
- ``runs.status`` may be ``cancelled`` (``POST .../cancel``); ``runs.metadata`` is the caller's.
- ``run_events``: the chunks a run streams, in order (``id``), for any gateway process to replay
  from a client's ``Last-Event-ID`` and follow with ``LISTEN run_events``. Tenant-scoped like
  ``runs``; the gateway role reads, the workers' role writes.

Revision ID: 0018
Revises: 0017
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0018"
down_revision: Union[str, Sequence[str], None] = "0017"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

APP, PLATFORM = "shipway_app", "shipway_platform"
OLD_RUN_STATUSES = ("running", "interrupted", "succeeded", "failed", "blocked", "withheld", "budget_exceeded")
RUN_STATUSES = (*OLD_RUN_STATUSES, "cancelled")


def _in(values: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.alter_column("threads", "agent_name", nullable=True)
    op.alter_column("threads", "last_run_id", nullable=True)
    op.add_column("threads", sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    # the key that made it: a caller key sees the threads it made or ran, not another caller's
    op.add_column("threads", sa.Column("created_by", sa.String, nullable=False, server_default=""))
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.create_check_constraint("ck_runs_status", "runs", _in(RUN_STATUSES))
    op.add_column("runs", sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
    op.create_table(
        "run_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("run_id", sa.String, nullable=False),
        sa.Column("tenant", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("data", JSONB, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    )
    op.create_index("ix_run_events_run_id_id", "run_events", ["run_id", "id"])
    op.execute(f"""
        GRANT SELECT ON run_events TO {APP};
        GRANT SELECT, INSERT, UPDATE, DELETE ON run_events TO {PLATFORM};
        ALTER TABLE run_events ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant_rows ON run_events TO {APP} USING (tenant = current_setting('shipway.tenant', true));
        CREATE POLICY platform_rows ON run_events TO {PLATFORM} USING (true) WITH CHECK (true);
    """)


def downgrade() -> None:
    op.drop_table("run_events")
    op.drop_column("runs", "metadata")
    op.execute("UPDATE runs SET status = 'failed' WHERE status = 'cancelled'")
    op.drop_constraint("ck_runs_status", "runs", type_="check")
    op.create_check_constraint("ck_runs_status", "runs", _in(OLD_RUN_STATUSES))
    op.drop_column("threads", "created_by")
    op.drop_column("threads", "metadata")
    op.execute("DELETE FROM threads WHERE agent_name IS NULL OR last_run_id IS NULL")
    op.alter_column("threads", "last_run_id", nullable=False)
    op.alter_column("threads", "agent_name", nullable=False)
